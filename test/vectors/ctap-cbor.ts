/** CBOR vectors: RFC 8949 Appendix A, and the CTAP 2.0 §5 example messages. */
import { CborSimple, CborTag } from '../../src/ctap/cbor.js';
import { fromHex } from '../../src/core/index.js';

/** One encoded example: `value` is what we decode it to; `canonical` says our encoder makes it. */
export interface CborVector {
  readonly hex: string;
  readonly value: unknown;
  /** True when encodeCbor(value) gives exactly `hex` (false for floats with integer values etc.). */
  readonly canonical: boolean;
}

const m = (entries: [string | number, unknown][]): Map<string | number, unknown> =>
  new Map(entries);
const range = (a: number, b: number): number[] =>
  Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** RFC 8949 Appendix A, Table 6 (definite-length, no tags, no floats). */
export const rfc8949Canonical: readonly CborVector[] = [
  { hex: '00', value: 0, canonical: true },
  { hex: '01', value: 1, canonical: true },
  { hex: '0a', value: 10, canonical: true },
  { hex: '17', value: 23, canonical: true },
  { hex: '1818', value: 24, canonical: true },
  { hex: '1819', value: 25, canonical: true },
  { hex: '1864', value: 100, canonical: true },
  { hex: '1903e8', value: 1000, canonical: true },
  { hex: '1a000f4240', value: 1000000, canonical: true },
  { hex: '1b000000e8d4a51000', value: 1000000000000, canonical: true },
  { hex: '1bffffffffffffffff', value: 18446744073709551615n, canonical: true },
  { hex: '3bffffffffffffffff', value: -18446744073709551616n, canonical: true },
  { hex: '20', value: -1, canonical: true },
  { hex: '29', value: -10, canonical: true },
  { hex: '3863', value: -100, canonical: true },
  { hex: '3903e7', value: -1000, canonical: true },
  { hex: 'f4', value: false, canonical: true },
  { hex: 'f5', value: true, canonical: true },
  { hex: 'f6', value: null, canonical: true },
  { hex: 'f7', value: undefined, canonical: true },
  { hex: '40', value: new Uint8Array(0), canonical: true },
  { hex: '4401020304', value: new Uint8Array([1, 2, 3, 4]), canonical: true },
  { hex: '60', value: '', canonical: true },
  { hex: '6161', value: 'a', canonical: true },
  { hex: '6449455446', value: 'IETF', canonical: true },
  { hex: '62225c', value: '"\\', canonical: true },
  { hex: '62c3bc', value: '\u00fc', canonical: true },
  { hex: '63e6b0b4', value: '\u6c34', canonical: true },
  { hex: '64f0908591', value: '\u{10151}', canonical: true },
  { hex: '80', value: [], canonical: true },
  { hex: '83010203', value: [1, 2, 3], canonical: true },
  { hex: '8301820203820405', value: [1, [2, 3], [4, 5]], canonical: true },
  {
    hex: '98190102030405060708090a0b0c0d0e0f101112131415161718181819',
    value: range(1, 25),
    canonical: true,
  },
  { hex: 'a0', value: m([]), canonical: true },
  {
    hex: 'a201020304',
    value: m([
      [1, 2],
      [3, 4],
    ]),
    canonical: true,
  },
  {
    hex: 'a26161016162820203',
    value: m([
      ['a', 1],
      ['b', [2, 3]],
    ]),
    canonical: true,
  },
  { hex: '826161a161626163', value: ['a', m([['b', 'c']])], canonical: true },
  {
    hex: 'a56161614161626142616361436164614461656145',
    value: m([
      ['a', 'A'],
      ['b', 'B'],
      ['c', 'C'],
      ['d', 'D'],
      ['e', 'E'],
    ]),
    canonical: true,
  },
];

/** RFC 8949 Appendix A, Table 6: floats (CTAP never uses them; decoded with allowFloats). */
export const rfc8949Floats: readonly CborVector[] = [
  { hex: 'f90000', value: 0, canonical: false },
  { hex: 'f98000', value: -0, canonical: true },
  { hex: 'f93c00', value: 1, canonical: false },
  { hex: 'fb3ff199999999999a', value: 1.1, canonical: true },
  { hex: 'f93e00', value: 1.5, canonical: true },
  { hex: 'f97bff', value: 65504, canonical: false },
  { hex: 'fa47c35000', value: 100000, canonical: false },
  { hex: 'fa7f7fffff', value: 3.4028234663852886e38, canonical: false },
  { hex: 'fb7e37e43c8800759c', value: 1.0e300, canonical: false },
  { hex: 'f90001', value: 5.960464477539063e-8, canonical: true },
  { hex: 'f90400', value: 0.00006103515625, canonical: true },
  { hex: 'f9c400', value: -4, canonical: false },
  { hex: 'fbc010666666666666', value: -4.1, canonical: true },
  { hex: 'f97c00', value: Infinity, canonical: true },
  { hex: 'f97e00', value: NaN, canonical: true },
  { hex: 'f9fc00', value: -Infinity, canonical: true },
  { hex: 'fa7f800000', value: Infinity, canonical: false },
  { hex: 'fa7fc00000', value: NaN, canonical: false },
  { hex: 'faff800000', value: -Infinity, canonical: false },
  { hex: 'fb7ff0000000000000', value: Infinity, canonical: false },
  { hex: 'fb7ff8000000000000', value: NaN, canonical: false },
  { hex: 'fbfff0000000000000', value: -Infinity, canonical: false },
];

/** RFC 8949 Appendix A, Table 6: tags and simple values (rejected in canonical mode). */
export const rfc8949Tagged: readonly CborVector[] = [
  {
    hex: 'c249010000000000000000',
    value: new CborTag(2, fromHex('010000000000000000')),
    canonical: true,
  },
  {
    hex: 'c349010000000000000000',
    value: new CborTag(3, fromHex('010000000000000000')),
    canonical: true,
  },
  { hex: 'f0', value: new CborSimple(16), canonical: true },
  { hex: 'f8ff', value: new CborSimple(255), canonical: true },
  {
    hex: 'c074323031332d30332d32315432303a30343a30305a',
    value: new CborTag(0, '2013-03-21T20:04:00Z'),
    canonical: true,
  },
  { hex: 'c11a514b67b0', value: new CborTag(1, 1363896240), canonical: true },
  { hex: 'c1fb41d452d9ec200000', value: new CborTag(1, 1363896240.5), canonical: true },
  { hex: 'd74401020304', value: new CborTag(23, new Uint8Array([1, 2, 3, 4])), canonical: true },
  { hex: 'd818456449455446', value: new CborTag(24, fromHex('6449455446')), canonical: true },
  {
    hex: 'd82076687474703a2f2f7777772e6578616d706c652e636f6d',
    value: new CborTag(32, 'http://www.example.com'),
    canonical: true,
  },
];

/** RFC 8949 Appendix A, Table 7: indefinite-length items (never canonical). */
export const rfc8949Indefinite: readonly CborVector[] = [
  { hex: '5f42010243030405ff', value: new Uint8Array([1, 2, 3, 4, 5]), canonical: false },
  { hex: '7f657374726561646d696e67ff', value: 'streaming', canonical: false },
  { hex: '9fff', value: [], canonical: false },
  { hex: '9f018202039f0405ffff', value: [1, [2, 3], [4, 5]], canonical: false },
  { hex: '9f01820203820405ff', value: [1, [2, 3], [4, 5]], canonical: false },
  { hex: '83018202039f0405ff', value: [1, [2, 3], [4, 5]], canonical: false },
  { hex: '83019f0203ff820405', value: [1, [2, 3], [4, 5]], canonical: false },
  {
    hex: '9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff',
    value: range(1, 25),
    canonical: false,
  },
  {
    hex: 'bf61610161629f0203ffff',
    value: m([
      ['a', 1],
      ['b', [2, 3]],
    ]),
    canonical: false,
  },
  { hex: '826161bf61626163ff', value: ['a', m([['b', 'c']])], canonical: false },
  {
    hex: 'bf6346756ef563416d7421ff',
    value: m([
      ['Fun', true],
      ['Amt', -2],
    ]),
    canonical: false,
  },
];

/**
 * The authenticatorGetInfo response example of CTAP 2.0 §5.4 (the CBOR after the status byte):
 * versions U2F_V2 and FIDO_2_0, extensions uvm and hmac-secret, an AAGUID, four options,
 * maxMsgSize 1200, pinProtocols [1].
 */
export const ctapGetInfoExample = {
  hex:
    'a60182665532465f5632684649444f5f325f3002826375766d6b686d61632d7365637265740350f8a011f38c0a4d' +
    '15800617111f9edc7d04a462726bf5627570f564706c6174f469636c69656e7450696ef4051904b0068101',
  value: m([
    [1, ['U2F_V2', 'FIDO_2_0']],
    [2, ['uvm', 'hmac-secret']],
    [3, fromHex('f8a011f38c0a4d15800617111f9edc7d')],
    [
      4,
      m([
        ['rk', true],
        ['up', true],
        ['plat', false],
        ['clientPin', false],
      ]),
    ],
    [5, 1200],
    [6, [1]],
  ]),
} as const;

/**
 * The authenticatorMakeCredential request example of CTAP 2.0 §5.1 (the CBOR after the command
 * byte 0x01): ES256 and RS256, rk true.
 */
export const ctapMakeCredentialExample = {
  hex:
    'a5015820687134968222ec17202e42505f8ed2b16ae22f16bb05b88c25db9e602645f14102a26269646b657861' +
    '6d706c652e636f6d646e616d656441636d6503a462696458203082019330820138a0030201023082019330820138' +
    'a0030201023082019330826469636f6e782b68747470733a2f2f706963732e6578616d706c652e636f6d2f30302f' +
    '702f61426a6a6a707150622e706e67646e616d65766a6f686e70736d697468406578616d706c652e636f6d6b6469' +
    '73706c61794e616d656d4a6f686e20502e20536d6974680482a263616c672664747970656a7075626c69632d6b65' +
    '79a263616c6739010064747970656a7075626c69632d6b657907a162726bf5',
  value: m([
    [1, fromHex('687134968222ec17202e42505f8ed2b16ae22f16bb05b88c25db9e602645f141')],
    [
      2,
      m([
        ['id', 'example.com'],
        ['name', 'Acme'],
      ]),
    ],
    [
      3,
      m([
        ['id', fromHex('3082019330820138a0030201023082019330820138a003020102308201933082')],
        ['icon', 'https://pics.example.com/00/p/aBjjjpqPb.png'],
        ['name', 'johnpsmith@example.com'],
        ['displayName', 'John P. Smith'],
      ]),
    ],
    [
      4,
      [
        m([
          ['alg', -7],
          ['type', 'public-key'],
        ]),
        m([
          ['alg', -257],
          ['type', 'public-key'],
        ]),
      ],
    ],
    [7, m([['rk', true]])],
  ]),
} as const;

/** Hostile inputs for the strict decoder, each with why it must fail (hand-checked). */
export const cborHostile: readonly { readonly hex: string; readonly why: string }[] = [
  { hex: '', why: 'empty input' },
  { hex: '1817', why: 'integer 23 in a one-byte argument (not shortest)' },
  { hex: '190017', why: 'integer 23 in a two-byte argument' },
  { hex: '1a000000ff', why: 'integer 255 in a four-byte argument' },
  { hex: '1b00000000ffffffff', why: 'integer 2^32-1 in an eight-byte argument' },
  { hex: '3817', why: 'negative integer not in shortest form' },
  { hex: '5801ff', why: 'byte string length not in shortest form' },
  { hex: '1c', why: 'reserved additional information 28' },
  { hex: '5f4101ff', why: 'indefinite-length byte string' },
  { hex: '9fff', why: 'indefinite-length array' },
  { hex: 'bfff', why: 'indefinite-length map' },
  { hex: 'ff', why: 'a lone break' },
  { hex: '0000', why: 'trailing bytes' },
  { hex: '4401', why: 'byte string shorter than its length' },
  { hex: '5bffffffffffffffff', why: 'byte string claims 2^64-1 bytes (length bomb)' },
  { hex: '9affffffff', why: 'array claims 2^32-1 items (length bomb)' },
  { hex: 'baffffffff', why: 'map claims 2^32-1 entries (length bomb)' },
  { hex: 'a2616201616101', why: 'map keys out of order' },
  { hex: 'a2616101616102', why: 'duplicate map key' },
  { hex: 'a2010203', why: 'truncated map' },
  { hex: 'a2616101186401', why: 'key 100 after "a" (same length, bytewise larger first)' },
  { hex: 'a21864010a02', why: 'key 10 after 100 (length-first order puts the shorter first)' },
  { hex: 'a1400a', why: 'byte string as a map key' },
  { hex: 'a1f40a', why: 'boolean as a map key' },
  { hex: '62c328', why: 'invalid UTF-8 in a text string' },
  { hex: 'c100', why: 'a tag' },
  { hex: 'f93c00', why: 'a float' },
  { hex: 'f0', why: 'unassigned simple value' },
  { hex: 'f818', why: 'simple value 24 in two bytes (not well-formed)' },
  { hex: '81'.repeat(20) + '00', why: 'nested deeper than the limit' },
];

/**
 * The authenticatorGetAssertion request example of CTAP 2.0 §5.2 (the CBOR after the command byte
 * 0x02): two allowed credentials (64 and 50 bytes) and the uv option.
 */
export const ctapGetAssertionExample = {
  hex:
    'a4016b6578616d706c652e636f6d025820687134968222ec17202e42505f8ed2b16ae22f16bb05b88c25db9e6026' +
    '45f1410382a26269645840f22006de4f905af68a43942f024f2a5ece603d9c6d4b3df8be08ed01fc442646d03485' +
    '8ac75bed3fd580bf9808d94fcbee82b9b2ef6677af0adcc35852ea6b9e64747970656a7075626c69632d6b6579a2' +
    '6269645832' +
    '03'.repeat(50) +
    '64747970656a7075626c69632d6b657905a1627576f5',
  value: m([
    [1, 'example.com'],
    [2, fromHex('687134968222ec17202e42505f8ed2b16ae22f16bb05b88c25db9e602645f141')],
    [
      3,
      [
        m([
          [
            'id',
            fromHex(
              'f22006de4f905af68a43942f024f2a5ece603d9c6d4b3df8be08ed01fc442646' +
                'd034858ac75bed3fd580bf9808d94fcbee82b9b2ef6677af0adcc35852ea6b9e',
            ),
          ],
          ['type', 'public-key'],
        ]),
        m([
          ['id', new Uint8Array(50).fill(3)],
          ['type', 'public-key'],
        ]),
      ],
    ],
    [5, m([['uv', true]])],
  ]),
} as const;

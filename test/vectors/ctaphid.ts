/** CTAPHID packet vectors, hand-checked against the layouts of CTAP 2.1 §11.2.4 and §11.2.9. */

const zeros = (n: number): string => '00'.repeat(n);

/** One packetize() case: `reports` as hex, each 64 bytes. */
export interface CtapHidPacketVector {
  readonly name: string;
  readonly cid: number;
  readonly cmd: number;
  readonly payloadHex: string;
  readonly reports: readonly string[];
}

export const ctapHidPacketVectors: readonly CtapHidPacketVector[] = [
  {
    // §11.2.9.1.3: INIT on the broadcast channel with an 8-byte nonce; 0x86 = 0x80 | INIT.
    name: 'broadcast INIT with nonce 0001020304050607',
    cid: 0xffffffff,
    cmd: 0x06,
    payloadHex: '0001020304050607',
    reports: ['ffffffff860008' + '0001020304050607' + zeros(49)],
  },
  {
    // §11.2.9.2.1: KEEPALIVE (0xbb) with status UPNEEDED (2).
    name: 'KEEPALIVE UPNEEDED',
    cid: 0x01020304,
    cmd: 0x3b,
    payloadHex: '02',
    reports: ['01020304bb000102' + zeros(56)],
  },
  {
    // §11.2.9.1.6: ERROR (0xbf) with ERR_CHANNEL_BUSY (6).
    name: 'ERROR CHANNEL_BUSY',
    cid: 0xcafe0001,
    cmd: 0x3f,
    payloadHex: '06',
    reports: ['cafe0001bf000106' + zeros(56)],
  },
  {
    name: 'empty WINK',
    cid: 0x00000001,
    cmd: 0x08,
    payloadHex: '',
    reports: ['00000001880000' + zeros(57)],
  },
  {
    // 57 bytes fill the init packet exactly: no continuation.
    name: 'PING of 57 bytes: exactly one packet',
    cid: 0x11223344,
    cmd: 0x01,
    payloadHex: 'ab'.repeat(57),
    reports: ['11223344810039' + 'ab'.repeat(57)],
  },
  {
    // 58 bytes: 57 in the init packet, 1 in continuation SEQ 0, zero padded.
    name: 'PING of 58 bytes: one continuation',
    cid: 0x11223344,
    cmd: 0x01,
    payloadHex: 'ab'.repeat(57) + 'cd',
    reports: ['1122334481003a' + 'ab'.repeat(57), '1122334400' + 'cd' + zeros(58)],
  },
  {
    // 57 + 59 + 1 = 117 bytes: SEQ 0 full, SEQ 1 with one byte.
    name: 'CBOR of 117 bytes: two continuations',
    cid: 0x80000001,
    cmd: 0x10,
    payloadHex: '01'.repeat(57) + '02'.repeat(59) + '03',
    reports: [
      '80000001900075' + '01'.repeat(57),
      '8000000100' + '02'.repeat(59),
      '8000000101' + '03' + zeros(58),
    ],
  },
];

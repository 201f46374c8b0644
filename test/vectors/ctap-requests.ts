/**
 * Malformed and refused CTAP2 requests, each with the status CTAP 2.1 assigns (§6.1.2, §6.2.2,
 * §6.5.5, §6.8, §8), for an authenticator with no PIN set and no credentials. `hex` is the
 * CTAPHID_CBOR payload: the command byte, then the CBOR parameters (hand-encoded, diagnostic
 * notation in `note`).
 */
export interface CtapRequestVector {
  readonly name: string;
  readonly hex: string;
  readonly status: number;
  readonly note: string;
}

// A 32-byte clientDataHash of 0x11s, as CBOR: 58 20 then 32 bytes.
const CDH = '5820' + '11'.repeat(32);
// rp {"id": "a.example"}
const RP = 'a1626964' + '69612e6578616d706c65';
// user {"id": h'01'}
const USER = 'a16269644101';
// [{"alg": -7, "type": "public-key"}]
const ES256 = '81a263616c672664747970656a7075626c69632d6b6579';

export const ctapRequestVectors: readonly CtapRequestVector[] = [
  { name: 'unknown command 0x55', hex: '55', status: 0x01, note: '§8.2 CTAP1_ERR_INVALID_COMMAND' },
  { name: 'getInfo with parameters', hex: '04a0', status: 0x03, note: 'getInfo takes none' },
  { name: 'truncated map', hex: '01a201', status: 0x12, note: '{1: <missing>' },
  { name: 'trailing byte', hex: '01a000', status: 0x12, note: '{} 0x00' },
  { name: 'indefinite map', hex: '01bfff', status: 0x12, note: '{_ }' },
  { name: 'keys out of order', hex: '01a2020101' + '01', status: 0x12, note: '{2: 1, 1: 1}' },
  { name: 'duplicate keys', hex: '01a201010101', status: 0x12, note: '{1: 1, 1: 1}' },
  { name: 'non-shortest integer', hex: '01a1180101', status: 0x12, note: '{1(as 0x1801): 1}' },
  { name: 'parameters not a map', hex: '0180', status: 0x11, note: '[]' },
  {
    name: 'nested five deep',
    hex: '01a10181818181' + '00',
    status: 0x12,
    note: '{1: [[[[0]]]]} exceeds 4 levels',
  },
  { name: 'a float', hex: '01a101f93c00', status: 0x12, note: '{1: 1.0}' },
  { name: 'a tag', hex: '01a101c100', status: 0x12, note: '{1: 1(0)}' },
  {
    name: 'makeCredential without clientDataHash',
    hex: `01a302${RP}03${USER}04${ES256}`,
    status: 0x14,
    note: '{2: rp, 3: user, 4: params}',
  },
  {
    name: 'makeCredential with clientDataHash as text',
    hex: `01a4016178` + `02${RP}03${USER}04${ES256}`,
    status: 0x11,
    note: '{1: "x", ...}',
  },
  {
    name: 'makeCredential with only RS256',
    hex:
      `01a401${CDH}02${RP}03${USER}04` + '81a263616c673901006474797065' + '6a7075626c69632d6b6579',
    status: 0x26,
    note: '{4: [{"alg": -257, "type": "public-key"}]}',
  },
  {
    name: 'makeCredential with rp.id missing',
    hex: `01a401${CDH}02a003${USER}04${ES256}`,
    status: 0x14,
    note: '{2: {}}',
  },
  {
    name: 'makeCredential with up=false',
    hex: `01a501${CDH}02${RP}03${USER}04${ES256}07a1627570f4`,
    status: 0x2c,
    note: '{7: {"up": false}}',
  },
  {
    name: 'makeCredential with a pinUvAuthParam and no protocol',
    hex: `01a501${CDH}02${RP}03${USER}04${ES256}08` + '50' + '00'.repeat(16),
    status: 0x14,
    note: "{8: h'00 x16'}",
  },
  {
    name: 'getAssertion for an RP with no credentials',
    hex: '02a201' + '69612e6578616d706c65' + `02${CDH}`,
    status: 0x2e,
    note: '{1: "a.example", 2: cdh}',
  },
  {
    name: 'getAssertion with rk option',
    hex: '02a301' + '69612e6578616d706c65' + `02${CDH}` + '05a162726bf5',
    status: 0x2b,
    note: '{5: {"rk": true}}',
  },
  { name: 'getNextAssertion with nothing to continue', hex: '08', status: 0x30, note: '§6.3' },
  { name: 'clientPIN without subCommand', hex: '06a10102', status: 0x14, note: '{1: 2}' },
  {
    name: 'clientPIN unknown subCommand',
    hex: '06a20102021818',
    status: 0x3e,
    note: '{1: 2, 2: 24}',
  },
  { name: 'clientPIN protocol 3', hex: '06a201030202', status: 0x02, note: '{1: 3, 2: 2}' },
  {
    name: 'getPinToken with a keyAgreement point not on the curve',
    hex:
      '06a4' +
      '0102' +
      '0205' +
      '03a5' +
      '0102' +
      '033818' +
      '2001' +
      '215820' +
      '00'.repeat(32) +
      '225820' +
      '00'.repeat(32) +
      '0650' +
      '00'.repeat(16),
    status: 0x02,
    note: "{1: 2, 2: 5, 3: {1: 2, 3: -25, -1: 1, -2: h'00..', -3: h'00..'}, 6: h'00 x16'}",
  },
  { name: 'credentialManagement without a token', hex: '0aa10101', status: 0x36, note: '{1: 1}' },
  {
    name: 'credentialManagement next with nothing begun',
    hex: '0aa10103',
    status: 0x30,
    note: '{1: 3}',
  },
];

// CTAP1/U2F over CTAPHID_MSG: register and authenticate APDUs, status words, signatures checked
// with node:crypto against the attestation certificate and the registered public key.
import { X509Certificate, createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { concatBytes, toBase64Url, utf8 } from '../../src/core/index.js';
import { makeChip, type Host } from './harness.js';

const sha256 = (b: Uint8Array): Uint8Array =>
  new Uint8Array(createHash('sha256').update(b).digest());
const APP = sha256(utf8('mitid-erhverv.example'));

/** An extended-length APDU (U2F raw messages §3.1.2... ISO 7816-4). */
function apdu(ins: number, p1: number, data: Uint8Array): Uint8Array {
  return concatBytes(
    Uint8Array.of(0, ins, p1, 0, 0, data.length >> 8, data.length & 0xff),
    data,
    Uint8Array.of(0, 0),
  );
}

/** Length of the DER item at the start of `b`. */
function derLength(b: Uint8Array): number {
  const l = b[1]!;
  if (l < 0x80) return 2 + l;
  const n = l & 0x7f;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + b[2 + i]!;
  return 2 + n + len;
}

function registerU2f(host: Host, app = APP) {
  const challenge = new Uint8Array(randomBytes(32));
  const r = host.apdu(apdu(0x01, 0x03, concatBytes(challenge, app)));
  expect(r.sw).toBe(0x9000);
  const d = r.data;
  expect(d[0]).toBe(0x05);
  const pub = d.subarray(1, 66);
  const khLen = d[66]!;
  const kh = d.subarray(67, 67 + khLen);
  const certStart = 67 + khLen;
  const certLen = derLength(d.subarray(certStart));
  const cert = d.subarray(certStart, certStart + certLen);
  const sig = d.subarray(certStart + certLen);
  // Registration signature: 0x00 ‖ app ‖ challenge ‖ key handle ‖ public key, by the attestation key.
  const x509 = new X509Certificate(cert);
  expect(
    verify('sha256', concatBytes(Uint8Array.of(0), app, challenge, kh, pub), x509.publicKey, sig),
  ).toBe(true);
  const userKey = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: toBase64Url(pub.subarray(1, 33)),
      y: toBase64Url(pub.subarray(33)),
    },
    format: 'jwk',
  });
  return { kh: new Uint8Array(kh), userKey };
}

describe('U2F', () => {
  it('VERSION answers U2F_V2, in short and extended encodings', () => {
    const { host } = makeChip();
    for (const a of [
      Uint8Array.of(0, 3, 0, 0),
      Uint8Array.of(0, 3, 0, 0, 0),
      Uint8Array.of(0, 3, 0, 0, 0, 0, 0),
    ]) {
      const r = host.apdu(a);
      expect(r.sw).toBe(0x9000);
      expect(new TextDecoder().decode(r.data)).toBe('U2F_V2');
    }
  });
  it('registers and authenticates; the counter rises; signatures verify', () => {
    const { host } = makeChip();
    const { kh, userKey } = registerU2f(host);
    let last = -1;
    for (let i = 0; i < 2; i++) {
      const challenge = new Uint8Array(randomBytes(32));
      const r = host.apdu(
        apdu(0x02, 0x03, concatBytes(challenge, APP, Uint8Array.of(kh.length), kh)),
      );
      expect(r.sw).toBe(0x9000);
      const flags = r.data.subarray(0, 1);
      const counter = r.data.subarray(1, 5);
      expect(flags[0]).toBe(1);
      const n = new DataView(counter.buffer, counter.byteOffset).getUint32(0);
      expect(n).toBeGreaterThan(last);
      last = n;
      expect(
        verify('sha256', concatBytes(APP, flags, counter, challenge), userKey, r.data.subarray(5)),
      ).toBe(true);
    }
  });
  it('check-only says 6985 for our key handle, 6A80 for another app or a foreign handle', () => {
    const { host } = makeChip();
    const { kh } = registerU2f(host);
    const ch = new Uint8Array(32);
    const check = (app: Uint8Array, h: Uint8Array) =>
      host.apdu(apdu(0x02, 0x07, concatBytes(ch, app, Uint8Array.of(h.length), h))).sw;
    expect(check(APP, kh)).toBe(0x6985);
    expect(check(sha256(utf8('other.example')), kh)).toBe(0x6a80);
    expect(check(APP, new Uint8Array(kh.length))).toBe(0x6a80);
  });
  it('dont-enforce-user-presence (0x08) signs with the UP flag clear', () => {
    const { host } = makeChip('u2f-nup', 'deny');
    host.fw.upMode = 'auto';
    const { kh } = registerU2f(host);
    host.fw.upMode = 'deny';
    const r = host.apdu(
      apdu(0x02, 0x08, concatBytes(new Uint8Array(32), APP, Uint8Array.of(kh.length), kh)),
    );
    expect(r.sw).toBe(0x9000);
    expect(r.data[0]).toBe(0);
    expect(
      host.apdu(
        apdu(0x02, 0x03, concatBytes(new Uint8Array(32), APP, Uint8Array.of(kh.length), kh)),
      ).sw,
    ).toBe(0x6985);
  });
  it('manual: 6985 until the button was pressed, then one operation goes through', () => {
    const { host, fw } = makeChip('u2f-manual', 'manual');
    const reg = apdu(0x01, 0x03, concatBytes(new Uint8Array(32), APP));
    expect(host.apdu(reg).sw).toBe(0x6985);
    fw.pressButton();
    expect(host.apdu(reg).sw).toBe(0x9000);
    expect(host.apdu(reg).sw).toBe(0x6985);
  });
  it('bad APDUs: CLA 6E00, INS 6D00, lengths 6700', () => {
    const { host } = makeChip();
    expect(host.apdu(Uint8Array.of(0x80, 3, 0, 0)).sw).toBe(0x6e00);
    expect(host.apdu(Uint8Array.of(0, 0x44, 0, 0)).sw).toBe(0x6d00);
    expect(host.apdu(Uint8Array.of(0, 1)).sw).toBe(0x6700);
    expect(host.apdu(apdu(0x01, 0x03, new Uint8Array(10))).sw).toBe(0x6700);
    expect(host.apdu(apdu(0x02, 0x03, new Uint8Array(70))).sw).toBe(0x6700);
    expect(host.apdu(Uint8Array.of(0, 1, 3, 0, 0, 0, 64, 1, 2)).sw).toBe(0x6700);
  });
  it('a U2F credential answers a CTAP2 getAssertion for the RP whose hash is its application', () => {
    const { host } = makeChip();
    const { kh } = registerU2f(host);
    const a = host.ctap(
      0x02,
      new Map<number, unknown>([
        [1, 'mitid-erhverv.example'],
        [2, new Uint8Array(32)],
        [
          3,
          [
            new Map<string, unknown>([
              ['id', kh],
              ['type', 'public-key'],
            ]),
          ],
        ],
      ]),
    );
    expect(a.status).toBe(0);
  });
});

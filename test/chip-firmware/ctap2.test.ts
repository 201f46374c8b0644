// The chip firmware's CTAP2 commands, driven over CTAPHID in-process, checked by
// @simplewebauthn/server as an independent relying party where it applies.
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyAuthenticationResponse, verifyRegistrationResponse } from '@simplewebauthn/server';
import { concatBytes, fromHex, toBase64Url, toHex, utf8 } from '../../src/core/index.js';
import { decodeCborPrefix, encodeCbor, type CborMap } from '../../src/ctap/cbor.js';
import { CtapStatus } from '../../src/ctap/status.js';
import { packetize } from '../../src/ctap/ctaphid.js';
import { CHIP_AAGUID, ChipFirmware } from '../../firmware-sim/chip/index.js';
import { Platform, makeChip, type Host } from './harness.js';

const RP = 'mitid-erhverv.example';
const ORIGIN = `https://${RP}`;
const sha256 = (b: Uint8Array): Uint8Array =>
  new Uint8Array(createHash('sha256').update(b).digest());

function clientData(type: 'webauthn.create' | 'webauthn.get', challenge: Uint8Array): Uint8Array {
  return utf8(
    JSON.stringify({ type, challenge: toBase64Url(challenge), origin: ORIGIN, crossOrigin: false }),
  );
}

interface McOptions {
  rpId?: string;
  userId?: Uint8Array;
  rk?: boolean;
  extensions?: Map<string, unknown>;
  excludeList?: Uint8Array[];
  pinUvAuthParam?: Uint8Array;
  protocol?: number;
  clientDataHash?: Uint8Array;
  algs?: number[];
}

function mcParams(o: McOptions = {}): Map<number, unknown> {
  const m = new Map<number, unknown>([
    [1, o.clientDataHash ?? sha256(clientData('webauthn.create', randomBytes(32)))],
    [
      2,
      new Map([
        ['id', o.rpId ?? RP],
        ['name', 'MitID Erhverv'],
      ]),
    ],
    [
      3,
      new Map<string, unknown>([
        ['id', o.userId ?? utf8('user-1')],
        ['name', 'anna@example.dk'],
        ['displayName', 'Anna Testesen'],
      ]),
    ],
    [
      4,
      (o.algs ?? [-7]).map(
        (alg) =>
          new Map<string, unknown>([
            ['alg', alg],
            ['type', 'public-key'],
          ]),
      ),
    ],
  ]);
  if (o.excludeList)
    m.set(
      5,
      o.excludeList.map(
        (id) =>
          new Map<string, unknown>([
            ['id', id],
            ['type', 'public-key'],
          ]),
      ),
    );
  if (o.extensions) m.set(6, o.extensions);
  if (o.rk) m.set(7, new Map([['rk', true]]));
  if (o.pinUvAuthParam) m.set(8, o.pinUvAuthParam);
  if (o.protocol !== undefined) m.set(9, o.protocol);
  return m;
}

interface GaOptions {
  rpId?: string;
  allowList?: Uint8Array[];
  up?: boolean;
  extensions?: Map<string, unknown>;
  pinUvAuthParam?: Uint8Array;
  protocol?: number;
  clientDataHash?: Uint8Array;
}

function gaParams(o: GaOptions = {}): Map<number, unknown> {
  const m = new Map<number, unknown>([
    [1, o.rpId ?? RP],
    [2, o.clientDataHash ?? sha256(clientData('webauthn.get', randomBytes(32)))],
  ]);
  if (o.allowList)
    m.set(
      3,
      o.allowList.map(
        (id) =>
          new Map<string, unknown>([
            ['id', id],
            ['type', 'public-key'],
          ]),
      ),
    );
  if (o.extensions) m.set(4, o.extensions);
  if (o.up !== undefined) m.set(5, new Map([['up', o.up]]));
  if (o.pinUvAuthParam) m.set(6, o.pinUvAuthParam);
  if (o.protocol !== undefined) m.set(7, o.protocol);
  return m;
}

/** Parses authenticator data (WebAuthn §6.1). */
function parseAuthData(ad: Uint8Array): {
  rpIdHash: Uint8Array;
  flags: number;
  signCount: number;
  aaguid?: Uint8Array;
  credentialId?: Uint8Array;
  publicKey?: Uint8Array;
  extensions?: CborMap;
} {
  const flags = ad[32]!;
  const out: ReturnType<typeof parseAuthData> = {
    rpIdHash: ad.subarray(0, 32),
    flags,
    signCount: new DataView(ad.buffer, ad.byteOffset).getUint32(33),
  };
  let off = 37;
  if (flags & 0x40) {
    out.aaguid = ad.subarray(off, off + 16);
    const len = (ad[off + 16]! << 8) | ad[off + 17]!;
    out.credentialId = ad.subarray(off + 18, off + 18 + len);
    off += 18 + len;
    const pk = decodeCborPrefix(ad, off);
    out.publicKey = ad.subarray(off, pk.end);
    off = pk.end;
  }
  if (flags & 0x80) {
    const ex = decodeCborPrefix(ad, off);
    out.extensions = ex.value as CborMap;
    off = ex.end;
  }
  expect(off).toBe(ad.length);
  return out;
}

/** Registers through the chip and verifies the registration with @simplewebauthn/server. */
async function register(host: Host, o: McOptions = {}) {
  const challenge = new Uint8Array(randomBytes(32));
  const cdj = clientData('webauthn.create', challenge);
  const a = host.ctap(0x01, mcParams({ ...o, clientDataHash: sha256(cdj) }));
  expect(a.status).toBe(0);
  const fmt = a.body!.get(1) as string;
  const authData = a.body!.get(2) as Uint8Array;
  const attStmt = a.body!.get(3) as CborMap;
  const attestationObject = encodeCbor(
    new Map<string, unknown>([
      ['fmt', fmt],
      ['attStmt', attStmt],
      ['authData', authData],
    ]),
  );
  const parsed = parseAuthData(authData);
  const id = toBase64Url(parsed.credentialId!);
  const v = await verifyRegistrationResponse({
    response: {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON: toBase64Url(cdj),
        attestationObject: toBase64Url(attestationObject),
        transports: ['usb'],
      },
      clientExtensionResults: {},
    },
    expectedChallenge: toBase64Url(challenge),
    expectedOrigin: ORIGIN,
    expectedRPID: o.rpId ?? RP,
    requireUserVerification: false,
  });
  expect(v.verified).toBe(true);
  expect(v.registrationInfo!.fmt).toBe('packed');
  expect(v.registrationInfo!.aaguid).toBe(
    CHIP_AAGUID.replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5'),
  );
  return {
    parsed,
    authData,
    attStmt,
    credentialId: parsed.credentialId!,
    publicKey: parsed.publicKey!,
  };
}

/** Gets an assertion and verifies it with @simplewebauthn/server. */
async function authenticate(
  host: Host,
  cred: { credentialId: Uint8Array; publicKey: Uint8Array },
  o: GaOptions = {},
  counter = 0,
) {
  const challenge = new Uint8Array(randomBytes(32));
  const cdj = clientData('webauthn.get', challenge);
  const a = host.ctap(
    0x02,
    gaParams({ allowList: [cred.credentialId], ...o, clientDataHash: sha256(cdj) }),
  );
  expect(a.status).toBe(0);
  const authData = a.body!.get(2) as Uint8Array;
  const signature = a.body!.get(3) as Uint8Array;
  const id = toBase64Url(cred.credentialId);
  const v = await verifyAuthenticationResponse({
    response: {
      id,
      rawId: id,
      type: 'public-key',
      response: {
        clientDataJSON: toBase64Url(cdj),
        authenticatorData: toBase64Url(authData),
        signature: toBase64Url(signature),
      },
      clientExtensionResults: {},
    },
    expectedChallenge: toBase64Url(challenge),
    expectedOrigin: ORIGIN,
    expectedRPID: o.rpId ?? RP,
    credential: { id, publicKey: new Uint8Array(cred.publicKey), counter },
    requireUserVerification: false,
  });
  expect(v.verified).toBe(true);
  return {
    answer: a,
    authData: parseAuthData(authData),
    newCounter: v.authenticationInfo.newCounter,
  };
}

describe('authenticatorGetInfo', () => {
  it('reports versions, extensions, AAGUID, options, sizes, protocols and transports', () => {
    const { host } = makeChip();
    const a = host.ctap(0x04);
    expect(a.status).toBe(0);
    const info = a.body!;
    expect(info.get(1)).toEqual(['U2F_V2', 'FIDO_2_0', 'FIDO_2_1']);
    expect(info.get(2)).toEqual(['credProtect', 'hmac-secret']);
    expect(toHex(info.get(3) as Uint8Array)).toBe(CHIP_AAGUID);
    expect(Object.fromEntries(info.get(4) as Map<string, boolean>)).toEqual({
      rk: true,
      up: true,
      plat: false,
      credMgmt: true,
      clientPin: false,
      pinUvAuthToken: true,
      makeCredUvNotRqd: true,
    });
    expect(info.get(5)).toBe(1200);
    expect(info.get(6)).toEqual([2, 1]);
    expect(info.get(9)).toEqual(['usb']);
    expect((info.get(10) as CborMap[]).map((m) => m.get('alg'))).toEqual([-7, -8]);
  });
  it('answers an unknown command CTAP1_ERR_INVALID_COMMAND and bad CBOR CTAP2_ERR_INVALID_CBOR', () => {
    const { host } = makeChip();
    expect(host.exchange(0x10, Uint8Array.of(0x55)).payload).toEqual(
      Uint8Array.of(CtapStatus.CTAP1_ERR_INVALID_COMMAND),
    );
    expect(host.exchange(0x10, Uint8Array.of(0x01, 0xa1, 0x01)).payload).toEqual(
      Uint8Array.of(CtapStatus.CTAP2_ERR_INVALID_CBOR),
    );
    // Keys out of canonical order.
    expect(host.exchange(0x10, fromHex('01a2020101 01'.replace(/ /g, ''))).payload).toEqual(
      Uint8Array.of(CtapStatus.CTAP2_ERR_INVALID_CBOR),
    );
    expect(host.exchange(0x10, Uint8Array.of(0x01, 0x80)).payload).toEqual(
      Uint8Array.of(CtapStatus.CTAP2_ERR_CBOR_UNEXPECTED_TYPE),
    );
  });
});

describe('makeCredential and getAssertion', () => {
  it('registers with packed attestation that @simplewebauthn/server verifies, then asserts', async () => {
    const { host } = makeChip();
    const cred = await register(host);
    expect(cred.parsed.flags & 0x45).toBe(0x41); // UP and AT, no UV
    expect(cred.credentialId.length).toBeLessThanOrEqual(128);
    const x5c = cred.attStmt.get('x5c') as Uint8Array[];
    expect(x5c).toHaveLength(1);
    const first = await authenticate(host, cred, {}, cred.parsed.signCount);
    expect(first.authData.flags & 0x05).toBe(0x01);
    // One global counter: every signature moves it on.
    expect(first.newCounter).toBe(cred.parsed.signCount + 1);
    const second = await authenticate(host, cred, {}, first.newCounter);
    expect(second.newCounter).toBe(first.newCounter + 1);
  });
  it('EdDSA (Ed25519) when the RP prefers it: registration and assertions verify', async () => {
    const { host } = makeChip('eddsa');
    const cred = await register(host, { algs: [-8, -7] });
    const cose = decodeCborPrefix(cred.publicKey).value as CborMap;
    expect(cose.get(3)).toBe(-8);
    expect(cose.get(-1)).toBe(6);
    await authenticate(host, cred, {}, cred.parsed.signCount);
    // The RP's order decides: ES256 first gives ES256.
    const es = await register(host, { algs: [-7, -8] });
    expect((decodeCborPrefix(es.publicKey).value as CborMap).get(3)).toBe(-7);
  });
  it('rejects missing parameters, wrong types and unsupported algorithms with their statuses', () => {
    const { host } = makeChip();
    const p = mcParams();
    p.delete(1);
    expect(host.ctap(0x01, p).status).toBe(CtapStatus.CTAP2_ERR_MISSING_PARAMETER);
    const q = mcParams();
    q.set(1, 'not bytes');
    expect(host.ctap(0x01, q).status).toBe(CtapStatus.CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
    expect(host.ctap(0x01, mcParams({ algs: [-257] })).status).toBe(
      CtapStatus.CTAP2_ERR_UNSUPPORTED_ALGORITHM,
    );
    const up = mcParams();
    up.set(7, new Map([['up', false]]));
    expect(host.ctap(0x01, up).status).toBe(CtapStatus.CTAP2_ERR_INVALID_OPTION);
    const uv = mcParams();
    uv.set(7, new Map([['uv', true]]));
    expect(host.ctap(0x01, uv).status).toBe(CtapStatus.CTAP2_ERR_INVALID_OPTION);
    expect(host.ctap(0x01, mcParams({ pinUvAuthParam: new Uint8Array(16) })).status).toBe(
      CtapStatus.CTAP2_ERR_MISSING_PARAMETER,
    );
    expect(
      host.ctap(0x01, mcParams({ pinUvAuthParam: new Uint8Array(16), protocol: 3 })).status,
    ).toBe(CtapStatus.CTAP1_ERR_INVALID_PARAMETER);
  });
  it('a zero-length pinUvAuthParam asks whether a PIN is set (after a touch)', () => {
    const { host } = makeChip();
    expect(
      host.ctap(0x01, mcParams({ pinUvAuthParam: new Uint8Array(0), protocol: 2 })).status,
    ).toBe(CtapStatus.CTAP2_ERR_PIN_NOT_SET);
    new Platform(host, 2).setPin('1234');
    expect(
      host.ctap(0x02, gaParams({ pinUvAuthParam: new Uint8Array(0), protocol: 2 })).status,
    ).toBe(CtapStatus.CTAP2_ERR_PIN_INVALID);
  });
  it('excludeList answers CREDENTIAL_EXCLUDED for our credential for this RP only', async () => {
    const { host } = makeChip();
    const cred = await register(host);
    expect(host.ctap(0x01, mcParams({ excludeList: [cred.credentialId] })).status).toBe(
      CtapStatus.CTAP2_ERR_CREDENTIAL_EXCLUDED,
    );
    // The same ID under another RP is not ours: registration goes ahead.
    await register(host, { rpId: 'other.example', excludeList: [cred.credentialId] });
  });
  it('a credential ID from another chip, or tampered, is not found', async () => {
    const { host } = makeChip('a');
    const other = makeChip('b');
    const cred = await register(other.host);
    expect(host.ctap(0x02, gaParams({ allowList: [cred.credentialId] })).status).toBe(
      CtapStatus.CTAP2_ERR_NO_CREDENTIALS,
    );
    const mine = await register(host);
    const bad = new Uint8Array(mine.credentialId);
    bad[20]! ^= 1;
    expect(host.ctap(0x02, gaParams({ allowList: [bad] })).status).toBe(
      CtapStatus.CTAP2_ERR_NO_CREDENTIALS,
    );
    expect(
      host.ctap(0x02, gaParams({ allowList: [mine.credentialId], rpId: 'evil.example' })).status,
    ).toBe(CtapStatus.CTAP2_ERR_NO_CREDENTIALS);
  });
  it('up=false gives a silent assertion (UP flag clear) without waiting for the button', async () => {
    const { host, fw } = makeChip('silent', 'manual');
    fw.upMode = 'auto';
    const cred = await register(host);
    fw.upMode = 'manual';
    const a = host.ctap(0x02, gaParams({ allowList: [cred.credentialId], up: false }));
    expect(a.status).toBe(0);
    expect(parseAuthData(a.body!.get(2) as Uint8Array).flags & 0x01).toBe(0);
  });
});

describe('discoverable credentials', () => {
  it('getAssertion without allowList finds them newest first; getNextAssertion walks the rest', async () => {
    const { host } = makeChip();
    const a = await register(host, { rk: true, userId: utf8('anna') });
    const b = await register(host, { rk: true, userId: utf8('bent') });
    await register(host, { rk: true, rpId: 'other.example', userId: utf8('carl') });
    const first = host.ctap(0x02, gaParams());
    expect(first.status).toBe(0);
    expect(first.body!.get(5)).toBe(2);
    expect((first.body!.get(1) as CborMap).get('id')).toEqual(b.credentialId);
    // Without UV, only the user ID is returned (§6.2.2).
    expect(Object.fromEntries(first.body!.get(4) as CborMap)).toEqual({ id: utf8('bent') });
    const next = host.ctap(0x08);
    expect(next.status).toBe(0);
    expect((next.body!.get(1) as CborMap).get('id')).toEqual(a.credentialId);
    expect(next.body!.has(5)).toBe(false);
    expect(host.ctap(0x08).status).toBe(CtapStatus.CTAP2_ERR_NOT_ALLOWED);
  });
  it('the same user on the same RP replaces the old credential', async () => {
    const { host, fw } = makeChip();
    await register(host, { rk: true, userId: utf8('anna') });
    await register(host, { rk: true, userId: utf8('anna') });
    expect(fw.snapshot().credentials).toHaveLength(1);
  });
  it('getNextAssertion state is dropped by any other command', async () => {
    const { host } = makeChip();
    await register(host, { rk: true, userId: utf8('anna') });
    await register(host, { rk: true, userId: utf8('bent') });
    expect(host.ctap(0x02, gaParams()).status).toBe(0);
    host.ctap(0x04);
    expect(host.ctap(0x08).status).toBe(CtapStatus.CTAP2_ERR_NOT_ALLOWED);
  });
  it('rk in getAssertion options is CTAP2_ERR_UNSUPPORTED_OPTION; no credentials is NO_CREDENTIALS', () => {
    const { host } = makeChip();
    const p = gaParams();
    p.set(5, new Map([['rk', true]]));
    expect(host.ctap(0x02, p).status).toBe(CtapStatus.CTAP2_ERR_UNSUPPORTED_OPTION);
    expect(host.ctap(0x02, gaParams()).status).toBe(CtapStatus.CTAP2_ERR_NO_CREDENTIALS);
  });
});

describe('user presence', () => {
  it('manual: KEEPALIVE UPNEEDED every 100 ms until the button is pressed', async () => {
    const { host, fw } = makeChip('manual', 'manual');
    let pressedAt = -1;
    const a = host.ctap(0x01, mcParams(), (n) => {
      if (n === 5 && pressedAt < 0) {
        pressedAt = n;
        expect(fw.waitingForUser).toBe(true);
        fw.pressButton();
      }
    });
    expect(a.status).toBe(0);
    expect(fw.waitingForUser).toBe(false);
    expect(fw.busy).toBe(false);
  });
  it('manual: keepalives are status 2, one per 100 ms, and 30 s without a press times out', () => {
    const { host } = makeChip('timeout', 'manual');
    const x = host.exchange(0x10, concatBytes(Uint8Array.of(0x01), encodeCbor(mcParams())));
    expect(x.payload).toEqual(Uint8Array.of(CtapStatus.CTAP2_ERR_USER_ACTION_TIMEOUT));
    expect(new Set(x.keepalives)).toEqual(new Set([2]));
    // One at the start, then one each 100 ms for 30 s.
    expect(x.keepalives.length).toBeGreaterThanOrEqual(299);
    expect(x.keepalives.length).toBeLessThanOrEqual(301);
  });
  it('deny: CTAP2_ERR_OPERATION_DENIED and nothing stored', () => {
    const { host, fw } = makeChip('deny', 'deny');
    const before = fw.snapshot();
    expect(host.ctap(0x01, mcParams({ rk: true })).status).toBe(
      CtapStatus.CTAP2_ERR_OPERATION_DENIED,
    );
    expect(fw.snapshot()).toEqual(before);
  });
  it('CANCEL while waiting answers CTAP2_ERR_KEEPALIVE_CANCEL at once', () => {
    const { host, fw } = makeChip('cancel', 'manual');
    const out = fw.handleReport(packetize(host.cid, 0x10, concatBytes(Uint8Array.of(0x0b)))[0]!);
    expect(out[0]![4]).toBe(0xbb);
    const ans = fw.handleReport(packetize(host.cid, 0x11, new Uint8Array(0))[0]!);
    expect(toHex(ans[0]!.subarray(4, 8))).toBe('90000' + '12d');
    expect(fw.busy).toBe(false);
  });
  it('selection waits for a touch like everything else', () => {
    const { host, fw } = makeChip('select', 'manual');
    const a = host.ctap(0x0b, undefined, (n) => n === 2 && fw.pressButton());
    expect(a.status).toBe(0);
  });
});

describe('clientPIN', () => {
  it.each([1, 2] as const)(
    'protocol %i: setPIN, getPinToken, token-authorised makeCredential sets UV',
    async (proto) => {
      const { host } = makeChip(`pin${proto}`);
      const plat = new Platform(host, proto);
      expect(plat.retries()).toBe(8);
      expect(plat.setPin('1234')).toBe(0);
      expect(plat.setPin('5678')).toBe(CtapStatus.CTAP2_ERR_NOT_ALLOWED);
      expect((host.ctap(0x04).body!.get(4) as Map<string, boolean>).get('clientPin')).toBe(true);
      const t = plat.token('1234');
      expect(t.status).toBe(0);
      expect(t.token).toHaveLength(32);
      const cdh = sha256(randomBytes(32));
      const a = host.ctap(
        0x01,
        mcParams({
          clientDataHash: cdh,
          pinUvAuthParam: plat.authenticate(t.token!, cdh),
          protocol: proto,
        }),
      );
      expect(a.status).toBe(0);
      expect(parseAuthData(a.body!.get(2) as Uint8Array).flags & 0x05).toBe(0x05);
      // A wrong pinUvAuthParam is PIN_AUTH_INVALID.
      expect(
        host.ctap(
          0x01,
          mcParams({
            pinUvAuthParam: plat.authenticate(t.token!, new Uint8Array(32)),
            protocol: proto,
          }),
        ).status,
      ).toBe(CtapStatus.CTAP2_ERR_PIN_AUTH_INVALID);
    },
  );
  it('a PIN shorter than 4, or longer than 63 bytes, violates the policy', () => {
    const { host } = makeChip();
    const plat = new Platform(host, 2);
    expect(plat.setPin('123')).toBe(CtapStatus.CTAP2_ERR_PIN_POLICY_VIOLATION);
    expect(plat.setPin('x'.repeat(64))).toBe(CtapStatus.CTAP2_ERR_PIN_POLICY_VIOLATION);
    expect(plat.setPin('ølæ€')).toBe(0);
  });
  it('wrong PINs: retries fall, 3 in a row block until power cycle, 0 retries blocks for good', () => {
    const { host, fw } = makeChip();
    const plat = new Platform(host, 2);
    plat.setPin('1234');
    expect(plat.token('0000').status).toBe(CtapStatus.CTAP2_ERR_PIN_INVALID);
    expect(plat.retries()).toBe(7);
    expect(plat.token('1234').status).toBe(0);
    expect(plat.retries()).toBe(8);
    expect(plat.token('0000').status).toBe(CtapStatus.CTAP2_ERR_PIN_INVALID);
    expect(plat.token('0000').status).toBe(CtapStatus.CTAP2_ERR_PIN_INVALID);
    expect(plat.token('0000').status).toBe(CtapStatus.CTAP2_ERR_PIN_AUTH_BLOCKED);
    // Even the right PIN is refused until a power cycle, and costs no retry.
    expect(plat.token('1234').status).toBe(CtapStatus.CTAP2_ERR_PIN_AUTH_BLOCKED);
    expect(plat.retries()).toBe(5);
    fw.powerCycle();
    host.init();
    expect(plat.token('0000').status).toBe(CtapStatus.CTAP2_ERR_PIN_INVALID); // 4 left
    expect(plat.token('0000').status).toBe(CtapStatus.CTAP2_ERR_PIN_INVALID); // 3 left
    expect(plat.token('0000').status).toBe(CtapStatus.CTAP2_ERR_PIN_AUTH_BLOCKED); // 2 left
    fw.powerCycle();
    host.init();
    expect(plat.token('0000').status).toBe(CtapStatus.CTAP2_ERR_PIN_INVALID); // 1 left
    expect(plat.token('0000').status).toBe(CtapStatus.CTAP2_ERR_PIN_BLOCKED); // none left
    expect(plat.retries()).toBe(0);
    fw.powerCycle();
    host.init();
    expect(plat.token('1234').status).toBe(CtapStatus.CTAP2_ERR_PIN_BLOCKED);
    // Retries live in flash: a chip restored from its state is still blocked.
    const again = new ChipFirmware(fw.snapshot(), { clock: host.clock });
    expect(again.snapshot().pinRetries).toBe(0);
  });
  it('changePIN needs the old PIN; the new one works afterwards', () => {
    const { host } = makeChip();
    const plat = new Platform(host, 1);
    plat.setPin('1234');
    expect(plat.changePin('9999', '5678')).toBe(CtapStatus.CTAP2_ERR_PIN_INVALID);
    expect(plat.changePin('1234', '5678')).toBe(0);
    expect(plat.token('1234').status).toBe(CtapStatus.CTAP2_ERR_PIN_INVALID);
    expect(plat.token('5678').status).toBe(0);
  });
  it('permissions and RP binding: ga-only token cannot make credentials; a bound token serves one RP', async () => {
    const { host } = makeChip();
    const plat = new Platform(host, 2);
    plat.setPin('1234');
    const ga = plat.token('1234', 0x02, RP);
    const cdh = sha256(randomBytes(32));
    expect(
      host.ctap(
        0x01,
        mcParams({
          clientDataHash: cdh,
          pinUvAuthParam: plat.authenticate(ga.token!, cdh),
          protocol: 2,
        }),
      ).status,
    ).toBe(CtapStatus.CTAP2_ERR_PIN_AUTH_INVALID);
    const mc = plat.token('1234', 0x01, RP);
    expect(
      host.ctap(
        0x01,
        mcParams({
          rpId: 'other.example',
          clientDataHash: cdh,
          pinUvAuthParam: plat.authenticate(mc.token!, cdh),
          protocol: 2,
        }),
      ).status,
    ).toBe(CtapStatus.CTAP2_ERR_PIN_AUTH_INVALID);
    expect(
      host.ctap(
        0x01,
        mcParams({
          clientDataHash: cdh,
          pinUvAuthParam: plat.authenticate(mc.token!, cdh),
          protocol: 2,
        }),
      ).status,
    ).toBe(0);
    expect(plat.token('1234', 0x08, RP).status).toBe(CtapStatus.CTAP2_ERR_UNAUTHORIZED_PERMISSION);
    expect(plat.token('1234', 0, RP).status).toBe(CtapStatus.CTAP1_ERR_INVALID_PARAMETER);
  });
  it('with a PIN set, a discoverable credential needs a token (PUAT_REQUIRED); a plain one does not', async () => {
    const { host } = makeChip();
    new Platform(host, 2).setPin('1234');
    expect(host.ctap(0x01, mcParams({ rk: true })).status).toBe(CtapStatus.CTAP2_ERR_PUAT_REQUIRED);
    await register(host);
  });
  it('a token is gone after a power cycle', () => {
    const { host, fw } = makeChip();
    const plat = new Platform(host, 2);
    plat.setPin('1234');
    const t = plat.token('1234');
    fw.powerCycle();
    host.init();
    const cdh = sha256(randomBytes(32));
    expect(
      host.ctap(
        0x01,
        mcParams({
          clientDataHash: cdh,
          pinUvAuthParam: plat.authenticate(t.token!, cdh),
          protocol: 2,
        }),
      ).status,
    ).toBe(CtapStatus.CTAP2_ERR_PIN_AUTH_INVALID);
  });
  it('unknown subcommands and missing parameters', () => {
    const { host } = makeChip();
    expect(
      host.ctap(
        0x06,
        new Map<number, unknown>([
          [1, 2],
          [2, 0x42],
        ]),
      ).status,
    ).toBe(CtapStatus.CTAP2_ERR_INVALID_SUBCOMMAND);
    expect(host.ctap(0x06, new Map<number, unknown>([[2, 2]])).status).toBe(
      CtapStatus.CTAP2_ERR_MISSING_PARAMETER,
    );
    expect(
      host.ctap(
        0x06,
        new Map<number, unknown>([
          [1, 2],
          [2, 3],
        ]),
      ).status,
    ).toBe(CtapStatus.CTAP2_ERR_MISSING_PARAMETER);
    expect(
      host.ctap(
        0x06,
        new Map<number, unknown>([
          [1, 2],
          [2, 5],
          [3, new Map([[1, 2]])],
          [6, new Uint8Array(32)],
        ]),
      ).status,
    ).toBe(CtapStatus.CTAP1_ERR_INVALID_PARAMETER);
  });
});

describe('credProtect and hmac-secret', () => {
  it('credProtect 3 hides the credential without UV, even with its ID', async () => {
    const { host } = makeChip();
    const plat = new Platform(host, 2);
    plat.setPin('1234');
    const t = plat.token('1234', 0x03, RP);
    const cdh = sha256(randomBytes(32));
    const a = host.ctap(
      0x01,
      mcParams({
        clientDataHash: cdh,
        rk: true,
        extensions: new Map([['credProtect', 3]]),
        pinUvAuthParam: plat.authenticate(t.token!, cdh),
        protocol: 2,
      }),
    );
    expect(a.status).toBe(0);
    const ad = parseAuthData(a.body!.get(2) as Uint8Array);
    expect(ad.extensions!.get('credProtect')).toBe(3);
    expect(host.ctap(0x02, gaParams({ allowList: [ad.credentialId!] })).status).toBe(
      CtapStatus.CTAP2_ERR_NO_CREDENTIALS,
    );
    expect(host.ctap(0x02, gaParams()).status).toBe(CtapStatus.CTAP2_ERR_NO_CREDENTIALS);
    const cdh2 = sha256(randomBytes(32));
    expect(
      host.ctap(
        0x02,
        gaParams({
          clientDataHash: cdh2,
          pinUvAuthParam: plat.authenticate(t.token!, cdh2),
          protocol: 2,
        }),
      ).status,
    ).toBe(0);
  });
  it.each([1, 2] as const)(
    'hmac-secret (protocol %i): same salt, same secret; two salts; UV changes it',
    async (proto) => {
      const { host } = makeChip(`hmac${proto}`);
      const cred = await register(host, { extensions: new Map([['hmac-secret', true]]) });
      expect(cred.parsed.extensions!.get('hmac-secret')).toBe(true);
      const plat = new Platform(host, proto);
      const salt1 = new Uint8Array(32).fill(1);
      const salt2 = new Uint8Array(32).fill(2);
      const secret = (salts: Uint8Array, token?: Uint8Array): Uint8Array => {
        const ka = plat.agree();
        const saltEnc = plat.encrypt(salts);
        const ext = new Map<number, unknown>([
          [1, ka],
          [2, saltEnc],
          [3, plat.authenticate(plat.shared, saltEnc)],
        ]);
        if (proto === 2) ext.set(4, 2);
        const cdh = sha256(randomBytes(32));
        const a = host.ctap(
          0x02,
          gaParams({
            clientDataHash: cdh,
            allowList: [cred.credentialId],
            extensions: new Map([['hmac-secret', ext]]),
            ...(token ? { pinUvAuthParam: plat.authenticate(token, cdh), protocol: proto } : {}),
          }),
        );
        expect(a.status).toBe(0);
        const ad = parseAuthData(a.body!.get(2) as Uint8Array);
        return plat.decrypt(ad.extensions!.get('hmac-secret') as Uint8Array);
      };
      const one = secret(salt1);
      expect(one).toHaveLength(32);
      expect(secret(salt1)).toEqual(one);
      const two = secret(concatBytes(salt1, salt2));
      expect(two.subarray(0, 32)).toEqual(one);
      expect(two.subarray(32)).not.toEqual(one);
      plat.setPin('1234');
      const t = plat.token('1234');
      expect(secret(salt1, t.token)).not.toEqual(one);
    },
  );
  it('a bad saltAuth is PIN_AUTH_INVALID', async () => {
    const { host } = makeChip();
    const cred = await register(host, { extensions: new Map([['hmac-secret', true]]) });
    const plat = new Platform(host, 2);
    const ka = plat.agree();
    const saltEnc = plat.encrypt(new Uint8Array(32));
    const ext = new Map<number, unknown>([
      [1, ka],
      [2, saltEnc],
      [3, new Uint8Array(32)],
      [4, 2],
    ]);
    expect(
      host.ctap(
        0x02,
        gaParams({ allowList: [cred.credentialId], extensions: new Map([['hmac-secret', ext]]) }),
      ).status,
    ).toBe(CtapStatus.CTAP2_ERR_PIN_AUTH_INVALID);
  });
});

describe('credentialManagement', () => {
  it('metadata, RPs, credentials, update and delete, all with a cm token', async () => {
    const { host } = makeChip();
    await register(host, { rk: true, userId: utf8('anna') });
    await register(host, { rk: true, userId: utf8('bent') });
    await register(host, { rk: true, rpId: 'other.example', userId: utf8('carl') });
    const plat = new Platform(host, 2);
    plat.setPin('1234');
    const t = plat.token('1234', 0x04).token!;
    const cm = (sub: number, params?: Map<number, unknown>, auth = true) => {
      const m = new Map<number, unknown>([[1, sub]]);
      if (params) m.set(2, params);
      if (auth) {
        m.set(3, 2);
        m.set(
          4,
          plat.authenticate(
            t,
            concatBytes(Uint8Array.of(sub), params ? encodeCbor(params) : new Uint8Array(0)),
          ),
        );
      }
      return host.ctap(0x0a, m);
    };
    const meta = cm(1);
    expect(meta.status).toBe(0);
    expect(meta.body!.get(1)).toBe(3);
    expect(meta.body!.get(2)).toBe(47);
    const rp1 = cm(2);
    expect(rp1.body!.get(5)).toBe(2);
    const rp2 = cm(3, undefined, false);
    expect(
      [(rp1.body!.get(3) as CborMap).get('id'), (rp2.body!.get(3) as CborMap).get('id')].sort(),
    ).toEqual([RP, 'other.example']);
    expect(cm(3, undefined, false).status).toBe(CtapStatus.CTAP2_ERR_NOT_ALLOWED);
    // Enumeration state does not survive another command in between (§6.8).
    cm(2);
    host.ctap(0x04);
    expect(cm(3, undefined, false).status).toBe(CtapStatus.CTAP2_ERR_NOT_ALLOWED);
    const rpIdHash = sha256(utf8(RP));
    const c1 = cm(4, new Map([[1, rpIdHash]]));
    expect(c1.status).toBe(0);
    expect(c1.body!.get(9)).toBe(2);
    expect((c1.body!.get(6) as CborMap).get('name')).toBe('anna@example.dk');
    const c2 = cm(5, undefined, false);
    expect(c2.status).toBe(0);
    const descriptor = c2.body!.get(7) as CborMap;
    const userId = (c2.body!.get(6) as CborMap).get('id') as Uint8Array;
    const upd = cm(
      7,
      new Map<number, unknown>([
        [2, descriptor],
        [
          3,
          new Map<string, unknown>([
            ['id', userId],
            ['name', 'bent@example.dk'],
            ['displayName', 'Bent B.'],
          ]),
        ],
      ]),
    );
    expect(upd.status).toBe(0);
    expect(cm(6, new Map([[2, descriptor]])).status).toBe(0);
    expect(cm(1).body!.get(1)).toBe(2);
    expect(cm(6, new Map([[2, descriptor]])).status).toBe(CtapStatus.CTAP2_ERR_NO_CREDENTIALS);
    expect(cm(1, undefined, false).status).toBe(CtapStatus.CTAP2_ERR_PUAT_REQUIRED);
  });
  it('a token without the cm permission is refused', () => {
    const { host } = makeChip();
    const plat = new Platform(host, 2);
    plat.setPin('1234');
    const t = plat.token('1234').token!;
    const m = new Map<number, unknown>([
      [1, 1],
      [3, 2],
      [4, plat.authenticate(t, Uint8Array.of(1))],
    ]);
    expect(host.ctap(0x0a, m).status).toBe(CtapStatus.CTAP2_ERR_PIN_AUTH_INVALID);
  });
});

describe('reset', () => {
  it('within 10 s of power-up, after a touch: credentials and PIN are gone, old IDs stop working', async () => {
    const { host, fw, clock } = makeChip();
    const cred = await register(host, { rk: true });
    new Platform(host, 2).setPin('1234');
    clock.advance(11_000);
    expect(host.ctap(0x07).status).toBe(CtapStatus.CTAP2_ERR_NOT_ALLOWED);
    fw.powerCycle();
    host.init();
    expect(host.ctap(0x07).status).toBe(0);
    const s = fw.snapshot();
    expect(s.credentials).toEqual([]);
    expect(s.pinHash).toBeNull();
    expect(host.ctap(0x02, gaParams({ allowList: [cred.credentialId] })).status).toBe(
      CtapStatus.CTAP2_ERR_NO_CREDENTIALS,
    );
  });
  it('deny mode refuses the reset', () => {
    const { host, fw } = makeChip('r', 'deny');
    const before = fw.snapshot();
    expect(host.ctap(0x07).status).toBe(CtapStatus.CTAP2_ERR_OPERATION_DENIED);
    expect(fw.snapshot()).toEqual(before);
  });
});

describe('persistence', () => {
  it('a chip rebuilt from its snapshot still signs with its credentials', async () => {
    const { host, fw, clock } = makeChip();
    const saved: unknown[] = [];
    const cred = await register(host, { rk: true });
    const json = JSON.parse(JSON.stringify(fw.snapshot()));
    const again = new ChipFirmware(json, { clock, onPersist: (s) => saved.push(s) });
    const { Host: H } = await import('./harness.js');
    const h2 = new H(again, clock);
    await authenticate(h2, cred, {}, cred.parsed.signCount);
    expect(saved).toHaveLength(1);
    expect(() => new ChipFirmware({ ...json, wrapKey: 'zz' }, { clock })).toThrow(/wrapKey/);
    expect(() => new ChipFirmware({ ...json, format: 'x' }, { clock })).toThrow(/format/);
  });
});

describe('power and misuse', () => {
  it('a power cycle in the middle of a wait drops it; the chip answers again after INIT', () => {
    const { host, fw } = makeChip('power', 'manual');
    const out = fw.handleReport(packetize(host.cid, 0x10, Uint8Array.of(0x0b))[0]!);
    expect(out[0]![4]).toBe(0xbb);
    expect(fw.busy).toBe(true);
    fw.powerCycle();
    expect(fw.busy).toBe(false);
    expect(fw.waitingForUser).toBe(false);
    // The old channel is gone.
    expect(fw.handleReport(packetize(host.cid, 0x10, Uint8Array.of(0x04))[0]!)[0]![7]).toBe(0x0b);
    host.init();
    expect(host.ctap(0x04).status).toBe(0);
  });
  it('bad factory arguments are TypeError/RangeError, bad state a DeviceError naming the field', () => {
    const { fw, clock } = makeChip();
    expect(() => ChipFirmware.manufacture({ serial: '', clock })).toThrow(RangeError);
    expect(() =>
      ChipFirmware.manufacture({ serial: 'x', clock, aaguid: new Uint8Array(3) }),
    ).toThrow(RangeError);
    expect(() => new ChipFirmware(fw.snapshot(), { clock, upMode: 'maybe' as never })).toThrow(
      RangeError,
    );
    expect(() => {
      fw.upMode = 'sometimes' as never;
    }).toThrow(RangeError);
    const err = (() => {
      try {
        new ChipFirmware({ ...fw.snapshot(), pinRetries: 9 }, { clock });
      } catch (e) {
        return e as Error & { code: string };
      }
    })();
    expect(err?.code).toBe('bad-device-state');
    expect(err?.message).toMatch(/pinRetries/);
    // The message names the field, never the value of a secret.
    const leak = (() => {
      try {
        new ChipFirmware(
          { ...fw.snapshot(), wrapKey: 'AB' + fw.snapshot().wrapKey.slice(2) },
          { clock },
        );
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(leak).toMatch(/wrapKey/);
    expect(leak).not.toContain(fw.snapshot().wrapKey.slice(2));
  });
});

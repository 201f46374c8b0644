/** The virtual phone and the MitID app without the service: device file, QR codes, PINs, signatures. */
import { createPublicKey, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import QRCode from 'qrcode';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url, utf8 } from '../../src/core/bytes.js';
import {
  type AppIdentity,
  MitIdApp,
  VirtualPhone,
  activationTranscript,
  approvalTranscript,
  channelFromCode,
  confirmPin,
  decodeQrPng,
  scanActivationQr,
  scanApprovalQr,
  serviceError,
} from '../../devices/app/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mitid-phone-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Puts an activated identity into the phone as the app would after a finished activation. */
async function addIdentity(phone: VirtualPhone, over: Partial<AppIdentity> = {}) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const identity: AppIdentity = {
    userId: 'bent.erhverv',
    appId: toBase64Url(new Uint8Array(randomBytes(16))),
    mitid: 'separate',
    publicKey: toBase64Url(new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }))),
    privateKey: toBase64Url(new Uint8Array(privateKey.export({ format: 'der', type: 'pkcs8' }))),
    appToken: toBase64Url(new Uint8Array(randomBytes(32))),
    biometrics: false,
    placement: 'new-device',
    activatedAt: new Date(0).toISOString(),
    ...over,
  };
  await phone.update((s) => ({
    state: { ...s, identities: [...s.identities, identity] },
    result: undefined,
  }));
  return identity;
}

describe('the phone device file', () => {
  it('round-trips with mode 0600 and refuses to replace a phone', async () => {
    const out = join(dir, 'phone.json');
    const phone = await VirtualPhone.create({
      number: '+4520000002',
      out,
      serviceUrl: 'http://127.0.0.1:9/',
    });
    expect(phone.serial).toBe('4520000002');
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    const id = await addIdentity(phone);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    const again = await VirtualPhone.open(out);
    expect(again.number).toBe('+4520000002');
    expect(again.serviceUrl).toBe('http://127.0.0.1:9');
    expect(again.identities).toEqual([id]);
    expect(again.inbox).toEqual([]);
    const file = JSON.parse(await readFile(out, 'utf8')) as Record<string, unknown>;
    expect(file).toMatchObject({ format: 'mitid-sim.device', kind: 'app', serial: '4520000002' });
    await expect(VirtualPhone.create({ number: '+4520000002', out })).rejects.toMatchObject({
      code: 'device-file-exists',
    });
  });

  it('refuses bad numbers, bad service URLs and damaged files without quoting secrets', async () => {
    await expect(
      VirtualPhone.create({ number: '20000002', out: join(dir, 'a.json') }),
    ).rejects.toMatchObject({ code: 'bad-phone-number' });
    await expect(
      VirtualPhone.create({
        number: '+4520000002',
        out: join(dir, 'b.json'),
        serviceUrl: 'ftp://x',
      }),
    ).rejects.toMatchObject({ code: 'bad-service-url' });
    const out = join(dir, 'phone.json');
    const phone = await VirtualPhone.create({ number: '+4520000003', out });
    const id = await addIdentity(phone);
    const body = JSON.parse(await readFile(out, 'utf8')) as {
      identities: Record<string, unknown>[];
    };
    body.identities[0]!.privateKey = `${id.privateKey}!`;
    await writeFile(out, JSON.stringify(body));
    const err = (await VirtualPhone.open(out).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { code: string };
    expect(err).toMatchObject({ code: 'bad-device-file' });
    expect(err.message).toMatch(/identities\[0\]\.privateKey/);
    expect(err.message).not.toContain(id.privateKey);
    expect(err.message).not.toContain(id.appToken);
  });
});

describe('QR codes through the camera', () => {
  it('reads the activation QR code from a PNG made by the qrcode package', async () => {
    const userId = 'bent erhverv+æøå';
    const text = `mitid-sim://activate?userId=${encodeURIComponent(userId)}&code=${encodeURIComponent('AB12-CD34')}`;
    const png = new Uint8Array(await QRCode.toBuffer(text, { type: 'png' }));
    expect(decodeQrPng(png)).toBe(text);
    expect(scanActivationQr(png)).toEqual({ userId, activationCode: 'AB12-CD34' });
  });

  it('reads the login QR code and gives its channel binding', async () => {
    const text = 'mitid-sim://approve?requestId=req_123&channel=s3cr3t-Chan_nel';
    const png = new Uint8Array(await QRCode.toBuffer(text));
    expect(scanApprovalQr(png)).toEqual({
      requestId: 'req_123',
      channel: { type: 'qr', value: 's3cr3t-Chan_nel' },
    });
    // An activation code is not a login code, and the other way round.
    await expect(async () => scanActivationQr(png)).rejects.toMatchObject({ code: 'bad-qr-code' });
  });

  it('says so when the picture is not a PNG or holds no QR code', () => {
    expect(() => decodeQrPng(utf8('not a picture'))).toThrow(
      expect.objectContaining({ code: 'bad-image' }),
    );
    const blank = new PNG({ width: 64, height: 64 });
    blank.data.fill(255);
    expect(() => decodeQrPng(new Uint8Array(PNG.sync.write(blank)))).toThrow(
      expect.objectContaining({ code: 'no-qr-code' }),
    );
  });
});

describe('PINs and codes the user types', () => {
  it('refuses a PIN that differs from its repetition, like the real app', () => {
    expect(confirmPin('482913', '482913')).toBe('482913');
    const err = (() => {
      try {
        confirmPin('482913', '482931');
      } catch (e) {
        return e as Error & { code: string };
      }
      return undefined;
    })();
    expect(err?.code).toBe('pin-mismatch');
    expect(err?.message).not.toMatch(/482913|482931/);
    expect(() => confirmPin('12345', '12345')).toThrow(
      expect.objectContaining({ code: 'bad-pin' }),
    );
    expect(() => channelFromCode('12a4')).toThrow(expect.objectContaining({ code: 'bad-code' }));
  });

  it('refuses a mismatched PIN or denied notifications before it asks the service anything', async () => {
    // Port 9 (discard) is closed here: reaching the network would be 'service-unreachable'.
    const phone = await VirtualPhone.create({
      number: '+4520000004',
      out: join(dir, 'p.json'),
      serviceUrl: 'http://127.0.0.1:9',
    });
    const app = MitIdApp.fresh(phone);
    const base = { userId: 'bent.erhverv', activationCode: 'AB12-CD34', pin: '482913' };
    await expect(app.bind({ ...base, pinRepeat: '482914' })).rejects.toMatchObject({
      code: 'pin-mismatch',
    });
    await expect(app.bind({ ...base, notifications: false })).rejects.toMatchObject({
      code: 'notifications-required',
    });
    await expect(app.bind(base)).rejects.toMatchObject({ code: 'service-unreachable' });
    expect(() => app.identity()).toThrow(expect.objectContaining({ code: 'not-activated' }));
  });
});

describe('signatures', () => {
  it('signs approvals with ECDSA P-256 / SHA-256 in DER over the documented text', async () => {
    const phone = await VirtualPhone.create({ number: '+4520000005', out: join(dir, 'p.json') });
    const id = await addIdentity(phone);
    const app = MitIdApp.select(phone);
    expect(app.serial).toBe(id.appId);
    expect(app.kind).toBe('app');
    const request = utf8(JSON.stringify({ requestId: 'r1', service: 'Demo Byg ApS' }));
    const channel = { type: 'code', value: '4711' } as const;
    const proof = await app.prove({ requestId: 'r1', request, channel });
    expect(proof).toMatchObject({
      type: 'app.approval',
      appId: id.appId,
      requestId: 'r1',
      approved: true,
    });
    expect(proof.signature[0]).toBe(0x30); // a DER SEQUENCE
    const pub = createPublicKey({
      key: Buffer.from(fromBase64Url(id.publicKey)),
      format: 'der',
      type: 'spki',
    });
    const text = `mitid-sim app approval v1\napprove\ncode:4711\n${toBase64Url(request)}`;
    expect(approvalTranscript('approve', channel, toBase64Url(request))).toBe(text);
    expect(verify('sha256', utf8(text), pub, proof.signature)).toBe(true);
    // A rejection is a different text; the approval's signature does not cover it.
    const no = await app.prove({ requestId: 'r1', request, channel, approve: false });
    expect(no.approved).toBe(false);
    const rejectText = approvalTranscript('reject', channel, toBase64Url(request));
    expect(verify('sha256', utf8(rejectText), pub, no.signature)).toBe(true);
    expect(verify('sha256', utf8(rejectText), pub, proof.signature)).toBe(false);
    await expect(app.prove({ requestId: 'r1', request })).rejects.toMatchObject({
      code: 'no-channel',
    });
    await app.close();
    await expect(app.prove({ requestId: 'r1', request, channel })).rejects.toMatchObject({
      code: 'closed',
    });
  });

  it('writes the activation transcript as documented', () => {
    expect(activationTranscript('act1', 'app_123456', 'MFkw')).toBe(
      'mitid-sim app activation v1\nact1\napp_123456\nMFkw',
    );
  });

  it("turns the service's refusals into one clear line with the code and tries left", () => {
    const e = serviceError(401, { error: 'pin-wrong', message: 'Wrong PIN.', triesLeft: 2 });
    expect(e).toMatchObject({ code: 'pin-wrong', status: 401, triesLeft: 2 });
    expect(e.message).toBe('the PIN is wrong (2 tries left) [401 pin-wrong]');
    const s = serviceError(423, { error: 'app-suspended', message: 'x', until: 'later' });
    expect(s.message).toMatch(/suspended/);
    expect(s.detail).toEqual({ until: 'later' });
  });
});

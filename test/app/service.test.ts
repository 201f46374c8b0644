/** The MitID app on virtual phones against the running activation service: activation, logins, refusals. */
import { createPublicKey, verify } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startService } from '../../src/activation/index.js';
import {
  AppActivation,
  type AppServiceError,
  MitIdApp,
  VirtualPhone,
  activationTranscript,
  approvalTranscript,
  channelFromCode,
  scanActivationQr,
  scanApprovalQr,
} from '../../devices/app/index.js';
import { commands } from '../../src/cli/commands/app.js';
import { runCli } from '../../src/cli/main.js';
import { toBase64Url, utf8 } from '../../src/core/bytes.js';
import { World, describeEngines, freshCpr, freshSerial } from '../activation/flow-support.js';

const PIN = '482913';
let phoneCounter = 0;
function freshNumber(): string {
  phoneCounter += 1;
  return `+452${String((process.pid * 131 + phoneCounter * 17) % 10_000_000).padStart(7, '0')}`;
}

/** The refusal a promise ends with. */
async function refusal(p: Promise<unknown>): Promise<AppServiceError> {
  return p.then(
    () => {
      throw new Error('expected a refusal');
    },
    (e: unknown) => e as AppServiceError,
  );
}

describeEngines('the MitID app against the service', (engine) => {
  let w: World;
  beforeEach(async () => {
    w = await World.start(engine);
  });
  afterEach(async () => {
    await w.close();
  });

  async function phone(number = freshNumber()): Promise<VirtualPhone> {
    return VirtualPhone.create({
      number,
      out: join(w.dir, `phone-${number.slice(1)}.json`),
      serviceUrl: w.svc.url,
    });
  }

  /** The service's outbox is drained by the test (the world's dispatcher sleeps): the SMS goes out. */
  async function activate(
    p: VirtualPhone,
    userId: string,
    code: string,
    options: { biometrics?: boolean; mitid?: 'private' | 'separate' } = {},
  ) {
    const a = await AppActivation.start(p, userId, code);
    await w.svc.drainOutbox();
    await a.enterTemporaryPin(await a.readTemporaryPin());
    const done = await a.complete({ pin: PIN, pinRepeat: PIN, ...options });
    return { activation: a, ...done };
  }

  /** An organisation offering the app, a user with a private MitID (code display), up to the app step. */
  async function separateUser(
    placement: 'new-device' | 'private-phone' = 'new-device',
    number?: string,
  ) {
    const org = await w.organisation('App Test ApS');
    const patched = await w.call(
      'PATCH',
      '/api/admin/settings',
      {
        privateMitIdAllowed: true,
        separateAuthenticators: ['code-display', 'audio-reader', 'chip', 'app'],
        preselected: 'app',
      },
      org.orgAdmin,
    );
    expect(patched.status).toBe(200);
    const citizen = await w.citizen();
    const user = await w.user(org, { cpr: citizen.cpr });
    const token = await w.started(user.link, citizen);
    const { userId, phone: tel } = await w.separateUpToAuthenticator(
      token,
      number === undefined ? {} : { phone: number },
    );
    const chosen = await w.post('/api/activation/authenticator', { kind: 'app', placement }, token);
    expect(chosen.status).toBe(200);
    expect(chosen.body.userId).toBe(userId);
    return {
      org,
      token,
      userId,
      phone: tel,
      chosen: chosen.body as { activationCode: string; qr: { text: string; png: string } },
    };
  }

  /** A login with the app: the page's token and channel (QR image, 4-digit code). */
  async function login(userId: string) {
    const r = await w.post('/api/login', { userId });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ authenticator: 'app', steps: ['app'] });
    return r.body as {
      loginToken: string;
      channel: { qr: { text: string; png: string }; code: string };
    };
  }

  it('activates by user ID and code (bind), and logs in by the 4-digit code; a replay is 409', async () => {
    const s = await separateUser();
    const p = await phone(s.phone);
    const app = MitIdApp.fresh(p);
    // bind() waits for the SMS; the outbox goes out meanwhile.
    const drain = setInterval(() => void w.svc.drainOutbox(), 20);
    let bound;
    try {
      bound = await app.bind({
        userId: s.userId,
        activationCode: s.chosen.activationCode,
        pin: PIN,
      });
    } finally {
      clearInterval(drain);
    }
    expect(bound).toMatchObject({ type: 'app.activation', appId: app.serial });
    const key = createPublicKey({ key: Buffer.from(bound.publicKey), format: 'der', type: 'spki' });
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect((await w.get('/api/activation', s.token)).body.step).toBe('finish');
    expect((await w.post('/api/activation/finish', {}, s.token)).status).toBe(200);
    // The phone got the temporary PIN and the confirmation, and keeps them.
    await w.svc.drainOutbox();
    await p.fetchSms();
    expect(p.inbox.map((m) => m.text).join('\n')).toMatch(/aktiveret/);

    const page = await login(s.userId);
    const approval = await app.nextApproval({ timeoutMs: 10_000 });
    expect(approval.display.text.length).toBeGreaterThan(0);
    expect((await w.post('/api/login/app', {}, page.loginToken)).body).toMatchObject({
      done: false,
      pending: true,
    });
    const channel = channelFromCode(page.channel.code);
    await app.answer(approval, { decision: 'approve', channel, pin: PIN });
    const done = await w.post('/api/login/app', {}, page.loginToken);
    expect(done.status).toBe(200);
    expect(done.body.done).toBe(true);
    const again = await refusal(app.answer(approval, { decision: 'approve', channel, pin: PIN }));
    expect(again).toMatchObject({ status: 409, code: 'already-answered' });
  });

  it('activates from the QR code (proof verified), and approves by the login QR code with biometrics', async () => {
    const s = await separateUser();
    const scanned = scanActivationQr(Buffer.from(s.chosen.qr.png, 'base64'));
    expect(scanned).toEqual({ userId: s.userId, activationCode: s.chosen.activationCode });
    const p = await phone(s.phone);
    const { activation, app, bound } = await activate(p, scanned.userId, scanned.activationCode, {
      biometrics: true,
    });
    const key = createPublicKey({ key: Buffer.from(bound.publicKey), format: 'der', type: 'spki' });
    const text = activationTranscript(
      activation.started.activationId,
      app.serial,
      toBase64Url(bound.publicKey),
    );
    expect(verify('sha256', utf8(text), key, bound.proof)).toBe(true);
    expect(app.identity()).toMatchObject({
      biometrics: true,
      placement: 'new-device',
      mitid: 'separate',
    });
    await w.post('/api/activation/finish', {}, s.token);

    const page = await login(s.userId);
    const qr = scanApprovalQr(Buffer.from(page.channel.qr.png, 'base64'));
    const approval = await app.nextApproval({ requestId: qr.requestId, timeoutMs: 10_000 });
    // The signature the app sends is over the exact request as received.
    const proof = await app.prove({
      requestId: approval.requestId,
      request: Buffer.from(approval.request, 'base64url'),
      channel: qr.channel,
    });
    expect(
      verify(
        'sha256',
        utf8(approvalTranscript('approve', qr.channel, approval.request)),
        key,
        proof.signature,
      ),
    ).toBe(true);
    await app.answer(approval, { decision: 'approve', channel: qr.channel, biometric: true });
    expect((await w.post('/api/login/app', {}, page.loginToken)).body.done).toBe(true);
  });

  it('a rejection ends the login; a wrong channel code is refused', async () => {
    const s = await separateUser();
    const p = await phone(s.phone);
    const { app } = await activate(p, s.userId, s.chosen.activationCode);
    await w.post('/api/activation/finish', {}, s.token);
    const page = await login(s.userId);
    const approval = await app.nextApproval({ timeoutMs: 10_000 });
    const wrongCode = String((Number(page.channel.code) + 1) % 10_000).padStart(4, '0');
    const e = await refusal(
      app.answer(approval, { decision: 'approve', channel: channelFromCode(wrongCode), pin: PIN }),
    );
    expect(e).toMatchObject({ status: 400, code: 'channel-mismatch' });
    await app.answer(approval, { decision: 'reject', channel: channelFromCode(page.channel.code) });
    const r = await w.post('/api/login/app', {}, page.loginToken);
    expect(r).toMatchObject({ status: 401 });
    expect(r.body.error).toBe('login-failed');
  });

  it('three wrong activation codes block the code', async () => {
    const s = await separateUser();
    const p = await phone(s.phone);
    const first = await refusal(AppActivation.start(p, s.userId, 'AAAA-AAAA'));
    expect(first).toMatchObject({ status: 400, code: 'activation-code-wrong', triesLeft: 2 });
    expect(first.message).toBe(
      'the activation code is wrong (2 tries left) [400 activation-code-wrong]',
    );
    expect(await refusal(AppActivation.start(p, s.userId, 'AAAA-AAAB'))).toMatchObject({
      triesLeft: 1,
    });
    expect(await refusal(AppActivation.start(p, s.userId, 'AAAA-AAAC'))).toMatchObject({
      status: 423,
      code: 'activation-code-blocked',
    });
    expect(await refusal(AppActivation.start(p, s.userId, s.chosen.activationCode))).toMatchObject({
      status: 423,
      code: 'activation-code-blocked',
    });
  });

  it('an expired temporary PIN is refused (410)', async () => {
    const s = await separateUser();
    const p = await phone(s.phone);
    const a = await AppActivation.start(p, s.userId, s.chosen.activationCode);
    await w.svc.drainOutbox();
    const tempPin = await a.readTemporaryPin();
    expect(tempPin).toMatch(/^\d{8}$/);
    w.clock.advance(10 * 60_000 + 1_000);
    expect(await refusal(a.enterTemporaryPin(tempPin))).toMatchObject({
      status: 410,
      code: 'temporary-pin-expired',
    });
  });

  it('three wrong temporary PINs block the activation (423)', async () => {
    const s = await separateUser();
    const p = await phone(s.phone);
    const a = await AppActivation.start(p, s.userId, s.chosen.activationCode);
    await w.svc.drainOutbox();
    const right = await a.readTemporaryPin();
    const wrong = (n: number) => String((Number(right) + n) % 100_000_000).padStart(8, '0');
    expect(await refusal(a.enterTemporaryPin(wrong(1)))).toMatchObject({
      status: 400,
      code: 'temporary-pin-wrong',
      triesLeft: 2,
    });
    expect(await refusal(a.enterTemporaryPin(wrong(2)))).toMatchObject({
      code: 'temporary-pin-wrong',
      triesLeft: 1,
    });
    const third = await refusal(a.enterTemporaryPin(wrong(3)));
    expect(third).toMatchObject({ status: 423, code: 'temporary-pin-blocked' });
    expect(third.message).not.toContain(right);
    expect(await refusal(a.enterTemporaryPin(right))).toMatchObject({
      status: 423,
      code: 'temporary-pin-blocked',
    });
  });

  it('wrong PINs count down to a suspension, which the right PIN does not lift', async () => {
    const s = await separateUser();
    const p = await phone(s.phone);
    const { app } = await activate(p, s.userId, s.chosen.activationCode);
    await w.post('/api/activation/finish', {}, s.token);
    const page = await login(s.userId);
    const approval = await app.nextApproval({ timeoutMs: 10_000 });
    const channel = channelFromCode(page.channel.code);
    const e1 = await refusal(app.answer(approval, { decision: 'approve', channel, pin: '111111' }));
    expect(e1).toMatchObject({ status: 401, code: 'pin-wrong', triesLeft: 2 });
    expect(e1.message).not.toContain('111111');
    expect(
      await refusal(app.answer(approval, { decision: 'approve', channel, pin: '222222' })),
    ).toMatchObject({ code: 'pin-wrong', triesLeft: 1 });
    const e3 = await refusal(app.answer(approval, { decision: 'approve', channel, pin: '333333' }));
    expect(e3).toMatchObject({ status: 423, code: 'app-suspended' });
    expect(e3.message).toMatch(/suspended/);
    expect(
      await refusal(app.answer(approval, { decision: 'approve', channel, pin: PIN })),
    ).toMatchObject({ status: 423, code: 'app-suspended' });
  });

  it('a suspension ends after 15 minutes; nine wrong PINs without a good one block the app', async () => {
    const s = await separateUser();
    const p = await phone(s.phone);
    const { app } = await activate(p, s.userId, s.chosen.activationCode);
    await w.post('/api/activation/finish', {}, s.token);
    /** One login; `pins` typed in turn; the refusal codes (or 'ok') the app reports. */
    const round = async (pins: string[]) => {
      const page = await login(s.userId);
      const approval = await app.nextApproval({ timeoutMs: 10_000 });
      const channel = channelFromCode(page.channel.code);
      const seen: string[] = [];
      for (const pin of pins) {
        const r = await app.answer(approval, { decision: 'approve', channel, pin }).then(
          () => 'ok',
          (e: AppServiceError) => `${e.code}${e.triesLeft === undefined ? '' : `:${e.triesLeft}`}`,
        );
        seen.push(r);
      }
      return seen;
    };
    const after15 = () => w.clock.advance(15 * 60_000 + 1_000);
    expect(await round(['111111', '111112', '111113'])).toEqual([
      'pin-wrong:2',
      'pin-wrong:1',
      'app-suspended',
    ]);
    after15();
    // The request has expired meanwhile; a new login with the right PIN works and resets the count.
    expect(await round([PIN])).toEqual(['ok']);
    const wrong3 = ['222221', '222222', '222223'];
    expect(await round(wrong3)).toEqual(['pin-wrong:2', 'pin-wrong:1', 'app-suspended']);
    after15();
    expect(await round(wrong3)).toEqual(['pin-wrong:2', 'pin-wrong:1', 'app-suspended']);
    after15();
    expect(await round(wrong3)).toEqual(['pin-wrong:2', 'pin-wrong:1', 'app-blocked']);
    after15();
    expect(await round([PIN])).toEqual(['app-blocked']);
  });

  it('an answer after two minutes is refused as expired (410)', async () => {
    const s = await separateUser();
    const p = await phone(s.phone);
    const { app } = await activate(p, s.userId, s.chosen.activationCode);
    await w.post('/api/activation/finish', {}, s.token);
    const page = await login(s.userId);
    const approval = await app.nextApproval({ timeoutMs: 10_000 });
    w.clock.advance(2 * 60_000 + 1_000);
    const e = await refusal(
      app.answer(approval, {
        decision: 'approve',
        channel: channelFromCode(page.channel.code),
        pin: PIN,
      }),
    );
    expect(e).toMatchObject({ status: 410, code: 'request-expired' });
  });

  it('a private MitID app; a separate MitID on the private phone may not use biometrics; a fourth app is 409', async () => {
    // The citizen's private MitID is an app on their phone.
    const tel = freshNumber();
    const p = await phone(tel);
    const cpr = freshCpr();
    const privateUserId = `privat.${freshSerial('').toLowerCase()}`;
    const reg = await w.post('/api/dev/citizens', {
      cpr,
      name: 'Karen Borger',
      userId: privateUserId,
      app: { phone: tel },
    });
    expect(reg.status).toBe(201);
    const priv = await activate(p, privateUserId, reg.body.activationCode as string, {
      mitid: 'private',
      biometrics: true,
    });
    expect(priv.app.identity()).toMatchObject({ mitid: 'private', biometrics: true });

    // The organisation's user starts the activation with the private MitID app.
    const org = await w.organisation('App Privat ApS');
    await w.call(
      'PATCH',
      '/api/admin/settings',
      {
        privateMitIdAllowed: true,
        separateAuthenticators: ['code-display', 'app'],
        preselected: 'app',
      },
      org.orgAdmin,
    );
    const user = await w.user(org, { cpr });
    const started = await w.post(`/api/activation-links/${user.link}/start`, {
      userId: privateUserId,
    });
    expect(started.status).toBe(202);
    const approval = await priv.app.nextApproval({ timeoutMs: 10_000 });
    await priv.app.answer(approval, {
      decision: 'approve',
      channel: channelFromCode(started.body.channel.code as string),
      biometric: true,
    });
    const go = await w.post(
      `/api/activation-links/${user.link}/start/app`,
      {},
      started.body.startToken as string,
    );
    expect(go.status).toBe(200);
    const token = go.body.activationToken as string;

    // The separate MitID into the same app: biometrics refused, then without. (A second later, so
    // the SMS code is the newest message: the dev inbox orders messages of one instant by id.)
    w.clock.advance(1_000);
    const { userId } = await w.separateUpToAuthenticator(token, { phone: tel });
    const chosen = await w.post(
      '/api/activation/authenticator',
      { kind: 'app', placement: 'private-phone' },
      token,
    );
    const a = await AppActivation.start(p, userId, chosen.body.activationCode as string);
    await w.svc.drainOutbox();
    await a.enterTemporaryPin(await a.readTemporaryPin());
    const refused = await refusal(a.complete({ pin: PIN, biometrics: true }));
    expect(refused).toMatchObject({ status: 400, code: 'biometrics-not-allowed' });
    expect(refused.message).toMatch(/biometrics cannot be used for a separate MitID/);
    const sep = await a.complete({ pin: PIN });
    expect(sep.app.identity()).toMatchObject({
      mitid: 'separate',
      placement: 'private-phone',
      biometrics: false,
    });
    await p.refresh();
    expect(p.identities.map((i) => i.mitid).sort()).toEqual(['private', 'separate']);
    expect((await w.get('/api/activation', token)).body.step).toBe('finish');

    // Up to three apps for one identity: the private app asks for another (with its PIN) for two
    // more phones; a fourth is refused when asked for, and an activation code made in-process for
    // a fourth is refused when the app completes.
    const appToken = priv.app.identity().appToken;
    const wrong = await w.post(
      '/api/app/additional',
      { pin: '000000', phone: freshNumber() },
      appToken,
    );
    expect(wrong.status).toBe(401);
    expect(wrong.body).toMatchObject({ error: 'pin-wrong', triesLeft: 2 });
    const more = async () => {
      const q = await phone();
      const made = await w.post('/api/app/additional', { pin: PIN, phone: q.number }, appToken);
      expect(made.status).toBe(201);
      expect(made.body.userId).toBe(privateUserId);
      // The new phone scans the QR code the old app shows.
      const scanned = scanActivationQr(
        new Uint8Array(Buffer.from(made.body.qr.png as string, 'base64')),
      );
      expect(scanned.userId).toBe(privateUserId);
      return { q, code: scanned.activationCode };
    };
    for (let i = 0; i < 2; i++) {
      const { q, code } = await more();
      await activate(q, privateUserId, code, { mitid: 'private' });
    }
    const asked = await w.post('/api/app/additional', { pin: PIN, phone: freshNumber() }, appToken);
    expect(asked.status).toBe(409);
    expect(asked.body.error).toBe('authenticator-limit');
    const q = await phone();
    const made = await w.svc.store.transaction((tx) =>
      w.svc.flow.apps.issueActivation(tx, {
        ownerKind: 'citizen',
        ownerId: reg.body.citizenId as string,
        userId: privateUserId,
        mitid: 'private',
        placement: 'new-device',
        phone: q.number,
      }),
    );
    const fourth = await refusal(activate(q, privateUserId, made.code, { mitid: 'private' }));
    expect(fourth).toMatchObject({ status: 409, code: 'authenticator-limit' });
  });

  it('the CLI activates a phone and approves a login', async () => {
    const s = await separateUser();
    let out = '';
    let err = '';
    const io = { stdout: (t: string) => (out += t), stderr: (t: string) => (err += t) };
    const file = join(w.dir, 'cli-phone.json');
    expect(
      await runCli(
        ['phone', 'create', '--number', s.phone, '--out', file, '--service', w.svc.url],
        io,
        commands,
      ),
    ).toBe(0);
    out = '';
    const drain = setInterval(() => void w.svc.drainOutbox(), 20);
    try {
      const code = await runCli(
        [
          'app',
          'activate',
          file,
          '--user-id',
          s.userId,
          '--code',
          s.chosen.activationCode,
          '--pin',
          PIN,
          '--json',
        ],
        io,
        commands,
      );
      expect(err).toBe('');
      expect(code).toBe(0);
    } finally {
      clearInterval(drain);
    }
    const activated = JSON.parse(out) as Record<string, unknown>;
    expect(activated).toMatchObject({ userId: s.userId, phone: s.phone, biometrics: false });
    await w.post('/api/activation/finish', {}, s.token);
    out = '';
    const page = await login(s.userId);
    const approved = await runCli(
      ['app', 'approve', file, '--code', page.channel.code, '--pin', PIN, '--wait', '10'],
      io,
      commands,
    );
    expect(err).toBe('');
    expect(approved).toBe(0);
    expect(out).toMatch(/asks you to log in\n/);
    expect(out).toMatch(/approved \(PIN\)\n$/);
    expect(out).not.toContain(PIN);
    expect((await w.post('/api/login/app', {}, page.loginToken)).body.done).toBe(true);
    out = '';
    expect(await runCli(['phone', 'sms', file, '--json'], io, commands)).toBe(0);
    expect((JSON.parse(out) as { messages: unknown[] }).messages.length).toBeGreaterThanOrEqual(2);
  });
});

describe('a service without the dev SMS gateway', () => {
  it('starts an activation, and says the temporary PIN must be typed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mitid-app-nodev-'));
    const svc = await startService({
      store: { dataDir: dir },
      port: 0,
      dev: false,
      dispatchIntervalMs: 3_600_000,
    });
    try {
      const p = await VirtualPhone.create({
        number: freshNumber(),
        out: join(dir, 'phone.json'),
        serviceUrl: svc.url,
      });
      // No SMS inbox to look at first: the service's own answer comes through.
      expect(await refusal(AppActivation.start(p, 'nobody.here', 'AAAA-AAAA'))).toMatchObject({
        code: 'activation-code-wrong',
      });
      await expect(p.waitForSms(() => true, new Set(), { timeoutMs: 1 })).rejects.toMatchObject({
        code: 'no-sms-gateway',
      });
    } finally {
      await svc.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

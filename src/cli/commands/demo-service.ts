/**
 * `demo`: the main job on embedded defaults. Starts the activation service on a temporary SQLite
 * database with the built-in dev mailbox, makes virtual devices from a vendor seed file, and runs
 * the guide's activation and a login for every kind of authenticator through the real HTTP API.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueAdminToken } from '../../activation/sessions.js';
import { startService, type RunningService } from '../../activation/service.js';
import type { Authenticator } from '../../core/authenticator.js';
import { toBase64 } from '../../core/bytes.js';
import { VirtualClock } from '../../core/clock.js';
import { UsageError } from '../../core/errors.js';
import {
  bindResponseToJson,
  creationOptionsFromJson,
  proofToJson,
  requestOptionsFromJson,
} from '../../core/webauthn-json.js';
import { exportPskc } from '../../otp/seed/index.js';
import type { OtpKey } from '../../otp/types.js';
import {
  MitIdApp,
  VirtualPhone,
  channelFromCode,
  scanActivationQr,
  scanApprovalQr,
} from '../../../devices/app/index.js';
import { AudioReader } from '../../../devices/audio-reader/index.js';
import { createChipDeviceFile, openChip } from '../../../devices/chip/index.js';
import { CodeDisplay } from '../../../devices/code-display/index.js';
import { flag, printJson, str, type Command } from '../command.js';

interface Row {
  step: string;
  who: string;
  result: string;
  ok: boolean;
}

const STEP_MS = 30_000;

/** An HTTP answer: status and JSON body. */
interface Answer {
  status: number;
  body: Record<string, unknown>;
}

function api(base: string) {
  return async (method: string, path: string, body?: unknown, token?: string): Promise<Answer> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text.length > 0 ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = { error: 'not-json', message: text.slice(0, 200) };
    }
    return { status: res.status, body: parsed };
  };
}

function totpKey(serial: string): OtpKey {
  return {
    serial,
    type: 'totp',
    secret: new Uint8Array(randomBytes(20)),
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    t0: 0,
    manufacturer: 'mitid-sim demo vendor',
  };
}

const demo: Command = {
  path: ['demo'],
  summary:
    'the main job: the activation service, virtual devices and phones, an activation and a login for every kind',
  usage: 'demo [--dir DIR] [--json]',
  help: `Starts the activation service on a temporary SQLite database with the built-in dev mailbox,
and through its HTTP API:
  - a token vendor's PSKC seed file (AES-128, MAC checked) goes into the token inventory;
  - four people get a private MitID (a virtual code display each);
  - an organisation's user administrator creates four users: by CPR with private MitID; by CPR with
    a separate MitID on a code display; by date of birth (activation code) with an audio code
    reader; by CPR with a chip (FIDO2, registered and verified as WebAuthn);
  - each activates as the user guide describes (activation e-mail from the dev mailbox, private
    MitID login, choices, user ID, SMS code from the virtual phone, device, password, finish);
  - each logs in; a replayed code and three wrong codes show the refusals and the lockout.
  - a fifth, whose private MitID is the app on his own phone, starts by swiping in it and puts his
    separate MitID into the app on a work phone (scanning the page's QR code), then logs in with it.
The database, device files and mails stay in DIR.

Options:
  --dir DIR   where the database, device files and mails go (default: a new temporary folder)
  --json      print the results as JSON`,
  options: { dir: { type: 'string' }, json: { type: 'boolean' } },
  async run(ctx) {
    const dirOpt = str(ctx, 'dir');
    if (dirOpt !== undefined && (await readdir(dirOpt).catch(() => [])).length > 0)
      throw new UsageError('usage', `--dir ${dirOpt} is not empty; give a new or empty folder`);
    const dir = dirOpt ?? (await mkdtemp(join(tmpdir(), 'mitid-sim-demo-')));
    await mkdir(join(dir, 'devices'), { recursive: true });
    const rows: Row[] = [];
    const json = flag(ctx, 'json');
    const note = (step: string, who: string, result: string, ok: boolean): boolean => {
      rows.push({ step, who, result, ok });
      if (!json)
        ctx.io.stdout(`${ok ? 'ok  ' : 'FAIL'}  ${step.padEnd(44)} ${who.padEnd(16)} ${result}\n`);
      return ok;
    };
    const expect = (a: Answer, status: number, step: string, who: string, what?: string) =>
      note(
        step,
        who,
        what ??
          (a.status === status
            ? `${a.status}`
            : `${a.status} ${String(a.body.error ?? '')}: ${String(a.body.message ?? '')}`),
        a.status === status,
      );

    const clock = new VirtualClock();
    const svc: RunningService = await startService({
      store: { dataDir: dir },
      clock,
      dispatchIntervalMs: 100,
    });
    const call = api(svc.url);
    const tick = (): void => clock.advance(STEP_MS);
    try {
      note('start the service (SQLite, dev mailbox)', 'service', svc.url, true);

      // The organisation and its administrators (as `mitid-sim org create` makes them).
      const admin = await svc.store.transaction(async (tx) => {
        const org = await tx.organisations.create({ cvr: '91234567', name: 'Demo Byg ApS' });
        const ua = await tx.admins.create({
          organisationId: org.id,
          name: 'Ulla Admin',
          email: 'ulla@demo-byg.example',
          role: 'user-administrator',
        });
        const oa = await tx.admins.create({
          organisationId: org.id,
          name: 'Otto Owner',
          email: 'otto@demo-byg.example',
          role: 'organisation-administrator',
        });
        return {
          org,
          user: await issueAdminToken(tx, ua.id),
          owner: await issueAdminToken(tx, oa.id),
        };
      });
      expect(
        await call(
          'PATCH',
          '/api/admin/settings',
          {
            privateMitIdAllowed: true,
            separateAuthenticators: ['code-display', 'audio-reader', 'chip', 'app'],
            preselected: 'code-display',
          },
          admin.owner,
        ),
        200,
        'organisation settings (organisation admin)',
        'Demo Byg ApS',
      );

      // Seeds: the private MitIDs' code displays (shared pool) and the organisation's tokens.
      const transport = new Uint8Array(randomBytes(16));
      const privateKeys = [1, 2, 3, 4].map((i) => totpKey(`CD1000${i}`));
      const orgKeys = { display: totpKey('CD2000001'), reader: totpKey('AR3000001') };
      const pskc = (keys: OtpKey[]) =>
        toBase64(new TextEncoder().encode(exportPskc(keys, { key: transport })));
      await writeFile(
        join(dir, 'vendor-seeds.pskc'),
        exportPskc([...privateKeys, orgKeys.display, orgKeys.reader], { key: transport }),
        { mode: 0o600 },
      );
      const hexKey = Buffer.from(transport).toString('hex');
      let a = await call('POST', '/api/dev/inventory/seeds', {
        kind: 'code-display',
        file: pskc(privateKeys),
        key: hexKey,
      });
      expect(a, 201, 'import PSKC (private MitID devices)', '4 code displays');
      a = await call(
        'POST',
        '/api/admin/inventory/seeds',
        { kind: 'code-display', file: pskc([orgKeys.display]), key: hexKey },
        admin.user,
      );
      expect(a, 201, 'import PSKC into the inventory', orgKeys.display.serial);
      a = await call(
        'POST',
        '/api/admin/inventory/seeds',
        { kind: 'audio-reader', file: pskc([orgKeys.reader]), key: hexKey },
        admin.user,
      );
      expect(a, 201, 'import PSKC into the inventory', orgKeys.reader.serial);
      expect(
        await call('POST', '/api/admin/inventory/chips', { serial: 'CH4000001' }, admin.user),
        201,
        'add a chip to the inventory',
        'CH4000001',
      );

      // Four people with a private MitID each (a code display and a password).
      const people = [
        { cpr: '010190-1235', name: 'Anna Andersen', userId: 'anna.andersen', birth: undefined },
        { cpr: '020285-2345', name: 'Bent Bach', userId: 'bent.bach', birth: undefined },
        { cpr: '120385-1234', name: 'Cecilie Clausen', userId: 'cecilie.c', birth: '1985-03-12' },
        { cpr: '230477-3456', name: 'Dan Dahl', userId: 'dan.dahl', birth: undefined },
      ] as const;
      const privateDevices: CodeDisplay[] = [];
      for (const [i, p] of people.entries()) {
        const key = privateKeys[i]!;
        const dev = await CodeDisplay.fromKey(key, join(dir, 'devices', `${key.serial}.json`), {
          reference: clock,
        });
        privateDevices.push(dev);
        const proof = await dev.prove({});
        a = await call('POST', '/api/dev/citizens', {
          cpr: p.cpr,
          name: p.name,
          userId: p.userId,
          password: `Privat-kode-${i}-2026`,
          device: { kind: 'code-display', serial: key.serial, code: proof.code },
        });
        expect(a, 201, 'private MitID (code display)', p.userId);
      }
      tick();

      const mailTo = async (email: string): Promise<string> => {
        await svc.drainOutbox();
        const box = await call('GET', `/api/dev/mailbox?to=${encodeURIComponent(email)}`);
        const msgs = (box.body.messages ?? []) as { text: string | null; subject: string | null }[];
        const last = [...msgs].reverse().find((m) => /\/activate\//.test(m.text ?? ''));
        const m = /\/activate\/([A-Za-z0-9_-]+)/.exec(last?.text ?? '');
        return m?.[1] ?? '';
      };
      const smsTo = async (phone: string): Promise<string> => {
        await svc.drainOutbox();
        const box = await call('GET', `/api/dev/sms?to=${encodeURIComponent(phone)}`);
        const msgs = (box.body.messages ?? []) as { text: string }[];
        return /(\d{6})/.exec(msgs.at(-1)?.text ?? '')?.[1] ?? '';
      };

      // Activation, steps shared by every user.
      const start = async (
        who: string,
        email: string,
        personIndex: number,
      ): Promise<string | undefined> => {
        const link = await mailTo(email);
        note('activation e-mail in the dev mailbox', who, link ? 'link found' : 'no link', !!link);
        const page = await call('GET', `/api/activation-links/${link}`);
        const org = (page.body.organisation as { name?: string } | undefined)?.name ?? '';
        expect(page, 200, 'activation page names the organisation', who, org);
        const p = people[personIndex]!;
        const proof = await privateDevices[personIndex]!.prove({});
        tick();
        const started = await call('POST', `/api/activation-links/${link}/start`, {
          userId: p.userId,
          code: proof.code,
          password: `Privat-kode-${personIndex}-2026`,
        });
        expect(started, 200, 'start: log in with private MitID', who);
        const again = await call('GET', `/api/activation-links/${link}`);
        expect(
          again,
          410,
          'the link works once',
          who,
          `${again.status} ${String(again.body.error)}`,
        );
        return started.body.activationToken as string | undefined;
      };
      const step = async (
        token: string,
        path: string,
        body: unknown,
        label: string,
        who: string,
      ): Promise<Answer> => {
        const r = await call('POST', `/api/activation/${path}`, body, token);
        expect(r, 200, label, who);
        return r;
      };
      const finish = async (token: string, who: string, email: string) => {
        await step(token, 'finish', undefined, 'finish activation', who);
        await svc.drainOutbox();
        const box = await call('GET', `/api/dev/mailbox?to=${encodeURIComponent(email)}`);
        const msgs = (box.body.messages ?? []) as { subject: string | null }[];
        note(
          'confirmation e-mail',
          who,
          msgs.some((m) => /aktiveret|activated/i.test(m.subject ?? '')) ? 'received' : 'missing',
          msgs.some((m) => /aktiveret|activated/i.test(m.subject ?? '')),
        );
      };
      const createUser = async (body: Record<string, unknown>, who: string) => {
        const r = await call('POST', '/api/admin/users', body, admin.user);
        expect(r, 201, 'user administrator creates the user', who);
        return r.body as { user: { id: string }; activationCode?: string };
      };
      const separatePart = async (
        token: string,
        who: string,
        userId: string,
        phone: string,
        code?: string,
      ) => {
        await step(token, 'mitid', { mitid: 'separate' }, 'choose a separate MitID', who);
        await step(token, 'user-id', { userId }, 'create the user ID', who);
        if (code !== undefined) {
          const wrong = await call(
            'POST',
            '/api/activation/activation-code',
            { code: 'AAAA-AAAA' },
            token,
          );
          expect(
            wrong,
            400,
            'wrong activation code refused',
            who,
            `${wrong.status}, ${String(wrong.body.triesLeft)} tries left`,
          );
          await step(
            token,
            'activation-code',
            { code },
            'activation code from the administrator',
            who,
          );
        }
        await step(token, 'phone', { phone }, 'phone number (SMS code sent)', who);
        const sms = await smsTo(phone);
        await step(token, 'phone-code', { code: sms }, 'SMS verification code', who);
      };

      // 1. Anna: by CPR, private MitID.
      const anna = await createUser(
        {
          firstName: 'Anna',
          surname: 'Andersen',
          email: 'anna@demo-byg.example',
          cpr: people[0].cpr,
        },
        'anna (private)',
      );
      const t1 = await start('anna (private)', 'anna@demo-byg.example', 0);
      if (t1) {
        await step(t1, 'mitid', { mitid: 'private' }, 'choose private MitID', 'anna (private)');
        await finish(t1, 'anna (private)', 'anna@demo-byg.example');
      }

      // 2. Bent: by CPR, separate MitID on the organisation's code display.
      await createUser(
        { firstName: 'Bent', surname: 'Bach', email: 'bent@demo-byg.example', cpr: people[1].cpr },
        'bent (display)',
      );
      const display = await CodeDisplay.fromKey(
        orgKeys.display,
        join(dir, 'devices', `${orgKeys.display.serial}.json`),
        { reference: clock },
      );
      const t2 = await start('bent (display)', 'bent@demo-byg.example', 1);
      if (t2) {
        await separatePart(t2, 'bent (display)', 'bent.erhverv', '+4520000002');
        await step(
          t2,
          'authenticator',
          { kind: 'code-display' },
          'choose the code display',
          'bent (display)',
        );
        const bound = await display.bind({});
        await step(
          t2,
          'authenticator/activate',
          { serial: bound.serial, code: bound.code },
          'activate: serial + current code',
          'bent (display)',
        );
        await step(
          t2,
          'password',
          { password: 'Bent-erhverv-2026' },
          'choose a password',
          'bent (display)',
        );
        await finish(t2, 'bent (display)', 'bent@demo-byg.example');
      }

      // 3. Cecilie: by date of birth (activation code), separate MitID on the audio reader.
      const cecilie = await createUser(
        {
          firstName: 'Cecilie',
          surname: 'Clausen',
          email: 'cecilie@demo-byg.example',
          birthDate: '1985-03-12',
        },
        'cecilie (audio)',
      );
      note(
        'administrator is shown an activation code',
        'cecilie (audio)',
        cecilie.activationCode ? 'XXXX-XXXX' : 'none',
        /^[A-Z0-9]{4}-[A-Z0-9]{4}$/.test(cecilie.activationCode ?? ''),
      );
      const reader = await AudioReader.fromKey(
        orgKeys.reader,
        join(dir, 'devices', `${orgKeys.reader.serial}.json`),
        { reference: clock, lang: 'da' },
      );
      const t3 = await start('cecilie (audio)', 'cecilie@demo-byg.example', 2);
      if (t3) {
        await separatePart(
          t3,
          'cecilie (audio)',
          'cecilie.erhverv',
          '+4520000003',
          cecilie.activationCode ?? '',
        );
        await step(
          t3,
          'authenticator',
          { kind: 'audio-reader' },
          'choose the audio code reader',
          'cecilie (audio)',
        );
        const bound = await reader.bind({});
        await step(
          t3,
          'authenticator/activate',
          { serial: bound.serial, code: bound.code },
          'activate: serial + spoken code',
          'cecilie (audio)',
        );
        await step(
          t3,
          'password',
          { password: 'Cecilie-lyd-2026' },
          'choose a password',
          'cecilie (audio)',
        );
        await finish(t3, 'cecilie (audio)', 'cecilie@demo-byg.example');
      }

      // 4. Dan: by CPR, separate MitID on the chip (FIDO2 registration as WebAuthn).
      await createUser(
        { firstName: 'Dan', surname: 'Dahl', email: 'dan@demo-byg.example', cpr: people[3].cpr },
        'dan (chip)',
      );
      const chipFile = join(dir, 'devices', 'CH4000001.json');
      await createChipDeviceFile({ serial: 'CH4000001', out: chipFile, press: 'auto' });
      const chip: Authenticator<'chip'> = await openChip(chipFile);
      const origin = new URL(svc.url.replace('127.0.0.1', 'localhost')).origin;
      const t4 = await start('dan (chip)', 'dan@demo-byg.example', 3);
      if (t4) {
        await separatePart(t4, 'dan (chip)', 'dan.erhverv', '+4520000004');
        const prompt = await step(
          t4,
          'authenticator',
          { kind: 'chip' },
          'choose the chip (creation options)',
          'dan (chip)',
        );
        const made = await chip.bind(creationOptionsFromJson(prompt.body.options, { origin }));
        await step(
          t4,
          'authenticator/activate',
          { registration: bindResponseToJson(made), serial: 'CH4000001' },
          'activate: FIDO2 registration',
          'dan (chip)',
        );
        await step(
          t4,
          'password',
          { password: 'Dan-chip-2026!' },
          'choose a password',
          'dan (chip)',
        );
        await finish(t4, 'dan (chip)', 'dan@demo-byg.example');
      }
      // 5. Emil: his private MitID is the app on his own phone; his separate MitID goes into the
      //    app on a work phone, activated by scanning the activation page's QR code.
      const privatePhone = await VirtualPhone.create({
        number: '+4520000005',
        out: join(dir, 'devices', 'phone-emil-private.json'),
        serviceUrl: svc.url,
      });
      const workPhone = await VirtualPhone.create({
        number: '+4520000015',
        out: join(dir, 'devices', 'phone-emil-work.json'),
        serviceUrl: svc.url,
      });
      a = await call('POST', '/api/dev/citizens', {
        cpr: '050580-1239',
        name: 'Emil Eriksen',
        userId: 'emil.eriksen',
        app: { phone: '+4520000005' },
      });
      expect(a, 201, 'private MitID (app on own phone)', 'emil.eriksen');
      const privateApp = MitIdApp.fresh(privatePhone);
      await privateApp.bind({
        userId: 'emil.eriksen',
        activationCode: String(a.body.activationCode),
        pin: '246810',
        biometrics: true,
        mitid: 'private',
      });
      note('app activated: code, SMS PIN, own PIN', 'emil.eriksen', 'biometrics on', true);
      await createUser(
        {
          firstName: 'Emil',
          surname: 'Eriksen',
          email: 'emil@demo-byg.example',
          cpr: '050580-1239',
        },
        'emil (app)',
      );
      {
        const who = 'emil (app)';
        const link = await mailTo('emil@demo-byg.example');
        note('activation e-mail in the dev mailbox', who, link ? 'link found' : 'no link', !!link);
        const pending = await call('POST', `/api/activation-links/${link}/start`, {
          userId: 'emil.eriksen',
        });
        expect(pending, 202, 'start: private MitID app is asked', who, `${pending.status} pending`);
        const chan = pending.body.channel as { code: string } | undefined;
        const req = await privateApp.nextApproval({ timeoutMs: 10_000 });
        await privateApp.answer(req, {
          decision: 'approve',
          channel: channelFromCode(chan?.code ?? ''),
          biometric: true,
        });
        note(
          'swipe in the private app (4-digit code, biometrics)',
          who,
          req.display.text.split(' / ')[1] ?? '',
          true,
        );
        const started = await call(
          'POST',
          `/api/activation-links/${link}/start/app`,
          undefined,
          String(pending.body.startToken),
        );
        expect(started, 200, 'start: approved, the link is used', who);
        const t5 = started.body.activationToken as string | undefined;
        if (t5) {
          await separatePart(t5, who, 'emil.erhverv', '+4520000015');
          const prompt = await step(
            t5,
            'authenticator',
            { kind: 'app', placement: 'new-device' },
            'choose the app on a work phone (QR code)',
            who,
          );
          const qr = (prompt.body.qr as { png: string } | undefined)?.png ?? '';
          const scanned = scanActivationQr(new Uint8Array(Buffer.from(qr, 'base64')));
          const workApp = MitIdApp.fresh(workPhone);
          await workApp.bind({
            userId: scanned.userId,
            activationCode: scanned.activationCode,
            pin: '135799',
            biometrics: true,
            mitid: 'separate',
          });
          note(
            'work app: scan QR, SMS PIN, PIN, biometrics',
            who,
            workApp.serial.slice(0, 8) + '…',
            true,
          );
          const view = await call('GET', '/api/activation', undefined, t5);
          note(
            'the page moves on by itself',
            who,
            String(view.body.step),
            view.body.step === 'finish',
          );
          await finish(t5, who, 'emil@demo-byg.example');
          // Login with the app: the page shows a QR code, the app scans it, the user swipes.
          const s = await call('POST', '/api/login', { userId: 'emil.erhverv' });
          const lq = (s.body.channel as { qr: { png: string } } | undefined)?.qr.png ?? '';
          const seen = scanApprovalQr(new Uint8Array(Buffer.from(lq, 'base64')));
          const lreq = await workApp.nextApproval({ requestId: seen.requestId, timeoutMs: 10_000 });
          const replayable = { ...lreq };
          await workApp.answer(lreq, { decision: 'approve', channel: seen.channel, pin: '135799' });
          const done = await call('POST', '/api/login/app', undefined, String(s.body.loginToken));
          const orgs = ((done.body.organisations ?? []) as { name: string }[])
            .map((o) => o.name)
            .join(', ');
          note(
            'login: user ID, scan QR, swipe with PIN',
            who,
            done.body.done === true ? `as ${orgs}` : `${done.status}`,
            done.body.done === true,
          );
          let replayRefused = false;
          try {
            await workApp.answer(replayable, {
              decision: 'approve',
              channel: seen.channel,
              pin: '135799',
            });
          } catch (e) {
            replayRefused = (e as { code?: string }).code === 'already-answered';
          }
          note(
            'the same approval again (replay)',
            who,
            replayRefused ? '409 already-answered' : 'accepted',
            replayRefused,
          );
          await workApp.close();
        }
      }
      await privateApp.close();

      tick();

      // Logins after activation.
      const loginOtp = async (
        who: string,
        userId: string,
        dev: Authenticator<'code-display'> | Authenticator<'audio-reader'>,
        password: string,
      ) => {
        const s = await call('POST', '/api/login', { userId });
        const token = s.body.loginToken as string;
        const proof = await dev.prove({});
        const c = await call('POST', '/api/login/code', { code: proof.code }, token);
        const p = await call('POST', '/api/login/password', { password }, token);
        const orgs = ((p.body.organisations ?? []) as { name: string }[])
          .map((o) => o.name)
          .join(', ');
        note(
          `login: user ID, ${dev.kind === 'audio-reader' ? 'spoken code' : 'code'}, password`,
          who,
          p.status === 200 ? `as ${orgs}` : `${c.status}/${p.status}`,
          c.status === 200 && p.status === 200 && p.body.done === true,
        );
        return proof.code;
      };
      await loginOtp('anna (private)', people[0].userId, privateDevices[0]!, `Privat-kode-0-2026`);
      const used = await loginOtp('bent (display)', 'bent.erhverv', display, 'Bent-erhverv-2026');
      await loginOtp('cecilie (audio)', 'cecilie.erhverv', reader, 'Cecilie-lyd-2026');
      {
        const s = await call('POST', '/api/login', { userId: 'dan.erhverv' });
        const token = s.body.loginToken as string;
        const p = await call('POST', '/api/login/password', { password: 'Dan-chip-2026!' }, token);
        const ask = requestOptionsFromJson(p.body.chipOptions, { origin });
        const proof = await chip.prove(ask);
        const c = await call('POST', '/api/login/chip', { assertion: proofToJson(proof) }, token);
        const orgs = ((c.body.organisations ?? []) as { name: string }[])
          .map((o) => o.name)
          .join(', ');
        note(
          'login: user ID, password, press the chip',
          'dan (chip)',
          c.status === 200 ? `as ${orgs}` : `${p.status}/${c.status} ${String(c.body.error)}`,
          c.status === 200 && c.body.done === true,
        );
      }

      // Refusals: a replayed code, then three wrong codes block the code display for a while.
      const replay = await call('POST', '/api/validate', { userId: 'bent.erhverv', code: used });
      note(
        'the same code again (replay)',
        'bent (display)',
        `verified: ${String(replay.body.verified)}`,
        replay.body.verified === false,
      );
      for (let i = 0; i < 3; i++)
        await call('POST', '/api/validate', { userId: 'bent.erhverv', code: '000000' });
      tick();
      const fresh = await display.prove({});
      const blocked = await call('POST', '/api/validate', {
        userId: 'bent.erhverv',
        code: fresh.code,
      });
      note(
        '3 wrong codes: right code refused (blocked)',
        'bent (display)',
        `verified: ${String(blocked.body.verified)}`,
        blocked.body.verified === false,
      );
      const view = await call('GET', `/api/admin/users/${anna.user.id}`, undefined, admin.user);
      note(
        "administrator's view of a user",
        'anna (private)',
        String((view.body.user as { status?: string } | undefined)?.status),
        (view.body.user as { status?: string } | undefined)?.status === 'activated',
      );
      const doc = await call('GET', '/openapi.json');
      note(
        'OpenAPI document',
        'service',
        `${Object.keys((doc.body.paths ?? {}) as object).length} paths`,
        doc.status === 200,
      );

      for (const d of privateDevices) await d.close();
      await display.close();
      await reader.close();
      await chip.close();
    } finally {
      await svc.close();
    }

    const ok = rows.every((r) => r.ok);
    if (json) printJson(ctx, { ok, dir, steps: rows });
    else
      ctx.io.stdout(
        `\n${ok ? 'all steps behaved as expected' : 'SOME STEPS FAILED'}; database, device files and seed file are in ${dir}\n`,
      );
    return ok ? 0 : 1;
  },
};

export const commands: Command[] = [demo];

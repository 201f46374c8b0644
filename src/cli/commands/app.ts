/** `phone create|show|sms` and `app activate|approve`: the virtual phone and the MitID app on it. */
import { readFile } from 'node:fs/promises';
import { DeviceError, UsageError } from '../../core/errors.js';
import {
  type ChannelBinding,
  MitIdApp,
  VirtualPhone,
  channelFromCode,
  checkPin,
  nextApprovalForAny,
  scanActivationQr,
  scanApprovalQr,
} from '../../../devices/app/index.js';
import { flag, printJson, req, str, type Command, type CommandContext } from '../command.js';

/** Where a PIN may come from besides --pin: the environment, so it stays out of the process list. */
const PIN_ENV = 'MITID_SIM_APP_PIN';

async function readPng(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError('usage', `--qr ${path}: cannot be read (${code ?? 'error'})`);
  }
}

function pinOption(ctx: CommandContext): string | undefined {
  const pin = str(ctx, 'pin') ?? process.env[PIN_ENV];
  if (pin === undefined || pin === '') return undefined;
  try {
    return checkPin(pin);
  } catch {
    throw new UsageError('usage', '--pin must be 6 digits');
  }
}

/** How the app words the requests it knows. */
const ACTIONS: Readonly<Record<string, string>> = {
  login: 'log in',
  'activation-start': 'start an activation with your private MitID',
};

function seconds(ctx: CommandContext, name: string, dflt: number): number {
  const v = str(ctx, name);
  if (v === undefined) return dflt;
  if (!/^\d+(\.\d+)?$/.test(v) || Number(v) <= 0 || Number(v) > 86_400)
    throw new UsageError('usage', `--${name} must be a number of seconds from 1 to 86400`);
  return Number(v) * 1000;
}

const phoneCreate: Command = {
  path: ['phone', 'create'],
  summary: 'make a virtual phone (for the MitID app) in a device file',
  usage: 'phone create --number NUMBER --out FILE [--service URL] [--json]',
  help: `Options:
  --number NUMBER   the phone number in E.164 form, e.g. +4520000002
  --out FILE        the device file to write (mode 0600); it must not exist
  --service URL     the activation service the app talks to (default http://localhost:8080)
  --json            print what was made as JSON`,
  options: {
    number: { type: 'string' },
    out: { type: 'string' },
    service: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const number = req(ctx, 'number');
    const out = req(ctx, 'out');
    const service = str(ctx, 'service');
    const phone = await VirtualPhone.create({
      number,
      out,
      ...(service === undefined ? {} : { serviceUrl: service }),
    });
    if (flag(ctx, 'json'))
      printJson(ctx, { kind: 'app', number: phone.number, file: out, service: phone.serviceUrl });
    else ctx.io.stdout(`made phone ${phone.number} in ${out} (service ${phone.serviceUrl})\n`);
  },
};

const phoneShow: Command = {
  path: ['phone', 'show'],
  summary: 'the phone number, its service and the MitIDs in its app (no secrets)',
  usage: 'phone show FILE [--json]',
  help: `Options:
  --json   print as JSON`,
  positionals: [1, 1],
  options: { json: { type: 'boolean' } },
  async run(ctx) {
    const phone = await VirtualPhone.open(ctx.positionals[0]!);
    const ids = phone.identities.map((i) => ({
      userId: i.userId,
      appId: i.appId,
      mitid: i.mitid,
      placement: i.placement,
      biometrics: i.biometrics,
      activatedAt: i.activatedAt,
    }));
    if (flag(ctx, 'json'))
      printJson(ctx, { number: phone.number, service: phone.serviceUrl, identities: ids });
    else {
      ctx.io.stdout(`phone ${phone.number}, service ${phone.serviceUrl}\n`);
      if (ids.length === 0) ctx.io.stdout('the MitID app is not activated\n');
      for (const i of ids)
        ctx.io.stdout(
          `${i.mitid} MitID ${i.userId}: app ${i.appId}, ${i.placement}, biometrics ${i.biometrics ? 'on' : 'off'}\n`,
        );
    }
  },
};

const phoneSms: Command = {
  path: ['phone', 'sms'],
  summary: "the phone's SMS inbox, fetched from the service",
  usage: 'phone sms FILE [--json]',
  help: `Fetches the messages the service has sent to the phone's number and keeps them in the
device file. Shows the whole inbox, oldest first; new ones are marked with *.

Options:
  --json   print as JSON`,
  positionals: [1, 1],
  options: { json: { type: 'boolean' } },
  async run(ctx) {
    const phone = await VirtualPhone.open(ctx.positionals[0]!);
    const fresh = new Set((await phone.fetchSms({ signal: ctx.signal })).map((m) => m.id));
    const list = phone.inbox.map((m) => ({ ...m, new: fresh.has(m.id) }));
    if (flag(ctx, 'json')) printJson(ctx, { number: phone.number, messages: list });
    else if (list.length === 0) ctx.io.stdout(`no messages for ${phone.number}\n`);
    else
      for (const m of list)
        ctx.io.stdout(`${m.new ? '*' : ' '} ${m.createdAt}  ${m.text.replace(/\s+/g, ' ')}\n`);
  },
};

const appActivate: Command = {
  path: ['app', 'activate'],
  summary: 'activate the MitID app on a virtual phone (user ID + activation code, or the QR code)',
  usage:
    'app activate FILE --user-id ID --code CODE [--service URL] [--pin PIN] [--biometrics] [--qr PNGFILE]',
  help: `Goes through the app's activation: the user ID and activation code (typed, or read from the
activation page's QR code with --qr), the temporary PIN from the SMS the service sends to the phone,
a 6-digit PIN chosen and repeated, biometrics if asked for, and notifications allowed. The key pair
is made on the phone; the service gets its public key and a signed proof.

Options:
  --user-id ID       the MitID user ID shown on the activation page
  --code CODE        the activation code shown on the activation page (XXXX-XXXX)
  --qr PNGFILE       read the user ID and code from the page's QR code (a PNG picture) instead
  --pin PIN          the 6-digit PIN to choose (or set ${PIN_ENV}); never printed
  --pin-repeat PIN   the PIN typed again (default: the same)
  --biometrics       turn on biometrics (refused for a separate MitID on the private phone)
  --private          this is the private MitID (default: a separate MitID)
  --service URL      use this service from now on
  --sms-wait SECONDS how long to wait for the temporary PIN's SMS (default 30)
  --temporary-pin P  the 8-digit temporary PIN, typed (for a service whose SMS reach a real phone)
  --json             print the result as JSON`,
  positionals: [1, 1],
  options: {
    'user-id': { type: 'string' },
    code: { type: 'string' },
    qr: { type: 'string' },
    pin: { type: 'string' },
    'pin-repeat': { type: 'string' },
    biometrics: { type: 'boolean' },
    private: { type: 'boolean' },
    service: { type: 'string' },
    'sms-wait': { type: 'string' },
    'temporary-pin': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const qr = str(ctx, 'qr');
    const temporaryPin = str(ctx, 'temporary-pin');
    if (temporaryPin !== undefined && !/^\d{8}$/.test(temporaryPin))
      throw new UsageError('usage', '--temporary-pin must be the 8 digits from the SMS');
    let userId = str(ctx, 'user-id');
    let code = str(ctx, 'code');
    if (qr !== undefined) {
      if (userId !== undefined || code !== undefined)
        throw new UsageError('usage', 'give --qr or --user-id and --code, not both');
      ({ userId, activationCode: code } = scanActivationQr(await readPng(qr)));
    } else {
      userId = req(ctx, 'user-id');
      code = req(ctx, 'code');
    }
    const pin = pinOption(ctx);
    if (pin === undefined) throw new UsageError('usage', `--pin is required (or set ${PIN_ENV})`);
    const repeat = str(ctx, 'pin-repeat');
    const smsTimeoutMs = seconds(ctx, 'sms-wait', 30_000);
    const phone = await VirtualPhone.open(ctx.positionals[0]!);
    const service = str(ctx, 'service');
    if (service !== undefined) await phone.setServiceUrl(service);
    const app = MitIdApp.fresh(phone);
    const bound = await app.bind({
      userId,
      activationCode: code,
      pin,
      ...(repeat === undefined ? {} : { pinRepeat: repeat }),
      biometrics: flag(ctx, 'biometrics'),
      notifications: true,
      mitid: flag(ctx, 'private') ? 'private' : 'separate',
      smsTimeoutMs,
      ...(temporaryPin === undefined ? {} : { temporaryPin }),
    });
    const id = app.identity();
    if (flag(ctx, 'json'))
      printJson(ctx, {
        userId: id.userId,
        appId: bound.appId,
        phone: phone.number,
        mitid: id.mitid,
        placement: id.placement,
        biometrics: id.biometrics,
      });
    else
      ctx.io.stdout(
        `activated ${id.mitid} MitID ${id.userId} in the app on ${phone.number}: app ${bound.appId}, biometrics ${id.biometrics ? 'on' : 'off'}\n`,
      );
  },
};

const appApprove: Command = {
  path: ['app', 'approve'],
  summary: 'wait for the next approval request, show it, and approve (swipe) or reject it',
  usage:
    'app approve FILE [--reject] [--pin PIN] [--code 1234 | --qr PNGFILE] [--wait SECONDS] [--json]',
  help: `Waits for the next approval request (a notification over the service's event stream, with
the pending list as a fallback), shows who asks and what, and answers it. The app proves it saw
the page that asked: scan its QR code (--qr, a PNG picture) or type its 4-digit code (--code).
Approving needs the PIN, or biometrics when the MitID has them on.

Options:
  --reject           reject instead of approving
  --pin PIN          the app PIN (or set ${PIN_ENV}); default: biometrics if turned on
  --code 1234        the 4-digit code the page shows
  --qr PNGFILE       the page's QR code (a PNG picture); only its request is answered
  --user-id ID       which MitID in the app (default: any)
  --wait SECONDS     how long to wait for a request (default 60)
  --json             print the request and the answer as JSON`,
  positionals: [1, 1],
  options: {
    reject: { type: 'boolean' },
    pin: { type: 'string' },
    code: { type: 'string' },
    qr: { type: 'string' },
    'user-id': { type: 'string' },
    wait: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const codeText = str(ctx, 'code');
    const qr = str(ctx, 'qr');
    if (codeText !== undefined && qr !== undefined)
      throw new UsageError('usage', 'give --code or --qr, not both');
    if (codeText === undefined && qr === undefined)
      throw new UsageError(
        'usage',
        'scan the QR code (--qr PNGFILE) or type the 4-digit code (--code 1234) from the page',
      );
    let channel: ChannelBinding;
    let requestId: string | undefined;
    if (qr !== undefined) {
      const scanned = scanApprovalQr(await readPng(qr));
      channel = scanned.channel;
      requestId = scanned.requestId;
    } else {
      try {
        channel = channelFromCode(codeText!);
      } catch {
        throw new UsageError('usage', '--code must be the 4 digits the page shows');
      }
    }
    const reject = flag(ctx, 'reject');
    const pin = pinOption(ctx);
    const timeoutMs = seconds(ctx, 'wait', 60_000);
    const phone = await VirtualPhone.open(ctx.positionals[0]!);
    const which = str(ctx, 'user-id');
    const apps =
      which !== undefined
        ? [MitIdApp.select(phone, which)]
        : phone.identities.map((i) => MitIdApp.select(phone, i.appId));
    if (apps.length === 0)
      throw new DeviceError('no-identity', 'the app on this phone is not activated yet');
    if (!reject && pin === undefined && !apps.some((a) => a.identity().biometrics))
      throw new UsageError('usage', `approving needs --pin (or ${PIN_ENV}); biometrics are off`);
    const { app, approval } = await nextApprovalForAny(apps, {
      timeoutMs,
      signal: ctx.signal,
      ...(requestId === undefined ? {} : { requestId }),
    });
    const id = app.identity();
    const json = flag(ctx, 'json');
    if (!json) {
      const d = approval.display;
      const what = ACTIONS[d.action] ?? (d.action || 'approve a request');
      ctx.io.stdout(`${id.userId}: ${d.service || 'a service'} asks you to ${what}\n`);
      if (d.text) ctx.io.stdout(`  ${d.text.replace(/\s+/g, ' ')}\n`);
    }
    if (!reject && pin === undefined && !id.biometrics)
      throw new UsageError('usage', `approving needs --pin (or ${PIN_ENV}); biometrics are off`);
    await app.answer(approval, {
      decision: reject ? 'reject' : 'approve',
      channel,
      ...(reject ? {} : pin !== undefined ? { pin } : { biometric: true }),
      signal: ctx.signal,
    });
    if (json)
      printJson(ctx, {
        userId: id.userId,
        appId: id.appId,
        requestId: approval.requestId,
        display: approval.display,
        decision: reject ? 'reject' : 'approve',
        with: reject ? null : pin !== undefined ? 'pin' : 'biometrics',
        channel: channel.type,
        ok: true,
      });
    else
      ctx.io.stdout(
        reject ? 'rejected\n' : `approved (${pin !== undefined ? 'PIN' : 'biometrics'})\n`,
      );
  },
};

/** The phone and app verbs (registered in the CLI's command list). */
export const commands: Command[] = [phoneCreate, phoneShow, phoneSms, appActivate, appApprove];

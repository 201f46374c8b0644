/** `device create chip` and `chip serve|press|list|info|register|authenticate`: the chip from a terminal. */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fromBase64Url, toBase64Url } from '../../core/bytes.js';
import { UsageError } from '../../core/errors.js';
import { listHidDevices } from '../../hid/list.js';
import {
  parseUdpAddress,
  formatUdpAddress,
  UDP_DEVICE_PORT,
  UDP_HOST_PORT,
} from '../../hid/udp.js';
import type { Chip } from '../../../devices/chip/chip.js';
import { openChipWith } from '../../../devices/chip/open.js';
import {
  CA_CERT_FILE,
  CA_KEY_FILE,
  certificatePem,
  createChipCaFiles,
  createChipDeviceFile,
  findChipFiles,
  loadChipCa,
  readChipCaCertificate,
  isPressMode,
  pressServedChip,
  serveChipFile,
  type PressMode,
} from '../../../devices/chip/virtual.js';
import { parseAuthData } from '../../../devices/chip/webauthn.js';
import { decodeCbor } from '../../ctap/cbor.js';
import { flag, printJson, req, str, type Command, type CommandContext } from '../command.js';

const DEFAULT_RP = 'mitid.dk';

function pressOption(ctx: CommandContext): PressMode | undefined {
  const p = str(ctx, 'press');
  if (p === undefined) return undefined;
  if (!isPressMode(p)) throw new UsageError('usage', '--press must be auto, manual or deny');
  return p;
}

function portOption(ctx: CommandContext, name: string): number | undefined {
  const v = str(ctx, name);
  if (v === undefined) return undefined;
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535)
    throw new UsageError('usage', `--${name} must be a port number 0-65535`);
  return Number(v);
}

function challengeOption(ctx: CommandContext): Uint8Array {
  const c = str(ctx, 'challenge');
  if (c === undefined) return new Uint8Array(randomBytes(32));
  let b: Uint8Array;
  try {
    b = fromBase64Url(c, '--challenge');
  } catch {
    throw new UsageError('usage', '--challenge must be base64url');
  }
  if (b.length < 16) throw new UsageError('usage', '--challenge must be at least 16 bytes');
  return b;
}

function uvOption(ctx: CommandContext): 'required' | 'preferred' | 'discouraged' | undefined {
  const v = str(ctx, 'uv');
  if (v === undefined) return undefined;
  if (v !== 'required' && v !== 'preferred' && v !== 'discouraged') {
    throw new UsageError('usage', '--uv must be required, preferred or discouraged');
  }
  return v;
}

/** Opens --device, tells the user when to touch, and always closes. */
async function withChip<T>(ctx: CommandContext, fn: (chip: Chip) => Promise<T>): Promise<T> {
  const device = req(ctx, 'device');
  const localPort = portOption(ctx, 'local-port');
  const press = pressOption(ctx);
  const json = flag(ctx, 'json');
  const { chip } = await openChipWith(device, {
    ...(localPort === undefined ? {} : { localPort }),
    ...(press === undefined ? {} : { press }),
    onUserPresence: () => {
      if (!json) ctx.io.stderr('touch the chip (press its button) ...\n');
    },
  });
  // Ctrl-C reaches the calls as an AbortSignal: the driver sends CTAPHID_CANCEL, so the chip
  // stops waiting for a touch and is free for the next client at once.
  try {
    return await fn(chip);
  } finally {
    await chip.close();
  }
}

const deviceOptions = {
  device: { type: 'string' },
  pin: { type: 'string' },
  'local-port': { type: 'string' },
  press: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const DEVICE_HELP = `  --device ADDR     udp:HOST:PORT (a chip served over UDP), hid:PATH (a real key; hid: takes the
                    first), or a chip device file (runs the chip in this process)
  --pin PIN         the chip's PIN, when it has one (never printed or logged)
  --local-port N    UDP: the port answers come back to (default ${UDP_HOST_PORT}; 0 picks a free one)
  --press MODE      device file only: auto (default), manual (never comes) or deny
  --json            print the result as JSON`;

const createChip: Command = {
  path: ['device', 'create', 'chip'],
  summary: 'make a virtual chip (a new FIDO2 key with its own attestation) in a device file',
  usage:
    'device create chip --serial SERIAL --out FILE [--ca DIR] [--pin PIN] [--press auto|manual|deny] [--deterministic] [--json]',
  help: `Options:
  --serial SERIAL   the serial number printed on the chip (letters, digits, . _ -)
  --out FILE        the device file to write; it must not exist
  --ca DIR          the test CA (from 'mitid-sim chip ca create --out DIR') that issues the chip's
                    attestation certificate, so a relying party can trust one root for all chips.
                    Without --ca each chip gets a test CA of its own, whose key is thrown away;
                    its certificate stays in the device file: 'mitid-sim chip ca show FILE'
  --pin PIN         set this PIN on the new chip (4-63 characters)
  --press MODE      how its button behaves when served or opened: auto (default), manual, deny
  --deterministic   sign with RFC 6979 nonces instead of random ones, so the same key and message
                    give the same signature bytes every run (reproducible test output; slower)
  --json            print what was made as JSON`,
  options: {
    serial: { type: 'string' },
    out: { type: 'string' },
    ca: { type: 'string' },
    pin: { type: 'string' },
    press: { type: 'string' },
    deterministic: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const serial = req(ctx, 'serial');
    const out = req(ctx, 'out');
    const pin = str(ctx, 'pin');
    const press = pressOption(ctx);
    const caDir = str(ctx, 'ca');
    const deterministic = flag(ctx, 'deterministic');
    const ca = caDir === undefined ? undefined : await loadChipCa(caDir);
    const made = await createChipDeviceFile({
      serial,
      out,
      ...(ca ? { ca } : {}),
      ...(deterministic ? { deterministicSignatures: true } : {}),
      ...(pin === undefined ? {} : { pin }),
      ...(press ? { press } : {}),
    });
    if (flag(ctx, 'json'))
      printJson(ctx, {
        kind: 'chip',
        serial,
        file: out,
        aaguid: made.aaguid,
        pinSet: pin !== undefined,
        ca: caDir ?? null,
        deterministicSignatures: deterministic,
      });
    else
      ctx.io.stdout(
        `made chip ${serial} in ${out}${pin !== undefined ? ' (PIN set)' : ''}${deterministic ? ', signing with RFC 6979 nonces' : ''}${caDir === undefined ? ', with a test CA of its own' : `, certified by the CA in ${caDir}`}\n`,
      );
  },
};

const caCreate: Command = {
  path: ['chip', 'ca', 'create'],
  summary: 'make a test CA that issues the attestation certificates of virtual chips',
  usage: 'chip ca create --out DIR [--json]',
  help: `Writes a P-256 test CA into DIR (made if missing): ${CA_KEY_FILE} (PKCS#8 PEM, mode 0600)
and ${CA_CERT_FILE} (self-signed, PEM). 'mitid-sim device create chip --ca DIR' then certifies
each new chip under it; a relying party that trusts ${CA_CERT_FILE} accepts all of them.
A test CA only: it is not a FIDO Metadata Service root, and its key is a plain file.

Options:
  --out DIR   where to write the CA; an existing CA there is not overwritten
  --json      print the file names as JSON`,
  options: { out: { type: 'string' }, json: { type: 'boolean' } },
  async run(ctx) {
    const made = await createChipCaFiles(req(ctx, 'out'));
    if (flag(ctx, 'json')) return printJson(ctx, { key: made.keyFile, certificate: made.certFile });
    ctx.io.stdout(
      `made a test CA: key ${made.keyFile} (keep it private), certificate ${made.certFile}\n`,
    );
  },
};

const caShow: Command = {
  path: ['chip', 'ca', 'show'],
  summary: "print the CA certificate that issued a virtual chip's attestation (PEM)",
  usage: 'chip ca show FILE [--out PEM]',
  help: `Prints (or writes to --out) the certificate of the CA that issued the chip's attestation
certificate, as PEM: the root a relying party trusts for this chip.

Options:
  --out PEM   write the certificate to this file instead of printing it`,
  positionals: [1, 1],
  options: { out: { type: 'string' } },
  async run(ctx) {
    const text = certificatePem(await readChipCaCertificate(ctx.positionals[0]!));
    const out = str(ctx, 'out');
    if (out === undefined) return ctx.io.stdout(text);
    await writeFile(out, text, { mode: 0o644 });
    ctx.io.stdout(`wrote ${out}\n`);
  },
};

const serve: Command = {
  path: ['chip', 'serve'],
  summary: 'serve a chip device file over UDP (the SoloKeys simulator convention) until Ctrl-C',
  usage:
    'chip serve FILE [--udp [HOST:]PORT] [--host-port PORT|sender] [--press auto|manual|deny] [--json]',
  help: `Listens for 64-byte HID reports as UDP datagrams and answers to the sender's host on the
host port, as the SoloKeys desktop simulator does, so any FIDO client with a UDP backend can
use the chip. The chip's state is saved to FILE after every command that changed it.

Options:
  --udp [HOST:]PORT   where to listen (default 127.0.0.1:${UDP_DEVICE_PORT}; port 0 picks a free one)
  --host-port P       where answers go: a port (default ${UDP_HOST_PORT}), or 'sender' for the port each
                      request came from
  --press MODE        auto: the button is pressed whenever the chip asks (default)
                      manual: press Enter in this terminal, or run 'mitid-sim chip press FILE'
                      deny: every request for a touch is refused
  --json              print one JSON line when listening, then one per event

Stops on Ctrl-C (SIGINT) or SIGTERM.`,
  positionals: [1, 1],
  options: {
    udp: { type: 'string' },
    'host-port': { type: 'string' },
    press: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const file = ctx.positionals[0]!;
    const udp = str(ctx, 'udp');
    const listen =
      udp === undefined
        ? { host: '127.0.0.1', port: UDP_DEVICE_PORT }
        : parseUdpAddress(`udp:${udp}`);
    const hp = str(ctx, 'host-port');
    let hostPort: number | 'sender' = UDP_HOST_PORT;
    if (hp === 'sender') hostPort = 'sender';
    else if (hp !== undefined) hostPort = portOption(ctx, 'host-port')!;
    const press = pressOption(ctx);
    const json = flag(ctx, 'json');
    const say = (event: string, data: Record<string, unknown>, text: string) =>
      ctx.io.stdout(json ? `${JSON.stringify({ event, ...data })}\n` : `${text}\n`);
    const served = await serveChipFile(file, {
      host: listen.host,
      port: listen.port,
      hostPort,
      ...(press ? { press } : {}),
      onUserPresence: () =>
        say('touch', {}, 'the chip waits for a touch: press Enter (or run mitid-sim chip press)'),
      onPress: (by) => say('press', { by }, `button pressed (${by})`),
      onReboot: () => say('reboot', {}, 'power cycled by the reboot datagram'),
      onWink: () => say('wink', {}, 'wink: a host asked the chip to show itself'),
    });
    const where = formatUdpAddress(served.address);
    say(
      'listening',
      { serial: served.serial, udp: where, hostPort, press: served.press },
      `chip ${served.serial} listening on ${where}, answering to ${hostPort === 'sender' ? "the sender's port" : `port ${hostPort}`}; press: ${served.press}` +
        (served.press === 'manual'
          ? `\npress Enter here, or run: mitid-sim chip press ${file}`
          : '') +
        '\nCtrl-C stops',
    );
    // Enter in this terminal presses the button (manual mode); reading stdin is harmless otherwise.
    const rl = served.press === 'manual' ? createInterface({ input: process.stdin }) : undefined;
    rl?.on('line', () => served.pressButton('terminal'));
    try {
      await new Promise<void>((resolve) => {
        if (ctx.signal.aborted) return resolve();
        ctx.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      rl?.close();
      await served.close();
    }
    say('stopped', {}, 'stopped; state saved');
  },
};

const press: Command = {
  path: ['chip', 'press'],
  summary: "press the button of a chip that 'chip serve' is serving",
  usage: 'chip press FILE|udp:HOST:PORT',
  help: `Presses the button once, as a finger would: it answers the request that is waiting for a
touch (serve --press manual). FILE finds the serve process through the note it leaves beside
the file; udp:HOST:PORT names the server directly. The server acknowledges the press with a
datagram; without one within 1 s the command fails (nothing serves there).`,
  positionals: [1, 1],
  async run(ctx) {
    const where = await pressServedChip(ctx.positionals[0]!);
    ctx.io.stdout(`pressed (${where})\n`);
  },
};

const list: Command = {
  path: ['chip', 'list'],
  summary: 'list chips: device files here, UDP simulators answering, real keys (node-hid)',
  usage: 'chip list [--dir DIR] [--udp udp:HOST:PORT]... [--local-port N] [--json]',
  help: `Options:
  --dir DIR        where to look for chip device files (default: the current directory)
  --udp ADDR       a UDP address to probe (repeatable; default udp:127.0.0.1:${UDP_DEVICE_PORT})
  --local-port N   the port UDP probes listen on (default ${UDP_HOST_PORT}, the convention)
  --json           print the list as JSON`,
  options: {
    dir: { type: 'string' },
    udp: { type: 'string', multiple: true },
    'local-port': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const files = await findChipFiles(str(ctx, 'dir') ?? '.');
    const udp = ctx.values.udp as string[] | undefined;
    const localPort = portOption(ctx, 'local-port');
    const listing = await listHidDevices({
      ...(udp ? { udp } : {}),
      ...(localPort === undefined ? {} : { udpLocalPort: localPort }),
    });
    const rows = [
      ...files.map((f) => ({ transport: 'file', path: f.path, serial: f.serial })),
      ...listing.devices.map((d) => ({
        transport: d.transport,
        path: d.path,
        ...(d.product ? { product: d.product } : {}),
        ...(d.serialNumber ? { serial: d.serialNumber } : {}),
      })),
    ];
    if (flag(ctx, 'json')) return printJson(ctx, { chips: rows, notes: listing.notes });
    if (rows.length === 0) ctx.io.stdout('no chips found\n');
    for (const r of rows)
      ctx.io.stdout(
        `${r.transport}\t${r.path}${'serial' in r && r.serial ? `\t${r.serial}` : ''}\n`,
      );
    for (const n of listing.notes) ctx.io.stderr(`note: ${n}\n`);
  },
};

const info: Command = {
  path: ['chip', 'info'],
  summary: 'show what a chip says about itself (CTAP2 getInfo, PIN state)',
  usage: 'chip info --device udp:HOST:PORT|hid:PATH|FILE [--json]',
  help: `Options:\n${DEVICE_HELP}`,
  options: deviceOptions,
  async run(ctx) {
    await withChip(ctx, async (chip) => {
      const i = await chip.info();
      const pinRetries = i.options.clientPin === true ? await chip.pinRetries() : undefined;
      const data = {
        serial: chip.serialNumber ?? null,
        transport: chip.hid.transport.descriptor.transport,
        versions: i.versions,
        extensions: i.extensions,
        aaguid: Buffer.from(i.aaguid).toString('hex'),
        options: i.options,
        pinUvAuthProtocols: i.pinUvAuthProtocols,
        ...(i.maxMsgSize === undefined ? {} : { maxMsgSize: i.maxMsgSize }),
        ...(i.transports ? { transports: i.transports } : {}),
        ...(i.firmwareVersion === undefined ? {} : { firmwareVersion: i.firmwareVersion }),
        ...(pinRetries === undefined ? {} : { pinRetries }),
        hid: chip.hid.info,
      };
      if (flag(ctx, 'json')) return printJson(ctx, data);
      const opts = Object.entries(i.options)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      ctx.io.stdout(
        [
          `serial      ${chip.serial}`,
          `versions    ${i.versions.join(' ')}`,
          `aaguid      ${data.aaguid}`,
          `extensions  ${i.extensions.join(' ') || '-'}`,
          `options     ${opts || '-'}`,
          `pin         ${i.options.clientPin === true ? `set, ${pinRetries} tries left` : i.options.clientPin === false ? 'not set' : 'not supported'}`,
          `protocols   ${i.pinUvAuthProtocols.join(' ') || '-'}`,
        ].join('\n') + '\n',
      );
    });
  },
};

const rpOptions = {
  ...deviceOptions,
  rp: { type: 'string' },
  origin: { type: 'string' },
  challenge: { type: 'string' },
  uv: { type: 'string' },
} as const;

const RP_HELP = `  --rp ID           the relying party ID (default ${DEFAULT_RP})
  --origin URL      the origin written into clientDataJSON (default https://RP)
  --challenge B64   the challenge, base64url (default: 32 random bytes)
  --uv MODE         user verification: required, preferred (default) or discouraged`;

function origin(ctx: CommandContext, rp: string): string {
  return str(ctx, 'origin') ?? `https://${rp}`;
}

const register: Command = {
  path: ['chip', 'register'],
  summary: 'register a credential on a chip (WebAuthn create) and print the attestation',
  usage:
    'chip register --device udp:HOST:PORT|hid:PATH|FILE [--rp ID] [--user NAME] [--resident] [--pin PIN] [--json]',
  help: `Options:
${DEVICE_HELP}
${RP_HELP}
  --user NAME       the account name (default: user); its ID is random unless --user-id is given
  --user-id B64     the user handle, base64url
  --resident        make a discoverable credential (logins without a credential ID)

Prints the credential ID (needed by 'chip authenticate --credential') and the WebAuthn response
a relying party verifies: clientDataJSON and attestationObject, base64url.`,
  options: {
    ...rpOptions,
    user: { type: 'string' },
    'user-id': { type: 'string' },
    resident: { type: 'boolean' },
  },
  async run(ctx) {
    const rp = str(ctx, 'rp') ?? DEFAULT_RP;
    const user = str(ctx, 'user') ?? 'user';
    const uid = str(ctx, 'user-id');
    const userId =
      uid === undefined ? new Uint8Array(randomBytes(16)) : fromBase64Url(uid, '--user-id');
    const challenge = challengeOption(ctx);
    const pin = str(ctx, 'pin');
    const uv = uvOption(ctx);
    await withChip(ctx, async (chip) => {
      const r = await chip.bind(
        {
          challenge,
          rp: { id: rp, name: rp },
          user: { id: userId, name: user, displayName: user },
          origin: origin(ctx, rp),
          ...(flag(ctx, 'resident') ? { residentKey: true } : {}),
          ...(uv ? { userVerification: uv } : {}),
          ...(pin === undefined ? {} : { pin }),
        },
        { signal: ctx.signal },
      );
      const att = decodeCbor(r.attestationObject, { canonical: false }) as Map<string, unknown>;
      const authData = parseAuthData(att.get('authData') as Uint8Array);
      const data = {
        serial: chip.serialNumber ?? null,
        rpId: rp,
        origin: origin(ctx, rp),
        credentialId: toBase64Url(r.credentialId),
        userId: toBase64Url(userId),
        challenge: toBase64Url(challenge),
        fmt: att.get('fmt'),
        signCount: authData.signCount,
        userVerified: (authData.flags & 0x04) !== 0,
        response: {
          clientDataJSON: toBase64Url(r.clientDataJSON),
          attestationObject: toBase64Url(r.attestationObject),
          transports: r.transports,
        },
      };
      if (flag(ctx, 'json')) return printJson(ctx, data);
      ctx.io.stdout(
        `registered on chip ${chip.serial} for ${rp}\ncredential  ${data.credentialId}\nattestation ${String(data.fmt)}, user verified: ${data.userVerified ? 'yes' : 'no'}\n`,
      );
    });
  },
};

const authenticate: Command = {
  path: ['chip', 'authenticate'],
  summary: 'log in with a chip (WebAuthn get) and print the assertion',
  usage:
    'chip authenticate --device udp:HOST:PORT|hid:PATH|FILE [--rp ID] [--credential ID] [--pin PIN] [--json]',
  help: `Options:
${DEVICE_HELP}
${RP_HELP}
  --credential ID   the credential ID from 'chip register' (base64url; repeatable); without it
                    the chip uses its discoverable credentials for the relying party`,
  options: { ...rpOptions, credential: { type: 'string', multiple: true } },
  async run(ctx) {
    const rp = str(ctx, 'rp') ?? DEFAULT_RP;
    const creds = ((ctx.values.credential as string[] | undefined) ?? []).map((c) => {
      try {
        return fromBase64Url(c, '--credential');
      } catch {
        throw new UsageError('usage', '--credential must be base64url');
      }
    });
    const challenge = challengeOption(ctx);
    const pin = str(ctx, 'pin');
    const uv = uvOption(ctx);
    await withChip(ctx, async (chip) => {
      const p = await chip.prove(
        {
          challenge,
          rpId: rp,
          origin: origin(ctx, rp),
          ...(creds.length ? { allowCredentials: creds } : {}),
          ...(uv ? { userVerification: uv } : {}),
          ...(pin === undefined ? {} : { pin }),
        },
        { signal: ctx.signal },
      );
      const ad = parseAuthData(p.authenticatorData);
      const data = {
        serial: chip.serialNumber ?? null,
        rpId: rp,
        origin: origin(ctx, rp),
        credentialId: toBase64Url(p.credentialId),
        challenge: toBase64Url(challenge),
        signCount: ad.signCount,
        userVerified: (ad.flags & 0x04) !== 0,
        ...(p.userHandle ? { userHandle: toBase64Url(p.userHandle) } : {}),
        response: {
          clientDataJSON: toBase64Url(p.clientDataJSON),
          authenticatorData: toBase64Url(p.authenticatorData),
          signature: toBase64Url(p.signature),
          ...(p.userHandle ? { userHandle: toBase64Url(p.userHandle) } : {}),
        },
      };
      if (flag(ctx, 'json')) return printJson(ctx, data);
      ctx.io.stdout(
        `signed by chip ${chip.serial} for ${rp}\ncredential  ${data.credentialId}\ncounter     ${data.signCount}, user verified: ${data.userVerified ? 'yes' : 'no'}\n`,
      );
    });
  },
};

const pin: Command = {
  path: ['chip', 'pin'],
  summary: "set or change a chip's PIN (CTAP2 clientPIN)",
  usage: 'chip pin --device udp:HOST:PORT|hid:PATH|FILE --new PIN [--pin CURRENT] [--json]',
  help: `Sets the first PIN of a chip that has none, or changes it when --pin gives the current one.
PINs are 4 to 63 characters; they are never printed or logged.

Options:
${DEVICE_HELP}
  --new PIN         the new PIN`,
  options: { ...deviceOptions, new: { type: 'string' } },
  async run(ctx) {
    const next = req(ctx, 'new');
    const current = str(ctx, 'pin');
    await withChip(ctx, async (chip) => {
      if (current === undefined) await chip.setPin(next, { signal: ctx.signal });
      else await chip.changePin(current, next, { signal: ctx.signal });
      const retries = await chip.pinRetries();
      if (flag(ctx, 'json'))
        return printJson(ctx, {
          serial: chip.serialNumber ?? null,
          pinSet: true,
          changed: current !== undefined,
          pinRetries: retries,
        });
      ctx.io.stdout(`PIN ${current === undefined ? 'set' : 'changed'} on chip ${chip.serial}\n`);
    });
  },
};

const reset: Command = {
  path: ['chip', 'reset'],
  summary: 'wipe every credential and the PIN from a chip (CTAP2 reset)',
  usage: 'chip reset --device udp:HOST:PORT|hid:PATH|FILE --yes [--json]',
  help: `Irreversible: every credential the chip holds stops working, and its PIN is removed.
Real keys accept a reset only within seconds of being plugged in, and need a touch.

Options:
${DEVICE_HELP}
  --yes             confirm`,
  options: { ...deviceOptions, yes: { type: 'boolean' } },
  async run(ctx) {
    if (!flag(ctx, 'yes'))
      throw new UsageError(
        'usage',
        'a reset wipes every credential on the chip: add --yes to confirm',
      );
    await withChip(ctx, async (chip) => {
      await chip.reset({ signal: ctx.signal });
      if (flag(ctx, 'json'))
        return printJson(ctx, { serial: chip.serialNumber ?? null, reset: true });
      ctx.io.stdout(`chip ${chip.serial} reset: no credentials, no PIN\n`);
    });
  },
};

export const commands: Command[] = [
  createChip,
  caCreate,
  caShow,
  serve,
  press,
  list,
  info,
  register,
  authenticate,
  pin,
  reset,
];

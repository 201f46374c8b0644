/** `device create|import|export`: making virtual OTP devices and moving their seeds in and out. */
import { link, mkdir, mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fromHex } from '../../core/bytes.js';
import { DeviceError, UsageError } from '../../core/errors.js';
import { exportOathCsv, exportPskc, importSeedFile } from '../../otp/seed/index.js';
import type { OtpKey } from '../../otp/types.js';
import { CodeDisplay } from '../../../devices/code-display/index.js';
import { type OtpKind, OtpKinds, makeOtpDevice, openOtpDevice } from '../../../devices/factory.js';
import { flag, printJson, req, str, type Command, type CommandContext } from '../command.js';

/** The serial form the device modules accept; it also names the file. */
const SAFE_SERIAL = /^[A-Za-z0-9][A-Za-z0-9-]{0,31}$/;

function keyOption(ctx: CommandContext): Uint8Array | undefined {
  const hex = str(ctx, 'key');
  if (hex === undefined) return undefined;
  try {
    return fromHex(hex, '--key');
  } catch {
    throw new UsageError(
      'usage',
      '--key must be the pre-shared key in hex (32 hex digits for AES-128)',
    );
  }
}

function onlyOneSecret(ctx: CommandContext): void {
  if (str(ctx, 'password') !== undefined && str(ctx, 'key') !== undefined) {
    throw new UsageError('usage', 'give --password or --key, not both');
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

const createCodeDisplay: Command = {
  path: ['device', 'create', 'code-display'],
  summary: 'make a virtual code display (a new random TOTP key) in a device file',
  usage: 'device create code-display --serial SERIAL --out FILE [--drift PPM] [--json]',
  help: `Options:
  --serial SERIAL   the serial number printed on the device (1 to 32 letters, digits and -)
  --out FILE        the device file to write; it must not exist
  --drift PPM       the crystal's rate error in parts per million (default 0)
  --json            print what was made as JSON`,
  options: {
    serial: { type: 'string' },
    out: { type: 'string' },
    drift: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const serial = req(ctx, 'serial');
    const out = req(ctx, 'out');
    const driftText = str(ctx, 'drift');
    if (driftText !== undefined && !/^[+-]?\d+(\.\d+)?$/.test(driftText)) {
      throw new UsageError('usage', '--drift must be a number of ppm, e.g. 20 or -3.5');
    }
    const driftPpm = driftText === undefined ? 0 : Number(driftText);
    const dev = await CodeDisplay.create({ serial, out, driftPpm });
    const status = dev.status();
    await dev.close();
    if (flag(ctx, 'json'))
      printJson(ctx, {
        kind: dev.kind,
        serial,
        file: out,
        algorithm: status.algorithm,
        digits: status.digits,
        period: status.period,
      });
    else ctx.io.stdout(`made code display ${serial} in ${out}\n`);
  },
};

const importCmd: Command = {
  path: ['device', 'import'],
  summary: 'make one device file per key package of a PSKC or OATH CSV seed file',
  usage:
    'device import SEEDFILE [--password P | --key HEX] --out-dir DIR [--kind code-display|audio-reader] [--json]',
  help: `Reads a PSKC (RFC 6030) file (plain, pre-shared AES key, or PBKDF2 password) or an OATH CSV
file (serial,hexkey,hotp|totp,digits,counter|period) and writes DIR/SERIAL.json for each key.
All or nothing: a tampered MAC, a wrong key or password, a malformed file, a file that already
exists in DIR or a key the device cannot hold imports nothing.

Options:
  --password P      the password of a PBKDF2-protected PSKC file
  --key HEX         the pre-shared key of an encrypted PSKC file, in hex
  --out-dir DIR     where the device files go (made if missing)
  --kind KIND       code-display (default) or audio-reader
  --json            print the devices made as JSON`,
  positionals: [1, 1],
  options: {
    password: { type: 'string' },
    key: { type: 'string' },
    'out-dir': { type: 'string' },
    kind: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    onlyOneSecret(ctx);
    const seedPath = ctx.positionals[0]!;
    const outDir = req(ctx, 'out-dir');
    const kind = (str(ctx, 'kind') ?? 'code-display') as OtpKind;
    if (!OtpKinds.includes(kind))
      throw new UsageError('usage', '--kind must be code-display or audio-reader');
    const bytes = new Uint8Array(await readFile(seedPath));
    const password = str(ctx, 'password');
    const key = keyOption(ctx);
    const keys = importSeedFile(bytes, {
      ...(password !== undefined ? { password } : {}),
      ...(key ? { key } : {}),
    });
    if (keys.length === 0)
      throw new DeviceError('empty-seed-file', `${seedPath} holds no key packages`);
    // Check what can be checked cheaply, then make every device in a staging folder (the device
    // module checks the rest: serial form, secret length, period); only when all are made are
    // they linked into place, so a failure anywhere leaves DIR as it was.
    const seen = new Set<string>();
    const targets: Array<{ key: OtpKey; file: string }> = [];
    for (const [i, k] of keys.entries()) {
      const where = `key package ${i + 1} (serial ${JSON.stringify(k.serial).slice(0, 70)})`;
      if (!SAFE_SERIAL.test(k.serial))
        throw new DeviceError('bad-serial', `${where}: a serial is 1 to 32 letters, digits and -`);
      if (seen.has(k.serial.toLowerCase()))
        throw new DeviceError('duplicate-serial', `${where}: the serial appears twice`);
      seen.add(k.serial.toLowerCase());
      if (k.type !== 'totp')
        throw new DeviceError(
          'not-time-based',
          `${where} is an HOTP key; a ${kind} is time-based (TOTP)`,
        );
      if (k.digits !== 6)
        throw new DeviceError('bad-digits', `${where} has ${k.digits} digits; a ${kind} shows 6`);
      const file = join(outDir, `${k.serial}.json`);
      if (await exists(file))
        throw new DeviceError('device-file-exists', `${file} already exists; nothing was imported`);
      targets.push({ key: k, file });
    }
    await mkdir(outDir, { recursive: true });
    const staging = await mkdtemp(join(outDir, '.import-'));
    const linked: string[] = [];
    const made: Array<{ serial: string; file: string }> = [];
    try {
      for (const [i, t] of targets.entries()) {
        const staged = join(staging, basename(t.file));
        try {
          const dev = await makeOtpDevice(kind, t.key, staged);
          await dev.close();
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e);
          throw new DeviceError(
            'bad-key-package',
            `key package ${i + 1}: ${why}; nothing was imported`,
            { cause: e },
          );
        }
      }
      for (const t of targets) {
        // link() fails if the name exists, so a file made meanwhile is never replaced.
        await link(join(staging, basename(t.file)), t.file);
        linked.push(t.file);
        made.push({ serial: t.key.serial, file: t.file });
      }
    } catch (e) {
      await Promise.all(linked.map((f) => unlink(f).catch(() => undefined)));
      throw e;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
    if (flag(ctx, 'json')) printJson(ctx, { kind, devices: made });
    else for (const m of made) ctx.io.stdout(`${m.serial}\t${m.file}\n`);
  },
};

const exportCmd: Command = {
  path: ['device', 'export'],
  summary: "write a device's seed as PSKC or OATH CSV",
  usage: 'device export FILE --format pskc|csv [--password P | --key HEX] [--out PATH]',
  help: `Options:
  --format pskc|csv  RFC 6030 PSKC, or an OATH CSV line
  --password P       PSKC: protect the key with a PBKDF2-derived AES key
  --key HEX          PSKC: protect the key with this pre-shared AES-128 key (hex)
  --out PATH         write here instead of standard output (never replaces a file)`,
  positionals: [1, 1],
  options: {
    format: { type: 'string' },
    password: { type: 'string' },
    key: { type: 'string' },
    out: { type: 'string' },
  },
  async run(ctx) {
    onlyOneSecret(ctx);
    const format = req(ctx, 'format');
    if (format !== 'pskc' && format !== 'csv')
      throw new UsageError('usage', '--format must be pskc or csv');
    const password = str(ctx, 'password');
    const key = keyOption(ctx);
    if (format === 'csv' && (password !== undefined || key)) {
      throw new UsageError('usage', 'a CSV seed file cannot be encrypted; use --format pskc');
    }
    const dev = await openOtpDevice(ctx.positionals[0]!);
    let text: string;
    try {
      const k = dev.exportKey();
      text =
        format === 'csv'
          ? exportOathCsv([k])
          : exportPskc([k], {
              ...(password !== undefined ? { password } : {}),
              ...(key ? { key } : {}),
            });
    } finally {
      await dev.close();
    }
    const out = str(ctx, 'out');
    if (out === undefined) ctx.io.stdout(text.endsWith('\n') ? text : `${text}\n`);
    else {
      await writeFile(out, text, { flag: 'wx', mode: 0o600 });
      ctx.io.stderr(`wrote ${out}\n`);
    }
  },
};

export const commands: Command[] = [createCodeDisplay, importCmd, exportCmd];

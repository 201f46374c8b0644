/** Device files: one JSON file per emulated device, written atomically with owner-only access. */
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type AuthenticatorKind, isAuthenticatorKind } from '../src/core/authenticator.js';
import { DeviceError, MitidError } from '../src/core/errors.js';

/** The `format` every device file carries. */
export const DEVICE_FILE_FORMAT = 'mitid-sim.device';
/** The version of the layout this program writes and reads. */
export const DEVICE_FILE_VERSION = 1;
/** Device files are small; anything larger is not one of ours. */
export const MAX_DEVICE_FILE_BYTES = 1 << 20;

/** The part every device file shares. */
export interface DeviceFileHeader<K extends AuthenticatorKind = AuthenticatorKind> {
  readonly format: typeof DEVICE_FILE_FORMAT;
  readonly version: typeof DEVICE_FILE_VERSION;
  readonly kind: K;
  readonly serial: string;
}

/** A whole device file: the header and the kind's own state beside it, at the top level. */
export type DeviceFile<
  K extends AuthenticatorKind = AuthenticatorKind,
  S extends object = Record<string, unknown>,
> = DeviceFileHeader<K> & S;

/** What a kind's module hands to {@link writeDeviceFile}: its kind, serial and state. */
export type DeviceFileContent<K extends AuthenticatorKind, S extends object> = {
  readonly kind: K;
  readonly serial: string;
} & S;

/** How a kind's module checks its own part of a file it reads. */
export interface DeviceFileSchema<K extends AuthenticatorKind, S extends object> {
  readonly kind: K;
  /**
   * Checks the whole parsed object (header fields included) and returns the kind's state. Throws
   * an error whose message names the bad field and never a secret value; it is reported as
   * DeviceError 'bad-device-file'.
   */
  parse(body: Readonly<Record<string, unknown>>): S;
}

const SERIAL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Reads and checks a device file. Without a schema it checks the header only and returns the
 * rest as unknown data (to find out which kind a file holds); with one, the kind must match and
 * the schema checks the rest. Every problem is a DeviceError: 'no-device-file' when the path
 * does not exist, 'bad-device-file' naming what is wrong (never a secret) otherwise.
 */
export async function readDeviceFile(path: string): Promise<DeviceFile>;
export async function readDeviceFile<K extends AuthenticatorKind, S extends object>(
  path: string,
  schema: DeviceFileSchema<K, S>,
): Promise<DeviceFile<K, S>>;
export async function readDeviceFile<K extends AuthenticatorKind, S extends object>(
  path: string,
  schema?: DeviceFileSchema<K, S>,
): Promise<DeviceFile> {
  checkPath(path);
  const name = basename(path);
  let raw: Buffer;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new DeviceError('bad-device-file', `${name}: not a regular file`);
    if (info.size > MAX_DEVICE_FILE_BYTES) {
      throw new DeviceError(
        'bad-device-file',
        `${name}: too large to be a device file (${info.size} bytes)`,
      );
    }
    raw = await readFile(path);
  } catch (e) {
    if (e instanceof DeviceError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new DeviceError('no-device-file', `${name}: no such device file`, { cause: e });
    throw new DeviceError('bad-device-file', `${name}: cannot be read (${code ?? 'error'})`, {
      cause: e,
    });
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new DeviceError('bad-device-file', `${name}: not UTF-8 text`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // No cause: JSON.parse's message quotes the text around the fault, which may be the secret.
    throw new DeviceError('bad-device-file', `${name}: not valid JSON`);
  }
  const header = checkHeader(body, name);
  if (schema === undefined) return header;
  if (header.kind !== schema.kind) {
    throw new DeviceError(
      'bad-device-file',
      `${name}: holds a ${header.kind}, not a ${schema.kind}`,
    );
  }
  let state: S;
  try {
    state = schema.parse(header);
  } catch (e) {
    // Our schemas name fields, never values; anything else may quote data, so it is not shown.
    const why = e instanceof MitidError ? e.message.split('\n')[0] : 'invalid content';
    throw new DeviceError('bad-device-file', `${name}: ${why}`);
  }
  return {
    ...state,
    format: DEVICE_FILE_FORMAT,
    version: DEVICE_FILE_VERSION,
    kind: header.kind,
    serial: header.serial,
  };
}

function checkHeader(body: unknown, name: string): DeviceFile {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new DeviceError('bad-device-file', `${name}: not a JSON object`);
  }
  const b = body as Record<string, unknown>;
  if (b.format !== DEVICE_FILE_FORMAT) {
    throw new DeviceError(
      'bad-device-file',
      `${name}: not a mitid-sim device file (format is not "${DEVICE_FILE_FORMAT}")`,
    );
  }
  if (b.version !== DEVICE_FILE_VERSION) {
    const v =
      typeof b.version === 'number' && Number.isInteger(b.version) ? String(b.version) : 'missing';
    throw new DeviceError(
      'bad-device-file',
      `${name}: version ${v} is not ${DEVICE_FILE_VERSION}, the one this program reads`,
    );
  }
  if (!isAuthenticatorKind(b.kind))
    throw new DeviceError('bad-device-file', `${name}: unknown kind`);
  if (typeof b.serial !== 'string' || !SERIAL.test(b.serial)) {
    throw new DeviceError('bad-device-file', `${name}: serial is missing or malformed`);
  }
  return b as DeviceFile;
}

function checkPath(path: unknown): asserts path is string {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) {
    throw new DeviceError('bad-path', 'device file path must be a non-empty string');
  }
}

/** Options of {@link writeDeviceFile}. */
export interface WriteDeviceFileOptions {
  /** Refuse to replace an existing file ('device-file-exists'): for making a new device. */
  readonly exclusive?: boolean;
}

/**
 * Writes a device file atomically: the JSON goes to a temporary file beside the target, created
 * with mode 0600 (it holds the token's secret, as the token's flash does), flushed to disk, then
 * renamed over the target, so a reader sees the old file or the new one, never half of one. With
 * `exclusive`, the temporary file is hard-linked into place instead, which fails if the target
 * exists. Errors are DeviceError 'device-file-write' (or 'device-file-exists'). Resolves to the
 * text written, so a caller can tell later whether someone else has replaced it.
 */
export async function writeDeviceFile<K extends AuthenticatorKind, S extends object>(
  path: string,
  content: DeviceFileContent<K, S>,
  options: WriteDeviceFileOptions = {},
): Promise<string> {
  checkPath(path);
  if (typeof content !== 'object' || content === null)
    throw new TypeError('content must be an object');
  if (!isAuthenticatorKind(content.kind))
    throw new DeviceError('bad-device-file', 'content.kind is not a kind');
  if (typeof content.serial !== 'string' || !SERIAL.test(content.serial)) {
    throw new DeviceError('bad-device-file', 'content.serial is missing or malformed');
  }
  // The header comes first and cannot be overridden by same-named fields of the state.
  const {
    kind,
    serial,
    format: _format,
    version: _version,
    ...rest
  } = content as DeviceFileContent<K, S> & Record<string, unknown>;
  const file = { format: DEVICE_FILE_FORMAT, version: DEVICE_FILE_VERSION, kind, serial, ...rest };
  const text = `${JSON.stringify(file, null, 2)}\n`;
  const name = basename(path);
  const tmp = join(dirname(path), `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (options.exclusive) {
      await link(tmp, path);
      await unlink(tmp);
    } else {
      await rename(tmp, path);
    }
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && options.exclusive) {
      throw new DeviceError('device-file-exists', `${name}: a device file is already there`, {
        cause: e,
      });
    }
    throw new DeviceError('device-file-write', `${name}: cannot be written (${code ?? 'error'})`, {
      cause: e,
    });
  }
  await syncDir(dirname(path));
  return text;
}

/** Flushes a directory entry (the rename) to disk where the platform allows it. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Some platforms cannot open or fsync a directory; the rename is still atomic there.
  }
}

/** Options of {@link withDeviceFileLock}. */
export interface DeviceFileLockOptions {
  /** How long to wait for another holder before giving up with 'device-busy' (default 10 s). */
  readonly timeoutMs?: number;
}

/**
 * Runs `fn` holding the device file's lock: a file `<path>.lock` made with O_EXCL and holding
 * the owner's process id. A lock whose process is gone (a crash) is taken over. Waits while
 * another holder works, up to `timeoutMs`, then fails with DeviceError 'device-busy'. Programs
 * that read, change and write a device file take it so that no change is lost.
 */
export async function withDeviceFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  options: DeviceFileLockOptions = {},
): Promise<T> {
  checkPath(path);
  const lock = `${path}.lock`;
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      break;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') {
        throw new DeviceError(
          'device-file-write',
          `${basename(lock)}: cannot be made (${code ?? 'error'})`,
          { cause: e },
        );
      }
    }
    if (await isStale(lock)) {
      await unlink(lock).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) {
      throw new DeviceError(
        'device-busy',
        `${basename(path)}: another program holds the device file`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
  try {
    return await fn();
  } finally {
    await unlink(lock).catch(() => undefined);
  }
}

/** True when a lock's owner has gone: its process no longer exists, or it never wrote its id. */
async function isStale(lock: string): Promise<boolean> {
  let text: string;
  let age: number;
  try {
    text = await readFile(lock, 'utf8');
    age = Date.now() - (await stat(lock)).mtimeMs;
  } catch {
    return false; // released meanwhile: simply try again
  }
  const pid = Number(text.trim());
  if (!Number.isSafeInteger(pid) || pid <= 0) return age > 5_000; // being written, or a crash mid-write
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

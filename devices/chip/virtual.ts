/**
 * The virtual chip: its firmware restored from a device file, its flash written back after every
 * change, and `chip serve` (HID over UDP) with a button that a terminal or another process presses.
 */
import { createPrivateKey, createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock, type Clock } from '../../src/core/clock.js';
import { DeviceError, UsageError } from '../../src/core/errors.js';
import {
  parseUdpAddress,
  serveHidOverUdp,
  type UdpAddress,
  formatUdpAddress,
} from '../../src/hid/udp.js';
import { VirtualHidTransport } from '../../src/hid/virtual.js';
import { fromBase64, toBase64 } from '../../src/core/bytes.js';
import {
  ChipFirmware,
  checkChipState,
  UpModes,
  type ChipPersistentState,
  type UpMode,
  createAttestationCa,
  type AttestationCa,
} from '../../firmware-sim/chip/index.js';
import { readDeviceFile, writeDeviceFile, type DeviceFileSchema } from '../device-file.js';
import { Chip } from './chip.js';

/** How the virtual chip's button behaves (the firmware's user-presence mode). */
export type PressMode = UpMode;
/** True when `s` names a press mode. */
export function isPressMode(s: unknown): s is PressMode {
  return typeof s === 'string' && (UpModes as readonly string[]).includes(s);
}

/**
 * What a chip device file holds beside the header: the flash, how the button behaves, and
 * whether ES256 signatures use RFC 6979 nonces (absent: random nonces).
 */
export interface ChipFileState {
  readonly firmware: ChipPersistentState;
  readonly press: PressMode;
  /** RFC 6979 nonces: the same key and message give the same signature bytes, run after run. */
  readonly deterministicSignatures?: boolean;
}

/** The device-file schema of a chip. */
export const chipFileSchema: DeviceFileSchema<'chip', ChipFileState> = {
  kind: 'chip',
  parse(body) {
    const firmware = checkChipState(body.firmware);
    if (firmware.serial !== body.serial)
      throw new DeviceError('bad-device-file', 'firmware.serial differs from serial');
    const press = body.press ?? 'auto';
    if (!isPressMode(press))
      throw new DeviceError('bad-device-file', 'press must be auto, manual or deny');
    const det = body.deterministicSignatures;
    if (det !== undefined && typeof det !== 'boolean')
      throw new DeviceError('bad-device-file', 'deterministicSignatures must be true or false');
    return det === true ? { firmware, press, deterministicSignatures: true } : { firmware, press };
  },
};

/** A chip's firmware, running in this process from a device file. */
export interface VirtualChip {
  readonly path: string;
  readonly serial: string;
  readonly firmware: ChipFirmware;
  /** The button's mode now. */
  readonly press: PressMode;
  /** Presses the button once. */
  pressButton(): void;
  /** Writes the flash to the file if it changed since the last write. */
  save(): Promise<void>;
  /** Saves, and stops further saves. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link openChipFile}. */
export interface OpenChipFileOptions {
  /** Button mode for this run (default: what the file says). */
  readonly press?: PressMode;
  readonly clock?: Clock;
  /** The host asked the chip to show itself (CTAPHID_WINK). */
  readonly onWink?: () => void;
}

/** Restores a chip's firmware from its device file. */
export async function openChipFile(
  path: string,
  options: OpenChipFileOptions = {},
): Promise<VirtualChip> {
  const file = await readDeviceFile(path, chipFileSchema);
  // Two writers of one flash would lose each other's credentials: a served chip is used over UDP.
  const note = await readNote(path);
  if (note && alive(note.pid)) {
    throw new DeviceError(
      'device-busy',
      `${path} is being served by process ${note.pid}: use ${deviceAdvice(note)}`,
    );
  }
  let dirty: ChipPersistentState | undefined;
  let writing: Promise<void> = Promise.resolve();
  let closed = false;
  const press = options.press ?? file.press;
  const firmware = new ChipFirmware(file.firmware, {
    clock: options.clock ?? systemClock,
    upMode: press,
    ...(options.onWink ? { onWink: options.onWink } : {}),
    ...(file.deterministicSignatures ? { deterministicSignatures: true } : {}),
    onPersist: (s) => {
      dirty = s;
    },
  });
  const save = (): Promise<void> => {
    // One write at a time, in order; the newest state wins.
    // A failed write must not stop the ones after it: start each from a settled chain.
    writing = writing
      .catch(() => undefined)
      .then(async () => {
        if (!dirty || closed) return;
        const state = dirty;
        dirty = undefined;
        await writeDeviceFile(path, {
          kind: 'chip',
          serial: file.serial,
          firmware: state,
          press: file.press,
          ...(file.deterministicSignatures ? { deterministicSignatures: true } : {}),
        });
      });
    return writing;
  };
  return {
    path,
    serial: file.serial,
    firmware,
    get press() {
      return firmware.upMode;
    },
    pressButton: () => firmware.pressButton(),
    save,
    close: async () => {
      if (closed) return;
      await save();
      closed = true;
    },
  };
}

/** Options of {@link createChipDeviceFile}. */
export interface CreateChipOptions {
  readonly serial: string;
  readonly out: string;
  /** Sets this PIN on the new chip, through clientPIN as a host would. */
  readonly pin?: string;
  readonly press?: PressMode;
  readonly clock?: Clock;
  /** The test CA that issues the chip's attestation certificate; default a new CA of its own. */
  readonly ca?: AttestationCa;
  /**
   * ES256 signatures with RFC 6979 nonces (the attestation certificate's too), kept in the file:
   * reproducible test output. Default false: node:crypto's random nonces.
   */
  readonly deterministicSignatures?: boolean;
}

/**
 * Manufactures a chip (fresh wrap key, attestation key and a certificate from `ca`, or from a
 * test CA of its own) into a new device file; with `pin`, sets its PIN over CTAP2 clientPIN
 * before returning.
 */
export async function createChipDeviceFile(
  options: CreateChipOptions,
): Promise<{ serial: string; aaguid: string }> {
  if (options.press !== undefined && !isPressMode(options.press)) {
    throw new UsageError('usage', 'press must be auto, manual or deny');
  }
  if (
    options.pin !== undefined &&
    ([...options.pin].length < 4 || Buffer.byteLength(options.pin) > 63)
  ) {
    throw new DeviceError('pin-policy', 'a PIN needs 4 to 63 characters (at most 63 bytes)');
  }
  let firmware: ChipFirmware;
  try {
    firmware = ChipFirmware.manufacture({
      serial: options.serial,
      clock: options.clock ?? systemClock,
      ...(options.ca ? { ca: options.ca } : {}),
      ...(options.deterministicSignatures ? { deterministicSignatures: true } : {}),
    });
  } catch (e) {
    throw new DeviceError('bad-serial', e instanceof Error ? e.message : 'bad serial');
  }
  const press = options.press ?? 'auto';
  await writeDeviceFile(
    options.out,
    {
      kind: 'chip',
      serial: options.serial,
      firmware: firmware.snapshot(),
      press,
      ...(options.deterministicSignatures ? { deterministicSignatures: true } : {}),
    },
    { exclusive: true },
  );
  if (options.pin !== undefined) {
    const virtual = await openChipFile(options.out, {
      press: 'auto',
      ...(options.clock ? { clock: options.clock } : {}),
    });
    const chip = await Chip.fromTransport(
      new VirtualHidTransport(virtual.firmware, { path: options.out }),
      {
        serial: virtual.serial,
        afterCommand: () => virtual.save(),
        onClose: () => virtual.close(),
      },
    );
    try {
      await chip.setPin(options.pin);
    } finally {
      await chip.close();
    }
  }
  return { serial: options.serial, aaguid: Buffer.from(firmware.aaguid).toString('hex') };
}

/** The datagram `chip press` sends to a serving chip (not 64 bytes, so never a HID report). */
export const PRESS_DATAGRAM = 'mitid-sim chip press';
/** What a serving chip answers to {@link PRESS_DATAGRAM}, so `chip press` knows it was heard. */
export const PRESS_ACK_DATAGRAM = 'mitid-sim chip pressed';
/** How long `chip press` waits for the acknowledgement. */
export const PRESS_ACK_TIMEOUT_MS = 1000;

/** The note `chip serve` leaves beside the device file while it runs. */
export function serveNotePath(file: string): string {
  return `${file}.serving`;
}

interface ServeNote {
  readonly pid: number;
  readonly udp: string;
  /** Where answers go: a fixed port, or 'sender' (absent in notes of older versions). */
  readonly hostPort?: number | 'sender';
}

/** The `--device` advice for a served chip: with `--local-port` when answers go to a fixed port. */
function deviceAdvice(note: ServeNote): string {
  return typeof note.hostPort === 'number'
    ? `--device ${note.udp} --local-port ${note.hostPort}`
    : `--device ${note.udp}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readNote(file: string): Promise<ServeNote | undefined> {
  let text: string;
  try {
    text = await readFile(serveNotePath(file), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const n = JSON.parse(text) as ServeNote;
    if (typeof n.pid === 'number' && typeof n.udp === 'string') return n;
  } catch {
    // a torn or foreign note counts as none
  }
  return undefined;
}

/** Options of {@link serveChipFile}. */
export interface ServeChipOptions {
  readonly host?: string;
  readonly port?: number;
  readonly hostPort?: number | 'sender';
  readonly press?: PressMode;
  readonly clock?: Clock;
  /** The chip started waiting for a touch. */
  readonly onUserPresence?: () => void;
  /** The button was pressed: from this terminal or by `chip press`. */
  readonly onPress?: (by: 'terminal' | 'remote') => void;
  readonly onReboot?: () => void;
  /** A host asked the chip to show itself (CTAPHID_WINK). */
  readonly onWink?: () => void;
}

/** A chip served over UDP. */
export interface ServedChip {
  readonly serial: string;
  readonly address: UdpAddress;
  readonly press: PressMode;
  readonly virtual: VirtualChip;
  /** Presses the button (what Enter in the serving terminal does). */
  pressButton(by: 'terminal' | 'remote'): void;
  close(): Promise<void>;
}

/**
 * Serves a chip device file as HID over UDP. Only one process serves a file at a time: a note
 * beside it (FILE.serving) names the process and address, for `chip press` and for the next
 * `chip serve` to refuse politely.
 */
export async function serveChipFile(
  file: string,
  options: ServeChipOptions = {},
): Promise<ServedChip> {
  const existing = await readNote(file);
  if (existing && alive(existing.pid)) {
    throw new DeviceError(
      'device-busy',
      `${file} is already served by process ${existing.pid}: use ${deviceAdvice(existing)}`,
    );
  }
  const virtual = await openChipFile(file, {
    ...(options.press ? { press: options.press } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.onWink ? { onWink: options.onWink } : {}),
  });
  let waiting = false;
  const watchWaiting = () => {
    const now = virtual.firmware.waitingForUser;
    if (now && !waiting) options.onUserPresence?.();
    waiting = now;
  };
  const press = (by: 'terminal' | 'remote') => {
    virtual.pressButton();
    options.onPress?.(by);
  };
  // The press acknowledgement goes out of a socket of its own: the HID server owns its socket.
  const ackSocket = createSocket((options.host ?? '127.0.0.1').includes(':') ? 'udp6' : 'udp4');
  ackSocket.on('error', () => undefined);
  const ack = (to: UdpAddress) =>
    ackSocket.send(Buffer.from(PRESS_ACK_DATAGRAM, 'latin1'), to.port, to.host, () => undefined);
  const hostPort = options.hostPort ?? 7112;
  let server;
  try {
    server = await serveHidOverUdp(virtual.firmware, {
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 8111,
      hostPort,
      onReport: () => {
        watchWaiting();
        void virtual.save().catch(() => undefined);
      },
      ...(options.onReboot ? { onReboot: options.onReboot } : {}),
      onOtherDatagram: (d, from) => {
        if (Buffer.from(d).toString('latin1') !== PRESS_DATAGRAM) return false;
        press('remote');
        ack(from);
        return true;
      },
    });
  } catch (e) {
    ackSocket.close();
    await virtual.close();
    throw e;
  }
  const address = server.address;
  const note: ServeNote = { pid: process.pid, udp: formatUdpAddress(address), hostPort };
  await writeFile(serveNotePath(file), JSON.stringify(note) + '\n', {
    mode: 0o600,
  });
  let closed = false;
  return {
    serial: virtual.serial,
    address,
    press: virtual.press,
    virtual,
    pressButton: press,
    close: async () => {
      if (closed) return;
      closed = true;
      await server.close();
      ackSocket.close();
      await virtual.close();
      const note = await readNote(file);
      if (note?.pid === process.pid) await unlink(serveNotePath(file)).catch(() => undefined);
    },
  };
}

/** Presses the button of a served chip: `udp:HOST:PORT`, or a device file being served. */
export async function pressServedChip(target: string): Promise<string> {
  let address: UdpAddress;
  if (target.startsWith('udp:')) {
    address = parseUdpAddress(target);
  } else {
    const note = await readNote(target);
    if (!note || !alive(note.pid)) {
      throw new DeviceError(
        'not-served',
        `${target} is not being served (start: mitid-sim chip serve ${target} --press manual)`,
      );
    }
    address = parseUdpAddress(note.udp);
  }
  const socket = createSocket(address.host.includes(':') ? 'udp6' : 'udp4');
  const where = formatUdpAddress(address);
  let timer: NodeJS.Timeout | undefined;
  try {
    // UDP says nothing when no one listens: only the server's acknowledgement proves the press.
    const acked = new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new DeviceError(
              'not-served',
              `no chip answered at ${where} within ${PRESS_ACK_TIMEOUT_MS / 1000} s: is 'mitid-sim chip serve' running there?`,
            ),
          ),
        PRESS_ACK_TIMEOUT_MS,
      );
      socket.on('message', (msg) => {
        if (msg.toString('latin1') !== PRESS_ACK_DATAGRAM) return;
        resolve();
      });
      // An ICMP "port unreachable" surfaces as a socket error on some systems: same meaning.
      socket.on('error', () => undefined);
    });
    void acked.catch(() => undefined); // awaited below; a failed send must not leave it unhandled
    await new Promise<void>((resolve, reject) =>
      socket.send(Buffer.from(PRESS_DATAGRAM, 'latin1'), address.port, address.host, (e) =>
        e
          ? reject(
              new DeviceError(
                'not-served',
                `cannot send to ${where}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
              ),
            )
          : resolve(),
      ),
    );
    await acked;
  } finally {
    clearTimeout(timer);
    socket.close();
  }
  return where;
}

/** Chip device files in `dir` (not recursive), with their serials. Unreadable files are skipped. */
export async function findChipFiles(dir: string): Promise<{ path: string; serial: string }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new DeviceError(
      'bad-path',
      `cannot list ${dir}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  const out: { path: string; serial: string }[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.') || name.endsWith('.serving')) continue;
    const path = join(dir, name);
    try {
      const f = await readDeviceFile(path);
      if (f.kind === 'chip') out.push({ path, serial: f.serial });
    } catch {
      // not a device file
    }
  }
  return out;
}

/** The files of a project test CA directory (`chip ca create`). */
export const CA_KEY_FILE = 'ca-key.pem';
export const CA_CERT_FILE = 'ca-cert.pem';

function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}

/** DER from a PEM block with `label`, or the bytes themselves when they are not PEM. */
function derOf(bytes: Buffer, label: string, what: string): Uint8Array {
  const text = bytes.toString('latin1');
  if (!text.startsWith('-----BEGIN')) return new Uint8Array(bytes);
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(
    text,
  );
  if (!m) throw new DeviceError('bad-ca', `${what} is not a PEM ${label}`);
  return new Uint8Array(Buffer.from(m[1]!.replace(/\s/g, ''), 'base64'));
}

/** The CA certificate of a chip as PEM. */
export function certificatePem(der: Uint8Array): string {
  return pem('CERTIFICATE', der);
}

/**
 * Makes a project test CA in `dir` (created if missing): its key as PKCS#8 PEM (mode 0600) and
 * its self-signed certificate as PEM. Refuses to overwrite an existing CA.
 */
export async function createChipCaFiles(
  dir: string,
  clock: Clock = systemClock,
): Promise<{ keyFile: string; certFile: string; certDer: Uint8Array }> {
  const ca = createAttestationCa(clock.now(), (n) => new Uint8Array(randomBytes(n)));
  const keyFile = join(dir, CA_KEY_FILE);
  const certFile = join(dir, CA_CERT_FILE);
  const certDer = fromBase64(ca.certDer);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(keyFile, pem('PRIVATE KEY', fromBase64(ca.keyPkcs8)), {
      mode: 0o600,
      flag: 'wx',
    });
    await writeFile(certFile, certificatePem(certDer), { mode: 0o644, flag: 'wx' });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new DeviceError(
      code === 'EEXIST' ? 'ca-exists' : 'bad-path',
      code === 'EEXIST'
        ? `${dir} already holds a CA: choose another --out`
        : `cannot write the CA in ${dir}: ${code}`,
    );
  }
  return { keyFile, certFile, certDer };
}

/**
 * Loads a test CA from `dir` (`ca-key.pem` and `ca-cert.pem`, each PEM or DER) and checks that
 * the key belongs to the certificate and that the certificate is a CA.
 */
export async function loadChipCa(dir: string): Promise<AttestationCa> {
  let keyBytes: Buffer;
  let certBytes: Buffer;
  try {
    [keyBytes, certBytes] = await Promise.all([
      readFile(join(dir, CA_KEY_FILE)),
      readFile(join(dir, CA_CERT_FILE)),
    ]);
  } catch (e) {
    throw new DeviceError(
      'bad-ca',
      `cannot read the CA in ${dir} (${CA_KEY_FILE}, ${CA_CERT_FILE}): ${(e as NodeJS.ErrnoException).code ?? 'error'}; make one with: mitid-sim chip ca create --out ${dir}`,
    );
  }
  const keyDer = derOf(keyBytes, 'PRIVATE KEY', CA_KEY_FILE);
  const certDer = derOf(certBytes, 'CERTIFICATE', CA_CERT_FILE);
  let cert: X509Certificate;
  let publicMatches: boolean;
  try {
    cert = new X509Certificate(Buffer.from(certDer));
    const key = createPrivateKey({ key: Buffer.from(keyDer), format: 'der', type: 'pkcs8' });
    const fromKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
    publicMatches = fromKey.equals(cert.publicKey.export({ type: 'spki', format: 'der' }));
    if (key.asymmetricKeyType !== 'ec') publicMatches = false;
  } catch {
    // The parse error may quote key bytes: say only which files are bad.
    throw new DeviceError('bad-ca', `${dir} does not hold a readable P-256 CA key and certificate`);
  }
  if (!publicMatches)
    throw new DeviceError('bad-ca', `${CA_KEY_FILE} does not belong to ${CA_CERT_FILE} in ${dir}`);
  if (!cert.ca)
    throw new DeviceError('bad-ca', `${CA_CERT_FILE} in ${dir} is not a CA certificate`);
  return { keyPkcs8: toBase64(keyDer), certDer: toBase64(certDer) };
}

/** The CA certificate (DER) kept in a chip device file. */
export async function readChipCaCertificate(file: string): Promise<Uint8Array> {
  const f = await readDeviceFile(file, chipFileSchema);
  return fromBase64(f.firmware.attestation.caCertDer);
}

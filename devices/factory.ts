/** The one place where a path or address becomes a device: which kind, virtual or physical. */
import type { Authenticator, AuthenticatorKind } from '../src/core/authenticator.js';
import type { Clock } from '../src/core/clock.js';
import { DeviceError } from '../src/core/errors.js';
import type { OtpKey } from '../src/otp/types.js';
import type { CodeDisplayStatus, LcdFrame } from '../firmware-sim/code-display/index.js';
import { CodeDisplay } from './code-display/index.js';
import { SerialCodeDisplay } from './code-display/serial.js';
import { readDeviceFile } from './device-file.js';

/** The kinds that show a one-time code: the code display and the audio code reader. */
export const OtpKinds = ['code-display', 'audio-reader'] as const;
export type OtpKind = (typeof OtpKinds)[number];

/** What host tools need of a virtual device that shows a code. */
export interface OtpDevice extends Authenticator<OtpKind> {
  readonly path: string;
  press(at?: number): Promise<LcdFrame>;
  lcd(at?: number): LcdFrame;
  status(at?: number): CodeDisplayStatus;
  exportKey(): OtpKey;
}

/** Options when opening or making a virtual device. */
export interface DeviceOptions {
  readonly reference?: Clock;
}

type OtpOpener = (path: string, options: DeviceOptions) => Promise<OtpDevice>;
type OtpMaker = (key: OtpKey, out: string, options: DeviceOptions) => Promise<OtpDevice>;

const openers = new Map<OtpKind, OtpOpener>([['code-display', (p, o) => CodeDisplay.open(p, o)]]);
const makers = new Map<OtpKind, OtpMaker>([
  ['code-display', (k, out, o) => CodeDisplay.fromKey(k, out, o)],
]);

/** Lets another OTP kind (the audio reader) plug into the factory. */
export function registerOtpKind(kind: OtpKind, open: OtpOpener, make: OtpMaker): void {
  openers.set(kind, open);
  makers.set(kind, make);
}

/** The kind a device file holds (checks the header only). */
export async function deviceKindOf(path: string): Promise<AuthenticatorKind> {
  return (await readDeviceFile(path)).kind;
}

/** Opens the virtual code display or audio reader kept in the device file `path`. */
export async function openOtpDevice(path: string, options: DeviceOptions = {}): Promise<OtpDevice> {
  const kind = await deviceKindOf(path);
  const open = openers.get(kind as OtpKind);
  if (!open) throw new DeviceError('wrong-kind', `${path} holds a ${kind}, which shows no code`);
  return open(path, options);
}

/** Makes a new virtual device of `kind` around an imported key; the file must not exist. */
export async function makeOtpDevice(
  kind: OtpKind,
  key: OtpKey,
  out: string,
  options: DeviceOptions = {},
): Promise<OtpDevice> {
  const make = makers.get(kind);
  if (!make) throw new DeviceError('wrong-kind', `cannot make a ${kind} from a seed`);
  return make(key, out, options);
}

/**
 * Opens something that shows a code for host tools and tests, virtual or physical, by address:
 * `serial:PATH` is a device on a serial line (an emulated one that `serial serve` exposes, or a
 * physical test jig, docs/serial-protocol.md); anything else is a device file.
 */
export async function openCodeSource(
  spec: string,
  options: DeviceOptions = {},
): Promise<Authenticator<OtpKind>> {
  if (typeof spec !== 'string' || spec === '')
    throw new DeviceError('bad-path', 'a device address is needed');
  if (spec.startsWith('serial:')) {
    const path = spec.slice('serial:'.length);
    if (path === '')
      throw new DeviceError('bad-path', 'serial: needs a port path, e.g. serial:/dev/ttyUSB0');
    return SerialCodeDisplay.open(path);
  }
  return openOtpDevice(spec, options);
}

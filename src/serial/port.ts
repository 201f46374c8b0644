/** Opening and closing a serial port (the serialport package) with SerialError codes. */
import { access, constants } from 'node:fs/promises';
import { SerialPort } from 'serialport';
import { SerialError } from '../core/errors.js';
import { DEFAULT_BAUD_RATE } from './protocol.js';

/** Options for {@link openPort}. */
export interface OpenPortOptions {
  /** Line speed; default 115200 (8N1, no flow control). */
  baudRate?: number;
}

/**
 * Opens `path` as a serial port, 8N1, no flow control. Throws SerialError 'not-found' when the
 * path does not exist, 'open-failed' when it exists but cannot be opened (busy, not a tty,
 * no permission), with the system error as `cause`.
 */
export async function openPort(path: string, options: OpenPortOptions = {}): Promise<SerialPort> {
  if (typeof path !== 'string' || path.length === 0)
    throw new TypeError('path must be a non-empty string');
  const baudRate = options.baudRate ?? DEFAULT_BAUD_RATE;
  if (!Number.isInteger(baudRate) || baudRate < 50 || baudRate > 4_000_000) {
    throw new RangeError('baudRate must be an integer from 50 to 4000000');
  }
  try {
    await access(path, constants.F_OK);
  } catch (e) {
    throw new SerialError('not-found', `no serial port at ${path}`, { cause: e });
  }
  const port = new SerialPort({
    path,
    baudRate,
    dataBits: 8,
    stopBits: 1,
    parity: 'none',
    autoOpen: false,
  });
  await new Promise<void>((resolve, reject) => {
    port.open((err) => {
      if (err)
        reject(
          new SerialError('open-failed', `cannot open serial port ${path}: ${err.message}`, {
            cause: err,
          }),
        );
      else resolve();
    });
  });
  return port;
}

/** Writes `text` and waits until it has left for the device (drain). */
export function writePort(port: SerialPort, text: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (!port.isOpen) {
      reject(new SerialError('port-closed', 'serial port is closed'));
      return;
    }
    port.write(Buffer.from(text, 'latin1'), (err) => {
      if (err) {
        reject(new SerialError('port-closed', `write failed: ${err.message}`, { cause: err }));
        return;
      }
      port.drain((e) =>
        e
          ? reject(new SerialError('port-closed', `drain failed: ${e.message}`, { cause: e }))
          : resolve(),
      );
    });
  });
}

/** Closes the port if it is open; never throws (closing twice, or after the far end went, is fine). */
export function closePort(port: SerialPort): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!port.isOpen) {
      resolve();
      return;
    }
    port.close(() => resolve());
  });
}

/** A linked pair of pseudo-terminals made by socat: a serial cable with a tty at each end. */
import { spawn } from 'node:child_process';
import { SerialError } from '../core/errors.js';

/** Two ttys joined back to back: bytes written to one are read from the other. */
export interface PtyPair {
  /** Path of the first tty (e.g. under /dev/pts). */
  readonly a: string;
  /** Path of the second tty. */
  readonly b: string;
  /** The socat process id. */
  readonly pid: number;
  /** Stops socat and waits for it to exit. Idempotent. */
  close(): Promise<void>;
}

/** Options for {@link openPtyPair}. */
export interface PtyPairOptions {
  /** The socat binary; default `socat` on PATH. */
  socat?: string;
  /** How long to wait for socat to report both ttys, ms; default 5000. */
  timeoutMs?: number;
}

/**
 * Starts `socat -d -d pty,raw,echo=0 pty,raw,echo=0` and reads the two tty paths it reports on
 * stderr ("PTY is /dev/pts/N"). Raw mode and no echo make each end behave like a serial port
 * with a null-modem cable. Throws SerialError 'socat-missing' when socat cannot be run, and
 * 'pty-failed' when it exits or stays silent.
 */
export function openPtyPair(options: PtyPairOptions = {}): Promise<PtyPair> {
  const bin = options.socat ?? 'socat';
  const timeoutMs = options.timeoutMs ?? 5000;
  const child = spawn(bin, ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let exited = child.exitCode !== null;
  const exit = new Promise<void>((resolve) => {
    child.once('close', () => {
      exited = true;
      resolve();
    });
  });

  const close = async (): Promise<void> => {
    if (!exited) child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!exited) child.kill('SIGKILL');
    }, 2000);
    await exit;
    clearTimeout(timer);
  };

  return new Promise<PtyPair>((resolve, reject) => {
    let stderr = '';
    let done = false;
    const fail = (e: SerialError): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      void close().then(() => reject(e));
    };
    const timer = setTimeout(
      () =>
        fail(new SerialError('pty-failed', `socat did not report two ptys within ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') {
        fail(
          new SerialError('socat-missing', 'socat is not installed (Debian package: socat)', {
            cause: e,
          }),
        );
      } else {
        fail(new SerialError('pty-failed', `cannot start socat: ${e.message}`, { cause: e }));
      }
    });
    child.once('close', (code) => {
      const last = stderr.trim().split('\n').pop()?.slice(0, 200) ?? '';
      fail(
        new SerialError(
          'pty-failed',
          `socat exited (${String(code)}) before the ptys were ready: ${last}`,
        ),
      );
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (done) return;
      // Keep only what we need; socat logs every transfer at -d -d only after the ptys are up.
      stderr = (stderr + d).slice(-8192);
      const paths = [...stderr.matchAll(/PTY is (\S+)/g)].map((m) => m[1] as string);
      if (paths.length >= 2 && /starting data transfer loop/.test(stderr)) {
        done = true;
        clearTimeout(timer);
        child.stderr.removeAllListeners('data');
        child.stderr.resume();
        resolve({ a: paths[0] as string, b: paths[1] as string, pid: child.pid as number, close });
      }
    });
  });
}

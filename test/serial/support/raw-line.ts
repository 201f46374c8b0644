/** A bare serialport end for tests: write raw bytes, collect the lines that come back. */
import { SerialPort } from 'serialport';

/** One end of a pty opened with serialport directly, with no protocol code of ours in between. */
export class RawLine {
  readonly lines: string[] = [];
  readonly #port: SerialPort;
  #buf = '';
  #waiters: Array<() => void> = [];

  private constructor(port: SerialPort) {
    this.#port = port;
    port.on('data', (d: Buffer) => {
      this.#buf += d.toString('latin1');
      let i: number;
      while ((i = this.#buf.indexOf('\n')) >= 0) {
        this.lines.push(this.#buf.slice(0, i));
        this.#buf = this.#buf.slice(i + 1);
      }
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static open(path: string): Promise<RawLine> {
    return new Promise((resolve, reject) => {
      const port = new SerialPort({ path, baudRate: 115200 }, (err) =>
        err ? reject(err) : resolve(new RawLine(port)),
      );
    });
  }

  write(bytes: Uint8Array | string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#port.write(
        typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes),
        (e) => (e ? reject(e) : this.#port.drain((e2) => (e2 ? reject(e2) : resolve()))),
      );
    });
  }

  /** Waits until `n` lines have arrived in all (fails after `ms`). */
  async waitLines(n: number, ms = 5000): Promise<string[]> {
    const deadline = Date.now() + ms;
    while (this.lines.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${this.lines.length} of ${n} lines arrived`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.lines.slice(0, n);
  }

  /** Waits until a line matching `pred` has arrived; returns it. */
  async waitFor(pred: (line: string) => boolean, ms = 10_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (let seen = 0; ;) {
      while (seen < this.lines.length) {
        const l = this.lines[seen++] as string;
        if (pred(l)) return l;
      }
      if (Date.now() > deadline) throw new Error('the expected line did not arrive');
      await this.waitLines(seen + 1, Math.max(1, deadline - Date.now())).catch(() => undefined);
    }
  }

  /** Writes `line` + LF and returns the next line that comes back (notices skipped). */
  async ask(line: string): Promise<string> {
    const before = this.lines.length;
    await this.write(line + '\n');
    for (let n = before + 1; ; n++) {
      const got = await this.waitLines(n);
      const last = got[n - 1] as string;
      if (!last.startsWith('*')) return last;
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) =>
      this.#port.isOpen ? this.#port.close(() => resolve()) : resolve(),
    );
  }
}

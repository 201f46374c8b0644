/** A tiny HID device for transport tests: echoes reports, answers CTAPHID_INIT, can stay busy. */
import type { HidDeviceFirmware } from '../../src/hid/port.js';

/**
 * Echoes each output report with byte 63 incremented (so an answer is never the question). A
 * report whose byte 4 is 0x86 (CTAPHID_INIT) on the broadcast channel gets a well-formed INIT
 * answer. Byte 5 = 0xBB makes it busy: each tick sends one report (byte 5 = 0xBB, byte 6 = tick
 * number) until `busyTicks` have passed.
 */
export class EchoFirmware implements HidDeviceFirmware {
  handled: Uint8Array[] = [];
  powerCycles = 0;
  ticks = 0;
  busyTicks = 3;
  #left = 0;

  get busy(): boolean {
    return this.#left > 0;
  }

  handleReport(report: Uint8Array): Uint8Array[] {
    this.handled.push(new Uint8Array(report));
    if (report[4] === 0x86 && report[0] === 0xff && report[1] === 0xff) {
      const out = new Uint8Array(64);
      out.set(report.subarray(0, 4), 0);
      out[4] = 0x86;
      out[6] = 17;
      out.set(report.subarray(7, 15), 7);
      out.set([0x01, 0x02, 0x03, 0x04], 15);
      out[19] = 2;
      return [out];
    }
    if (report[5] === 0xbb) {
      this.#left = this.busyTicks;
      return [];
    }
    const out = new Uint8Array(report);
    out[63] = (out[63]! + 1) & 0xff;
    return [out];
  }

  tick(): Uint8Array[] {
    this.ticks++;
    if (this.#left <= 0) return [];
    this.#left--;
    const out = new Uint8Array(64);
    out[5] = 0xbb;
    out[6] = this.busyTicks - this.#left;
    return [out];
  }

  powerCycle(): void {
    this.powerCycles++;
    this.#left = 0;
  }
}

/** A 64-byte report whose first byte is `tag`. */
export function report(tag: number, extra: Record<number, number> = {}): Uint8Array {
  const r = new Uint8Array(64);
  r[0] = tag;
  for (const [k, v] of Object.entries(extra)) r[Number(k)] = v;
  return r;
}

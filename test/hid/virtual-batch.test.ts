import { describe, expect, it } from 'vitest';
import { HidError } from '../../src/hid/errors.js';
import { VirtualHidTransport } from '../../src/hid/virtual.js';
import { EchoFirmware, report } from './echo-firmware.js';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HidError);
    return (e as HidError).code;
  }
  throw new Error('expected a rejection');
}

describe('VirtualHidTransport.writeReports', () => {
  it('hands every report to the firmware in order, later, as one write in flight', async () => {
    const fw = new EchoFirmware();
    const t = new VirtualHidTransport(fw);
    const reports = [report(1), report(2), report(3)];
    const p = t.writeReports(reports);
    expect(fw.handled.length).toBe(0);
    expect(await code(t.write(report(9)))).toBe('busy');
    expect(await code(t.writeReports([report(9)]))).toBe('busy');
    reports[1]![0] = 99;
    await p;
    expect(fw.handled.map((r) => r[0])).toEqual([1, 2, 3]);
    const answers = [await t.read(1000), await t.read(1000), await t.read(1000)];
    expect(answers.map((r) => r[0])).toEqual([1, 2, 3]);
    await t.close();
  });

  it('checks every report before sending any', async () => {
    const fw = new EchoFirmware();
    const t = new VirtualHidTransport(fw);
    expect(await code(t.writeReports([report(1), new Uint8Array(63)]))).toBe('bad-report');
    await t.write(report(2));
    expect(fw.handled.map((r) => r[0])).toEqual([2]);
    await t.close();
    expect(await code(t.writeReports([report(3)]))).toBe('closed');
  });

  it('applies injected faults report by report', async () => {
    const fw = new EchoFirmware();
    const t = new VirtualHidTransport(fw);
    t.injectFault({ type: 'drop', direction: 'to-device' });
    t.injectFault({ type: 'duplicate', direction: 'to-device' });
    await t.writeReports([report(1), report(2), report(3)]);
    expect(fw.handled.map((r) => r[0])).toEqual([2, 2, 3]);
    expect(t.pendingFaults).toBe(0);
    await t.close();
  });

  it('ticks a firmware left busy by a batch until it is done', async () => {
    const fw = new EchoFirmware();
    fw.busyTicks = 2;
    const t = new VirtualHidTransport(fw, { tickMs: 5 });
    await t.writeReports([report(1), report(2, { 5: 0xbb })]);
    const got = [await t.read(1000), await t.read(1000), await t.read(1000)];
    expect(got[0]![0]).toBe(1);
    expect(got.slice(1).map((r) => [r[5], r[6]])).toEqual([
      [0xbb, 1],
      [0xbb, 2],
    ]);
    await t.close();
  });

  it('readReady hands over only reports that have arrived, never waiting', async () => {
    const fw = new EchoFirmware();
    const t = new VirtualHidTransport(fw);
    const p = t.writeReports([report(1), report(2)]);
    expect(t.readReady()).toBeUndefined();
    await p;
    expect(t.readReady()?.[0]).toBe(1);
    expect(t.readReady()?.[0]).toBe(2);
    expect(t.readReady()).toBeUndefined();
    await t.write(report(3));
    await t.close();
    expect(t.readReady()).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { HidError } from '../../src/hid/errors.js';
import { probeCtapHid } from '../../src/hid/list.js';
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

describe('VirtualHidTransport', () => {
  it('carries a report to the firmware and the answer back', async () => {
    const fw = new EchoFirmware();
    const t = await VirtualHidTransport.open(fw, { path: 'x.chip' });
    expect(t.descriptor).toMatchObject({ transport: 'virtual', path: 'x.chip' });
    await t.write(report(7, { 63: 41 }));
    const r = await t.read(1000);
    expect(r.length).toBe(64);
    expect(r[0]).toBe(7);
    expect(r[63]).toBe(42);
    await t.close();
  });

  it('rejects reports that are not exactly 64 bytes', async () => {
    const t = new VirtualHidTransport(new EchoFirmware());
    expect(await code(t.write(new Uint8Array(63)))).toBe('bad-report');
    expect(await code(t.write(new Uint8Array(65)))).toBe('bad-report');
    expect(await code(t.write('x' as unknown as Uint8Array))).toBe('bad-report');
    await t.close();
  });

  it('never answers inside the call, and rejects an overlapping write', async () => {
    const fw = new EchoFirmware();
    const t = new VirtualHidTransport(fw);
    const first = t.write(report(1));
    expect(fw.handled.length).toBe(0);
    expect(await code(t.write(report(2)))).toBe('busy');
    await first;
    expect(fw.handled.length).toBe(1);
    expect((await t.read(1000))[0]).toBe(1);
    await t.close();
  });

  it('copies the report at write time', async () => {
    const fw = new EchoFirmware();
    const t = new VirtualHidTransport(fw);
    const r = report(5);
    const p = t.write(r);
    r[0] = 99;
    await p;
    expect(fw.handled[0]![0]).toBe(5);
    await t.close();
  });

  it('times out a read with HidError timeout', async () => {
    const t = new VirtualHidTransport(new EchoFirmware());
    expect(await code(t.read(20))).toBe('timeout');
    await t.close();
  });

  it('drops, duplicates, corrupts and delays reports when asked', async () => {
    const fw = new EchoFirmware();
    const t = new VirtualHidTransport(fw);
    t.injectFault({ type: 'drop', direction: 'to-host' });
    await t.write(report(1));
    expect(await code(t.read(30))).toBe('timeout');
    expect(fw.handled.length).toBe(1);

    t.injectFault({ type: 'drop', direction: 'to-device' });
    await t.write(report(2));
    expect(await code(t.read(30))).toBe('timeout');
    expect(fw.handled.length).toBe(1);

    t.injectFault({ type: 'duplicate', direction: 'to-host' });
    await t.write(report(3));
    expect((await t.read(100))[0]).toBe(3);
    expect((await t.read(100))[0]).toBe(3);

    t.injectFault({ type: 'duplicate', direction: 'to-device' });
    await t.write(report(4));
    expect(fw.handled.filter((r) => r[0] === 4).length).toBe(2);
    await t.read(100);
    await t.read(100);

    t.injectFault({ type: 'corrupt', direction: 'to-host', byte: 0 });
    await t.write(report(0x0f));
    expect((await t.read(100))[0]).toBe(0xf0);

    t.injectFault({ type: 'delay', direction: 'to-host', ms: 150 });
    await t.write(report(6));
    expect(await code(t.read(30))).toBe('timeout');
    expect((await t.read(1000))[0]).toBe(6);
    expect(t.pendingFaults).toBe(0);
    await t.close();
  });

  it('ticks the firmware while it is busy, then stops', async () => {
    const fw = new EchoFirmware();
    fw.busyTicks = 3;
    const t = new VirtualHidTransport(fw, { tickMs: 10 });
    await t.write(report(0, { 5: 0xbb }));
    const got = [await t.read(1000), await t.read(1000), await t.read(1000)].map((r) => r[6]);
    expect(got).toEqual([1, 2, 3]);
    const ticksWhenIdle = fw.ticks;
    await new Promise((r) => setTimeout(r, 60));
    expect(fw.ticks).toBe(ticksWhenIdle);
    await t.close();
  });

  it('rejects pending and later reads and writes once closed', async () => {
    const t = new VirtualHidTransport(new EchoFirmware());
    const pending = t.read(5000);
    await t.close();
    expect(await code(pending)).toBe('closed');
    expect(await code(t.read(10))).toBe('closed');
    expect(await code(t.write(report(1)))).toBe('closed');
    await t.close();
  });

  it('answers a CTAPHID_INIT probe', async () => {
    const t = new VirtualHidTransport(new EchoFirmware());
    expect(await probeCtapHid(t, 500)).toBe(true);
    await t.close();
  });
});

// The virtual code display as host software uses it: persistence, drift, battery, blanking, hostile inputs.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodeDisplay } from '../../devices/code-display/index.js';
import { VirtualClock } from '../../src/core/clock.js';
import { DeviceError, MitidError } from '../../src/core/errors.js';
import type { OtpKey } from '../../src/otp/types.js';
import { describeWithTool, toolAvailable } from '../support/tools.js';
import { independentStep, independentTotp } from '../contract/independent-totp.js';

const START = Date.UTC(2026, 10, 25, 8, 0, 0);
const DAY = 86_400_000;
const SECRET = Uint8Array.from(Buffer.from('3132333435363738393031323334353637383930', 'hex'));
const spec = { secret: SECRET, algorithm: 'SHA1', digits: 6, period: 30, t0: 0 } as const;

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mitid-cd-device-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
const file = (): string => join(dir, `cd-${++n}.json`);

function key(serial = 'CD-100', over: Partial<OtpKey> = {}): OtpKey {
  return {
    serial,
    type: 'totp',
    secret: SECRET,
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    t0: 0,
    ...over,
  };
}

async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toBeInstanceOf(MitidError);
  expect((err as MitidError).code).toBe(code);
  expect((err as Error).message).not.toContain('3132333435');
}

describe('virtual code display', () => {
  it('press, lcd and status at given host times; blanks after 30 s', async () => {
    const dev = await CodeDisplay.create({
      serial: 'CD-100',
      key: key(),
      out: file(),
      reference: new VirtualClock({ start: START }),
    });
    expect(dev.lcd(START).on).toBe(false);
    const f = await dev.press(START + 5_000);
    expect(f).toMatchObject({
      on: true,
      code: independentTotp(spec, START + 5_000),
      deviceTime: START + 5_000,
    });
    expect(dev.lcd(START + 34_999).code).toBe(f.code);
    expect(dev.lcd(START + 35_000)).toMatchObject({ on: false, code: null, text: '' });
    expect(dev.status(START + 5_000)).toMatchObject({
      serial: 'CD-100',
      presses: 1,
      displayOn: true,
    });
    await dev.close();
  });

  it('drift over days: +20 ppm for 30 days gives a code from a later step than the true time', async () => {
    const path = file();
    const dev = await CodeDisplay.create({
      serial: 'CD-101',
      key: key('CD-101'),
      out: path,
      reference: new VirtualClock({ start: START }),
      driftPpm: 20,
    });
    await dev.close();
    // A restart in between: the crystal keeps drifting across it.
    const again = await CodeDisplay.open(path);
    const at = START + 30 * DAY;
    const proof = await again.prove({ at });
    expect(proof.deviceTime - at).toBe(51_840);
    expect(independentStep(spec, proof.deviceTime)).toBeGreaterThan(independentStep(spec, at));
    expect(proof.code).toBe(independentTotp(spec, proof.deviceTime));
    expect(proof.code).not.toBe(independentTotp(spec, at));
    // Setting the clock brings it back.
    await again.setClock(at, at);
    expect(again.status(at + DAY).offsetMs).toBe(1_728);
    await again.close();
  });

  it('state survives reopen: presses, battery, clock settings, the code showing', async () => {
    const path = file();
    const dev = await CodeDisplay.create({
      serial: 'CD-102',
      key: key('CD-102'),
      out: path,
      reference: new VirtualClock({ start: START }),
      driftPpm: -7,
    });
    for (let i = 0; i < 5; i++) await dev.press(START + i * 40_000);
    await dev.setDrift(12, START + DAY);
    const last = await dev.press(START + 2 * DAY);
    const before = dev.status(START + 2 * DAY + 1_000);
    // No close: every press is already on disk, as if the process had been killed.
    const again = await CodeDisplay.open(path);
    expect(again.status(START + 2 * DAY + 1_000)).toEqual(before);
    expect(again.lcd(START + 2 * DAY + 1_000).code).toBe(last.code);
    expect(before).toMatchObject({ presses: 6, driftPpm: 12 });
    const next = await again.press(START + 3 * DAY);
    expect(next.code).toBe(independentTotp(spec, next.deviceTime));
    expect(again.status(START + 3 * DAY).presses).toBe(7);
    await again.close();
    await dev.close();
  });

  it('every press is written to disk before press() resolves, in order even when concurrent', async () => {
    const path = file();
    const dev = await CodeDisplay.create({
      serial: 'CD-103',
      key: key('CD-103'),
      out: path,
      reference: new VirtualClock({ start: START }),
    });
    await Promise.all(Array.from({ length: 20 }, (_, i) => dev.press(START + i * 1000)));
    const onDisk = JSON.parse(await readFile(path, 'utf8')) as { counters: { presses: number } };
    expect(onDisk.counters.presses).toBe(20);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await dev.close();
  });

  it('runs its battery down; a dead one shows nothing and bind/prove say battery-empty', async () => {
    const path = file();
    const dev = await CodeDisplay.create({
      serial: 'CD-104',
      key: key('CD-104'),
      out: path,
      reference: new VirtualClock({ start: START }),
      battery: { capacityUah: 100, pressCostUah: 10, idleUahPerDay: 10, lowPercent: 30 },
    });
    await dev.press(START);
    await dev.press(START);
    expect(dev.status(START)).toMatchObject({ batteryPercent: 80, lowBattery: false });
    const low = await dev.press(START + 3 * DAY); // 80 - 30 (3 days idle) - 10 = 40 µAh
    expect(low.on).toBe(true);
    expect(dev.status(START + 3 * DAY).batteryPercent).toBe(40);
    const lower = await dev.press(START + 4 * DAY);
    expect(lower).toMatchObject({ on: true, lowBattery: true });
    await dev.close();
    const again = await CodeDisplay.open(path);
    expect(again.status(START + 4 * DAY).batteryPercent).toBe(20);
    await again.press(START + 4 * DAY);
    expect(again.status(START + 4 * DAY)).toMatchObject({
      batteryUah: 10,
      batteryEmpty: false,
    });
    await again.press(START + 4 * DAY);
    expect(again.status(START + 4 * DAY)).toMatchObject({
      batteryUah: 0,
      batteryEmpty: true,
      presses: 6,
    });
    expect((await again.press(START + 5 * DAY)).on).toBe(false);
    await expectCode(again.prove({ at: START + 5 * DAY }), 'battery-empty');
    await expectCode(again.bind({ at: START + 5 * DAY }), 'battery-empty');
    expect(again.status(START + 5 * DAY).presses).toBe(6);
    await again.replaceBattery(START + 5 * DAY);
    expect((await again.prove({ at: START + 5 * DAY })).code).toMatch(/^\d{6}$/);
    await again.close();
  });

  it('makes a random 20-byte SHA1 key when given none; exportKey/fromKey carry it over', async () => {
    const a = await CodeDisplay.create({
      serial: 'CD-105',
      out: file(),
      reference: new VirtualClock({ start: START }),
    });
    const k = a.exportKey();
    expect(k).toMatchObject({
      serial: 'CD-105',
      type: 'totp',
      algorithm: 'SHA1',
      digits: 6,
      period: 30,
      t0: 0,
    });
    expect(k.secret.length).toBe(20);
    const other = await CodeDisplay.create({
      serial: 'CD-106',
      out: file(),
      reference: new VirtualClock({ start: START }),
    });
    expect(Buffer.from(other.exportKey().secret).equals(Buffer.from(k.secret))).toBe(false);
    const b = await CodeDisplay.fromKey(k, file(), {
      reference: new VirtualClock({ start: START }),
    });
    expect(b.serial).toBe('CD-105');
    const at = START + 12_345_678;
    const pa = await a.prove({ at });
    const pb = await b.prove({ at });
    expect(pb.code).toBe(pa.code);
    expect(pa.code).toBe(independentTotp({ ...k, algorithm: 'SHA1', period: 30, t0: 0 }, at));
    // Changing the exported copy does not touch the device.
    k.secret.fill(0);
    expect((await a.prove({ at })).code).toBe(pa.code);
    for (const d of [a, b, other]) await d.close();
  });

  it('uses the host clock when no time is given', async () => {
    const dev = await CodeDisplay.create({ serial: 'CD-107', key: key('CD-107'), out: file() });
    const before = Date.now();
    const p = await dev.prove({});
    const after = Date.now();
    expect(p.deviceTime).toBeGreaterThanOrEqual(before);
    expect(p.deviceTime).toBeLessThanOrEqual(after);
    expect(p.code).toBe(independentTotp(spec, p.deviceTime));
    await dev.close();
  });

  describe('hostile inputs to every public function', () => {
    it('create', async () => {
      const ref = new VirtualClock({ start: START });
      const out = file();
      await expectCode(CodeDisplay.create(null as never), 'bad-option');
      await expectCode(CodeDisplay.create({ serial: '', out }), 'bad-serial');
      await expectCode(
        CodeDisplay.create({ serial: 'CD-1', out, key: key('CD-2') }),
        'serial-mismatch',
      );
      await expectCode(
        CodeDisplay.create({ serial: 'CD-1', out, key: key('CD-1', { type: 'hotp' }) }),
        'bad-key',
      );
      await expectCode(
        CodeDisplay.create({
          serial: 'CD-1',
          out,
          key: key('CD-1', { secret: new Uint8Array(3) }),
        }),
        'bad-key',
      );
      await expectCode(CodeDisplay.create({ serial: 'CD-1', out, driftPpm: NaN }), 'bad-drift');
      await expectCode(
        CodeDisplay.create({ serial: 'CD-1', out, reference: {} as never }),
        'bad-option',
      );
      await expectCode(CodeDisplay.create({ serial: 'CD-1', out: '', reference: ref }), 'bad-path');
      await expectCode(
        CodeDisplay.create({ serial: 'CD-1', out: join(dir, 'missing', 'x.json'), reference: ref }),
        'device-file-write',
      );
      const made = await CodeDisplay.create({ serial: 'CD-1', out, reference: ref });
      const onDisk = await readFile(out, 'utf8');
      await expectCode(
        CodeDisplay.create({ serial: 'CD-1', out, reference: ref }),
        'device-file-exists',
      );
      expect(await readFile(out, 'utf8')).toBe(onDisk);
      await made.close();
      await expectCode(CodeDisplay.fromKey(null as never, file()), 'bad-key');
    });

    it('open', async () => {
      await expectCode(CodeDisplay.open(join(dir, 'absent.json')), 'no-device-file');
      await expectCode(CodeDisplay.open(''), 'bad-path');
      await expectCode(CodeDisplay.open(file(), { reference: 5 as never }), 'bad-option');
    });

    it('methods of an open device, which keeps working afterwards', async () => {
      const dev = await CodeDisplay.create({
        serial: 'CD-108',
        key: key('CD-108'),
        out: file(),
        reference: new VirtualClock({ start: START }),
      });
      for (const at of [NaN, -1, Infinity, 9e15, 'x' as never, {} as never]) {
        await expectCode(dev.press(at), 'bad-time');
        await expectCode(() => dev.lcd(at), 'bad-time');
        await expectCode(() => dev.status(at), 'bad-time');
        await expectCode(dev.setClock(START, at), 'bad-time');
        await expectCode(dev.prove({ at }), 'bad-time');
        await expectCode(dev.bind({ at }), 'bad-time');
      }
      for (const t of [NaN, -1, 1e17, '0' as never])
        await expectCode(dev.setClock(t, START), 'bad-time');
      for (const p of [NaN, 5e6, null as never])
        await expectCode(dev.setDrift(p, START), 'bad-drift');
      await expectCode(dev.configure({ displayTimeoutMs: -1 }), 'bad-option');
      await expectCode(dev.prove(null as never), 'bad-request');
      await expectCode(dev.bind('x' as never), 'bad-request');
      // A clock set before the key's T0 is refused at the press with a clear error.
      const t0 = await CodeDisplay.create({
        serial: 'CD-109',
        key: key('CD-109', { t0: 1_000_000 }),
        out: file(),
        reference: new VirtualClock({ start: START }),
      });
      await t0.setClock(1000, START);
      await expectCode(t0.press(START), 'clock-invalid');
      await t0.close();
      expect(dev.status(START).presses).toBe(0);
      const ok = await dev.prove({ at: START });
      expect(ok.code).toBe(independentTotp(spec, START));
      await dev.configure({ displayTimeoutMs: 5_000 });
      expect(dev.lcd(START + 5_000).on).toBe(false);
      await dev.close();
    });

    it('a closed device', async () => {
      const dev = await CodeDisplay.create({
        serial: 'CD-110',
        key: key('CD-110'),
        out: file(),
        reference: new VirtualClock({ start: START }),
      });
      await dev.close();
      await dev.close();
      await expectCode(dev.press(START), 'closed');
      await expectCode(() => dev.lcd(), 'closed');
      await expectCode(() => dev.status(), 'closed');
      await expectCode(() => dev.exportKey(), 'closed');
      await expectCode(dev.setClock(START), 'closed');
      await expectCode(dev.prove({}), 'closed');
      expect(DeviceError).toBeDefined();
    });

    it('close while a press is in flight: the press is saved, later calls are refused', async () => {
      const path = file();
      const dev = await CodeDisplay.create({
        serial: 'CD-111',
        key: key('CD-111'),
        out: path,
        reference: new VirtualClock({ start: START }),
      });
      const pressed = dev.press(START);
      const closed = dev.close();
      const late = dev.press(START + 1).catch((e: unknown) => e);
      expect((await pressed).on).toBe(true);
      await closed;
      expect(await late).toMatchObject({ code: 'closed' });
      await dev.close();
      const again = await CodeDisplay.open(path);
      expect(again.status(START).presses).toBe(1);
      await again.close();
    });
  });
});

// oathtool (Debian package oathtool) as an independent peer: the device's code at its own time.
describeWithTool(
  'oathtool',
  toolAvailable('oathtool', ['--version']),
  'code display against oathtool',
  () => {
    it('oathtool agrees with the drifted device at the device time, for SHA1 and SHA256', async () => {
      for (const [algorithm, ppm] of [
        ['SHA1', 20],
        ['SHA256', -30],
      ] as const) {
        const dev = await CodeDisplay.create({
          serial: `CD-OATH-${algorithm}`,
          key: { ...key(`CD-OATH-${algorithm}`), algorithm },
          out: file(),
          reference: new VirtualClock({ start: START }),
          driftPpm: ppm,
        });
        for (const later of [0, 7 * DAY + 13_000, 90 * DAY + 29_999]) {
          const p = await dev.prove({ at: START + later });
          const when = new Date(p.deviceTime)
            .toISOString()
            .replace('T', ' ')
            .replace(/\.\d+Z$/, ' UTC');
          const r = spawnSync(
            'oathtool',
            [
              `--totp=${algorithm.toLowerCase()}`,
              '--digits=6',
              '--time-step-size=30s',
              `--now=${when}`,
              Buffer.from(SECRET).toString('hex'),
            ],
            { encoding: 'utf8' },
          );
          expect(r.status, r.stderr).toBe(0);
          expect(p.code).toBe(r.stdout.trim());
        }
        await dev.close();
      }
    });
  },
);

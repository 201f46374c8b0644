/** A code display device file served on one end of a real pty pair, driven from the other end. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CodeDisplay } from '../../devices/code-display/code-display.js';
import {
  SerialCodeDisplay,
  codeDisplayTarget,
  serveDeviceFile,
  type ServedDevice,
} from '../../devices/code-display/serial.js';
import { VirtualClock } from '../../src/core/clock.js';
import { DeviceError, SerialError } from '../../src/core/errors.js';
import type { OtpKey } from '../../src/otp/types.js';
import {
  SerialClient,
  SerialDeviceError,
  openPtyPair,
  pressOverSerial,
  serveSerial,
  MAX_WAITING_REQUESTS,
  type PtyPair,
  type SerialTarget,
} from '../../src/serial/index.js';
import { independentTotp } from '../contract/independent-totp.js';
import { describeWithTool, toolAvailable } from '../support/tools.js';
import { RawLine } from './support/raw-line.js';

const START = Date.UTC(2026, 10, 25, 12, 0, 0); // on a 30 s boundary
// RFC 6238 Appendix B's SHA1 seed.
const SECRET = new TextEncoder().encode('12345678901234567890');
const KEY: OtpKey = {
  serial: 'CD-00012345',
  type: 'totp',
  secret: SECRET,
  algorithm: 'SHA1',
  digits: 6,
  period: 30,
  t0: 0,
};
const IKEY = { secret: SECRET, algorithm: 'SHA1', digits: 6, period: 30, t0: 0 } as const;

/** Why `p` rejected: its error, which must be one of ours. */
async function failure(p: Promise<unknown>): Promise<SerialError | DeviceError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SerialError || e instanceof DeviceError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

/** The device file as stored on disk. */
async function stored(file: string): Promise<{ counters: { presses: number; clockSets: number } }> {
  return JSON.parse(await readFile(file, 'utf8')) as {
    counters: { presses: number; clockSets: number };
  };
}

describeWithTool(
  'socat',
  toolAvailable('socat', ['-V']),
  'serial: a device file served over a pty pair',
  () => {
    let dir: string;
    let file: string;
    let pair: PtyPair;
    let served: ServedDevice;
    let client: SerialClient;
    const notices: string[] = [];
    const ref = new VirtualClock({ start: START });

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'mitid-serial-'));
      file = join(dir, 'code-display.json');
      await (await CodeDisplay.fromKey(KEY, file, { reference: ref })).close();
      pair = await openPtyPair();
      served = await serveDeviceFile(file, pair.a, { reference: ref });
      client = await SerialClient.open(pair.b, { onNotice: (t) => notices.push(t) });
    });
    afterAll(async () => {
      await client?.close();
      await served?.close();
      await pair?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('says what it is', async () => {
      expect(await client.identify()).toStrictEqual({
        kind: 'code-display',
        serial: 'CD-00012345',
        firmware: '1.0.0',
      });
      const help = await client.request('help');
      expect(help.get('proto')).toBe('1');
      expect(help.get('commands')).toBe('HELP ID PING PRESS READ STATUS TIME');
      expect((await client.request('PING', ['x-1'])).get('echo')).toBe('x-1');
    });

    it('PRESS shows the RFC 6238 code of the device clock and is saved before the answer', async () => {
      const before = (await stored(file)).counters.presses;
      const r = await client.press();
      const code = independentTotp(IKEY, START);
      expect(r).toStrictEqual({
        on: true,
        text: `${code.slice(0, 3)} ${code.slice(3)}`,
        code,
        lowBattery: false,
        deviceTime: START,
      });
      expect((await stored(file)).counters.presses).toBe(before + 1);
      // READ shows the same screen and changes nothing on disk.
      expect(await client.read()).toStrictEqual(r);
      expect((await stored(file)).counters.presses).toBe(before + 1);
    });

    it('follows the reference clock: the screen blanks, the next press shows the next step', async () => {
      ref.advance(31_000);
      const blank = await client.read();
      expect(blank).toStrictEqual({
        on: false,
        text: '',
        code: null,
        lowBattery: false,
        deviceTime: START + 31_000,
      });
      const r = await client.press();
      expect(r.code).toBe(independentTotp(IKEY, START + 31_000));
      expect(r.code).not.toBe(independentTotp(IKEY, START));
    });

    it('TIME reads and sets the device clock (ms or ISO), saved to the device file', async () => {
      expect(await client.time()).toBe(ref.now());
      const sets = (await stored(file)).counters.clockSets;
      const target = START + 3_600_000;
      expect(await client.setTime(target)).toBe(target);
      const iso = await client.request('TIME', ['2026-11-25T14:00:00.250+01:00']);
      expect(iso.get('time')).toBe(String(Date.UTC(2026, 10, 25, 13, 0, 0, 250)));
      expect(iso.get('iso')).toBe('2026-11-25T13:00:00.250Z');
      expect((await stored(file)).counters.clockSets).toBe(sets + 2);
      const r = await client.press();
      expect(r.code).toBe(independentTotp(IKEY, Date.UTC(2026, 10, 25, 13, 0, 0, 250)));
      await client.setTime(ref.now());
    });

    it('STATUS reports the device as the firmware sees it', async () => {
      const s = await client.status();
      const fw = served.device.status();
      expect(s.deviceTime).toBe(fw.deviceTime);
      expect(s.presses).toBe(fw.presses);
      expect(s.batteryPercent).toBe(Math.round(fw.batteryPercent));
      expect(s.driftPpm).toBe(0);
      expect(s.lowBattery).toBe(false);
      expect(s.extra).toMatchObject({
        offset: '0',
        empty: '0',
        algorithm: 'SHA1',
        digits: '6',
        period: '30',
      });
      // The key never crosses the line.
      const raw = JSON.stringify([...(await client.request('STATUS'))]);
      expect(raw).not.toMatch(/3132333435|secret/i);
    });

    it('reads the device file as it is now when another program pressed the same device', async () => {
      const other = await CodeDisplay.open(file, { reference: ref });
      try {
        const before = (await client.status()).presses!;
        ref.advance(30_000);
        const frame = await other.press();
        expect((await client.status()).presses).toBe(before + 1);
        expect(await client.read()).toStrictEqual(frame);
      } finally {
        await other.close();
      }
    });

    it('queues concurrent requests and matches every answer to its request', async () => {
      const jobs = Array.from({ length: 30 }, (_, i) =>
        i % 3 === 0
          ? client.request('PING', [`n${i}`]).then((f) => f.get('echo'))
          : i % 3 === 1
            ? client.read().then((r) => r.deviceTime)
            : client.time(),
      );
      const results = await Promise.all(jobs);
      results.forEach((v, i) => {
        if (i % 3 === 0) expect(v).toBe(`n${i}`);
        else expect(v).toBe(ref.now());
      });
    });

    it('device ERR answers become SerialDeviceError with the device code', async () => {
      const a = await failure(client.request('FROB'));
      expect(a).toBeInstanceOf(SerialDeviceError);
      expect((a as SerialDeviceError).deviceCode).toBe('unknown-command');
      const b = await failure(client.request('TIME', ['yesterday']));
      expect((b as SerialDeviceError).deviceCode).toBe('bad-argument');
      expect(b.message).not.toContain('yesterday');
      const c = await failure(client.request('PRESS', ['twice']));
      expect((c as SerialDeviceError).deviceCode).toBe('bad-argument');
    });

    it('SerialCodeDisplay gives what the virtual code display gives', async () => {
      await client.close();
      const twinFile = join(dir, 'twin.json');
      const twin = await CodeDisplay.fromKey(KEY, twinFile, { reference: ref });
      const sd = await SerialCodeDisplay.open(pair.b);
      try {
        expect(sd.kind).toBe('code-display');
        expect(sd.serial).toBe(twin.serial);
        ref.advance(60_000);
        const bound = await sd.bind({});
        expect(bound).toStrictEqual(await twin.bind({}));
        ref.advance(30_000);
        const proof = await sd.prove({});
        expect(proof).toStrictEqual(await twin.prove({}));
        expect(Object.keys(proof).sort()).toStrictEqual(['code', 'deviceTime', 'serial', 'type']);
        // PRESS <t>: the emulator presses at a given host time, as the virtual one does.
        const at = ref.now() + 45_000;
        expect(await sd.prove({ at })).toStrictEqual(await twin.prove({ at }));
        expect((await sd.prove({ at: START + 0.7 })).code).toBe(independentTotp(IKEY, START));
        for (const bad of [NaN, -1, Infinity, 1e300, '12' as unknown as number]) {
          const e = await failure(sd.prove({ at: bad }));
          expect(e).toBeInstanceOf(DeviceError);
          expect(e.code).toBe('bad-time');
        }
        expect((await failure(sd.bind(null as never))).code).toBe('bad-request');
      } finally {
        await sd.close();
        await sd.close();
        await twin.close();
      }
      expect(await pressOverSerial(pair.b)).toMatchObject({
        on: true,
        code: independentTotp(IKEY, ref.now()),
      });
      client = await SerialClient.open(pair.b);
    });
  },
);

describeWithTool(
  'socat',
  toolAvailable('socat', ['-V']),
  'serial: hostile input to the server',
  () => {
    let pair: PtyPair;
    let dir: string;
    let served: ServedDevice;
    let raw: RawLine;
    const ref = new VirtualClock({ start: START });

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'mitid-serial-'));
      const file = join(dir, 'cd.json');
      await (await CodeDisplay.fromKey(KEY, file, { reference: ref })).close();
      pair = await openPtyPair();
      served = await serveDeviceFile(file, pair.a, { reference: ref });
      raw = await RawLine.open(pair.b);
    });
    afterAll(async () => {
      await raw?.close();
      await served?.close();
      await pair?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const table: Array<[string, string]> = [
      ['hello world', 'ERR unknown-command unknown command; try HELP'],
      ['#7 frob', '#7 ERR unknown-command unknown command; try HELP'],
      ['!!!', 'ERR unknown-command unknown command; try HELP'],
      ['#', 'ERR bad-syntax a tag is # and 1 to 16 letters, digits, - or _'],
      ['#1', '#1 ERR bad-syntax a tag needs a command'],
      ['#tag!! PING', 'ERR bad-syntax a tag is # and 1 to 16 letters, digits, - or _'],
      [
        'PRESS now',
        'ERR bad-argument PRESS takes no argument, or a host time: Unix ms or ISO 8601 with a zone',
      ],
      ['#2 TIME 2026-11-25', '#2 ERR bad-argument TIME wants Unix ms or ISO 8601 with a zone'],
      ['TIME 1 2', 'ERR bad-argument TIME takes at most one time'],
      ['PING a b', 'ERR bad-argument PING takes at most one word'],
      ['p\u00e9ng', 'ERR bad-bytes line has bytes outside printable ASCII'],
      ['PING\u0000', 'ERR bad-bytes line has bytes outside printable ASCII'],
      ['\u001b[A', 'ERR bad-bytes line has bytes outside printable ASCII'],
      ['A'.repeat(257), 'ERR too-long line exceeds 256 bytes'],
      ['#3 PING ' + 'x'.repeat(300), 'ERR too-long line exceeds 256 bytes'],
      ['#4 ping\r', '#4 OK'],
      ['\t#5\tPING\tok ', '#5 OK echo=ok'],
    ];
    it.each(table)('%j -> %j', async (line, answer) => {
      expect(await raw.ask(line)).toBe(answer);
    });

    it('ignores blank lines without answering', async () => {
      await raw.write('\n\r\n   \n');
      expect(await raw.ask('#b PING')).toBe('#b OK');
    });

    it('survives a megabyte with no LF, and random binary, and keeps serving', async () => {
      await raw.write(new Uint8Array(1 << 20).fill(0x41));
      expect(await raw.ask('')).toBe('ERR too-long line exceeds 256 bytes');
      const answered = served.server.answered;
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 600 }), async (bytes) => {
          await raw.write(bytes);
        }),
        { numRuns: 40 },
      );
      // Random bytes can hold many LFs: if they left the server past its limit (§3.1), a
      // request may be dropped with ERR busy, so ask again once it has caught up.
      let alive = false;
      for (let k = 0; k < 5 && !alive; k++) {
        while (served.server.waiting > 0) await new Promise((r) => setTimeout(r, 20));
        await raw.write(`\n#alive${k} PING\n`);
        alive = (await raw.waitFor((l) => l === `#alive${k} OK`, 3000).catch(() => null)) !== null;
      }
      expect(alive).toBe(true);
      expect(served.server.answered).toBeGreaterThan(answered);
      // And real work still happens.
      const press = await raw.ask('#p PRESS');
      expect(press).toBe(
        `#p OK code=${independentTotp(IKEY, START)} text="${independentTotp(IKEY, START).slice(0, 3)} ${independentTotp(IKEY, START).slice(3)}" on=1 low=0 time=${START}`,
      );
    });
  },
);

describeWithTool(
  'socat',
  toolAvailable('socat', ['-V']),
  'serial: a silent, missing or vanishing far end',
  () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'mitid-serial-'));
    });
    afterAll(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('times out when nobody answers, and drops a late answer to the request that timed out', async () => {
      const pair = await openPtyPair();
      const client = await SerialClient.open(pair.b, { timeoutMs: 300 });
      const far = await RawLine.open(pair.a);
      try {
        const e = await failure(client.ping());
        expect(e).toBeInstanceOf(SerialError);
        expect(e.code).toBe('timeout');
        // (The blank line the client sends on opening may or may not have reached `far`.)
        expect(await far.waitFor((l) => l !== '')).toBe('#1 PING');
        // The late answer, an untagged one and a notice arrive before the answer to request #2.
        const next = client.request('PING', ['fresh'], { timeoutMs: 5000 });
        expect(await far.waitFor((l) => l.startsWith('#2'))).toBe('#2 PING fresh');
        await far.write('#1 OK echo=stale\nOK echo=untagged\n* hello\n#2 OK echo=fresh\r\n');
        expect((await next).get('echo')).toBe('fresh');
        // An answer that breaks the protocol is a protocol error, not a guess.
        // Its handler is attached at once: the refusal may come before the write below returns.
        const bad = failure(client.read());
        await far.waitFor((l) => l.startsWith('#3'));
        await far.write('#3 OK on=1 code=12ab time=1\n');
        expect((await bad).code).toBe('protocol');
      } finally {
        await far.close();
        await client.close();
        await pair.close();
      }
    });

    it('SerialCodeDisplay.open times out on a silent line', async () => {
      const pair = await openPtyPair();
      try {
        const e = await failure(SerialCodeDisplay.open(pair.b, { timeoutMs: 200 }));
        expect(e.code).toBe('timeout');
      } finally {
        await pair.close();
      }
    });

    it('says not-found for a port that is not there, open-failed for one that is not a tty', async () => {
      const missing = join(dir, 'no-such-tty');
      const file = join(dir, 'cd.json');
      await (await CodeDisplay.fromKey(KEY, file)).close();
      const attempts: Array<() => Promise<unknown>> = [
        () => SerialClient.open(missing),
        () => SerialCodeDisplay.open(missing),
        () => pressOverSerial(missing),
        async () => serveSerial(missing, codeDisplayTarget(await makeFirmwareLike())),
        () => serveDeviceFile(file, missing),
      ];
      for (const attempt of attempts) {
        const e = await failure(attempt());
        expect(e).toBeInstanceOf(SerialError);
        expect(e.code).toBe('not-found');
      }
      expect((await failure(SerialClient.open(missing))).code).toBe('not-found');
      const plain = join(dir, 'plain-file');
      await writeFile(plain, 'not a tty');
      const e = await failure(SerialClient.open(plain));
      expect(e.code).toBe('open-failed');
      expect(e.message.split('\n')).toHaveLength(1);
    });

    it('fails a request in flight with port-closed when the line goes away', async () => {
      const pair = await openPtyPair();
      const client = await SerialClient.open(pair.b, { timeoutMs: 10_000 });
      const pending = failure(client.ping());
      await pair.close();
      const e = await pending;
      expect(e.code).toBe('port-closed');
      // A server whose line goes away says so.
      const again = await openPtyPair();
      const server = await serveSerial(again.a, codeDisplayTarget(await makeFirmwareLike()));
      await again.close();
      await server.closed;
      await server.close();
      expect((await failure(client.ping())).code).toBe('port-closed');
      await client.close();
    });

    it('refuses a device that is not a code display, and maps a blank press to battery-empty', async () => {
      const pair = await openPtyPair();
      let kind = 'chip';
      const target: SerialTarget = {
        identify: () => ({ kind, serial: 'X-1', firmware: '0' }),
        press: () => ({ on: false, text: '', code: null, lowBattery: false, deviceTime: START }),
        read: () => ({ on: false, text: '', code: null, lowBattery: false, deviceTime: START }),
        status: () => ({ deviceTime: START }),
        setClock: () => {
          throw new DeviceError('battery-empty', 'the battery is empty');
        },
      };
      const server = await serveSerial(pair.a, target);
      try {
        const e = await failure(SerialCodeDisplay.open(pair.b));
        expect(e).toBeInstanceOf(DeviceError);
        expect(e.code).toBe('wrong-kind');
        kind = 'code-display';
        const sd = await SerialCodeDisplay.open(pair.b);
        try {
          expect((await failure(sd.prove({}))).code).toBe('battery-empty');
          const c = await failure(sd.setClock(START));
          expect(c).toBeInstanceOf(DeviceError);
          expect(c.code).toBe('battery-empty');
        } finally {
          await sd.close();
        }
      } finally {
        await server.close();
        await pair.close();
      }
    });

    it('greets a host that is already listening, before any answer', async () => {
      const pair = await openPtyPair();
      const raw = await RawLine.open(pair.b);
      const server = await serveSerial(pair.a, codeDisplayTarget(await makeFirmwareLike()));
      try {
        await raw.write('#1 ID\n');
        expect(await raw.waitLines(2)).toStrictEqual([
          '* MITID-SERIAL 1 kind=code-display serial=CD-00012345 ready',
          '#1 OK proto=1 kind=code-display serial=CD-00012345 fw=1.0.0',
        ]);
      } finally {
        await raw.close();
        await server.close();
        await pair.close();
      }
    });

    it('drops requests past the waiting limit and says so once, in order', async () => {
      const pair = await openPtyPair();
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let presses = 0;
      const target: SerialTarget = {
        identify: () => ({ kind: 'code-display', serial: 'X-2', firmware: '0' }),
        press: async () => {
          presses += 1;
          await gate;
          return {
            on: true,
            text: '123 456',
            code: '123456',
            lowBattery: false,
            deviceTime: START,
          };
        },
        read: () => ({ on: false, text: '', code: null, lowBattery: false, deviceTime: START }),
        status: () => ({ deviceTime: START }),
        setClock: () => undefined,
      };
      const server = await serveSerial(pair.a, target, { banner: false });
      const raw = await RawLine.open(pair.b);
      try {
        const total = 3 * MAX_WAITING_REQUESTS;
        await raw.write(Array.from({ length: total }, (_, i) => `#${i} PRESS\n`).join(''));
        // The first press holds the line; the limit fills up behind it.
        while (server.waiting < MAX_WAITING_REQUESTS + 1)
          await new Promise((r) => setTimeout(r, 20));
        expect(presses).toBe(1);
        release();
        const first = await raw.waitLines(MAX_WAITING_REQUESTS + 1);
        first
          .slice(0, MAX_WAITING_REQUESTS)
          .forEach((l, i) => expect(l).toMatch(new RegExp(`^#${i} OK code=123456 `)));
        const busy = /^ERR busy (\d+) requests dropped: wait for each answer$/.exec(
          first[MAX_WAITING_REQUESTS]!,
        );
        expect(busy).not.toBeNull();
        const droppedCount = Number(busy![1]);
        // Lines that arrived after the device caught up are answered normally.
        const rest = total - MAX_WAITING_REQUESTS - droppedCount;
        const after = await raw.waitLines(MAX_WAITING_REQUESTS + 1 + rest);
        expect(after.slice(MAX_WAITING_REQUESTS + 1).every((l) => / OK code=123456 /.test(l))).toBe(
          true,
        );
        expect(await raw.ask('#ok PING')).toBe('#ok OK');
      } finally {
        release();
        await raw.close();
        await server.close();
        await pair.close();
      }
    });

    it('openPtyPair says socat-missing when socat cannot be run', async () => {
      const e = await failure(openPtyPair({ socat: join(dir, 'no-socat-here') }));
      expect(e.code).toBe('socat-missing');
    });
  },
);

/** A code display made in memory, for a target that is never reached. */
async function makeFirmwareLike() {
  const { CodeDisplayFirmware } = await import('../../firmware-sim/code-display/index.js');
  return CodeDisplayFirmware.manufacture({
    serial: KEY.serial,
    key: KEY,
    reference: new VirtualClock({ start: START }),
  });
}

describeWithTool('socat', toolAvailable('socat', ['-V']), 'serial: pty pairs', () => {
  it('are two distinct ttys that stop cleanly', async () => {
    const pair = await openPtyPair();
    expect(pair.a).not.toBe(pair.b);
    expect(pair.a).toMatch(/^\/dev\//);
    await pair.close();
    await pair.close();
    expect(() => process.kill(pair.pid, 0)).toThrow();
  });
});

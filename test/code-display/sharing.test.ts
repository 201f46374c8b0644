// Two programs on one device file: the lock serialises them and each picks up the other's changes.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodeDisplay } from '../../devices/code-display/index.js';
import { withDeviceFileLock } from '../../devices/device-file.js';
import { VirtualClock } from '../../src/core/clock.js';

const START = Date.UTC(2026, 10, 25, 11, 0, 0);
let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mitid-cd-share-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
const make = async (): Promise<CodeDisplay> =>
  CodeDisplay.create({
    serial: `CD-S${++n}`,
    out: join(dir, `s${n}.json`),
    reference: new VirtualClock({ start: START }),
  });

/**
 * Another program, in plain JavaScript with nothing of ours: it takes `<file>.lock` the same way
 * (O_EXCL, its pid inside), adds one to the press counter, writes the file by rename, and lets go.
 */
const OTHER = `
const fs = require('node:fs');
const [file, times] = process.argv.slice(1);
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
for (let i = 0; i < Number(times); i++) {
  for (;;) {
    try { fs.writeFileSync(file + '.lock', process.pid + '\\n', { flag: 'wx' }); break; }
    catch (e) { if (e.code !== 'EEXIST') throw e; sleep(1); }
  }
  const o = JSON.parse(fs.readFileSync(file, 'utf8'));
  o.counters.presses += 1;
  fs.writeFileSync(file + '.other', JSON.stringify(o, null, 2));
  fs.renameSync(file + '.other', file);
  fs.unlinkSync(file + '.lock');
}
`;

describe('sharing a device file', () => {
  it('two objects in one program see each other’s presses', async () => {
    const a = await make();
    const b = await CodeDisplay.open(a.path, { reference: new VirtualClock({ start: START }) });
    await a.press(START);
    await b.press(START + 1_000);
    await a.press(START + 2_000);
    expect(a.status(START + 2_000).presses).toBe(3);
    await b.refresh();
    expect(b.status(START + 2_000).presses).toBe(3);
    expect(b.lcd(START + 2_000).code).toBe(a.lcd(START + 2_000).code);
    await a.close();
    await b.close();
    const onDisk = JSON.parse(await readFile(a.path, 'utf8')) as { counters: { presses: number } };
    expect(onDisk.counters.presses).toBe(3);
  });

  it('no press is lost while another process changes the file at the same time', async () => {
    const dev = await make();
    const other = spawn(process.execPath, ['-e', OTHER, dev.path, '40'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    other.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = new Promise<number | null>((resolve) => other.on('exit', resolve));
    for (let i = 0; i < 40; i++) await dev.press(START + i * 1_000);
    expect(await done, stderr).toBe(0);
    await dev.refresh();
    expect(dev.status(START + 40_000).presses).toBe(80);
    await dev.close();
    expect((await readdir(dir)).filter((f) => f.endsWith('.lock') || f.endsWith('.tmp'))).toEqual(
      [],
    );
  });

  it('takes over a lock left by a process that has died', async () => {
    const dev = await make();
    // The pid of a process that has exited (pids are not reused this fast on Linux).
    const gone = spawn(process.execPath, ['-e', '0']);
    const pid = gone.pid!;
    await new Promise((resolve) => gone.on('exit', resolve));
    await writeFile(`${dev.path}.lock`, `${pid}\n`);
    expect((await dev.press(START)).on).toBe(true);
    expect((await readdir(dir)).some((f) => f === `${basename(dev.path)}.lock`)).toBe(false);
    await dev.close();
  });

  it('gives up with device-busy while a live program holds the lock', async () => {
    const a = await make();
    const b = await CodeDisplay.open(a.path, { lockTimeoutMs: 100 });
    await withDeviceFileLock(a.path, async () => {
      await expect(b.press(START)).rejects.toMatchObject({ code: 'device-busy' });
    });
    // Released: it works again, and the failed press changed nothing.
    expect(b.status(START).presses).toBe(0);
    await b.press(START);
    await b.close();
    await a.close();
  });

  it('a device file replaced by another device is refused, not merged', async () => {
    const a = await make();
    const other = await make();
    await other.close();
    await writeFile(a.path, await readFile(other.path));
    await expect(a.press(START)).rejects.toMatchObject({ code: 'bad-device-file' });
  });

  it('refuses a bad lock timeout', async () => {
    const a = await make();
    await expect(CodeDisplay.open(a.path, { lockTimeoutMs: -1 })).rejects.toMatchObject({
      code: 'bad-option',
    });
    await expect(CodeDisplay.open(a.path, null as never)).rejects.toMatchObject({
      code: 'bad-option',
    });
    await a.close();
  });
});

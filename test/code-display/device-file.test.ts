// Device files: atomic owner-only writes, and full validation of whatever is found on disk.
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeDisplayFileSchema, CodeDisplay } from '../../devices/code-display/index.js';
import {
  DEVICE_FILE_FORMAT,
  readDeviceFile,
  writeDeviceFile,
  type DeviceFileSchema,
} from '../../devices/device-file.js';
import { VirtualClock } from '../../src/core/clock.js';
import { DeviceError } from '../../src/core/errors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mitid-device-file-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SECRET_HEX = 'a1b2c3d4e5f60718293a4b5c6d7e8f9001122334';

async function expectBad(
  path: string,
  code: string,
  says: RegExp,
  schema?: DeviceFileSchema<'code-display', object>,
) {
  const p = schema ? readDeviceFile(path, schema) : readDeviceFile(path);
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `${path} should be refused`).toBeInstanceOf(DeviceError);
  const e = err as DeviceError;
  expect(e.code).toBe(code);
  expect(e.message).toMatch(says);
  expect(e.message).not.toContain(SECRET_HEX);
  expect(e.message).not.toContain(SECRET_HEX.slice(0, 12));
  expect(e.message.includes('\n')).toBe(false);
  expect(String(e.cause ?? '')).not.toContain(SECRET_HEX.slice(0, 12));
}

describe('device files', () => {
  it('writes the header first, mode 0600, atomically with nothing left behind, and reads it back', async () => {
    const path = join(dir, 'plain.json');
    await writeDeviceFile(path, {
      kind: 'chip',
      serial: 'CHIP-1',
      counter: 7,
      nested: { a: [1, 2] },
    });
    const text = await readFile(path, 'utf8');
    const raw = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(raw)).toEqual(['format', 'version', 'kind', 'serial', 'counter', 'nested']);
    expect(raw).toMatchObject({
      format: DEVICE_FILE_FORMAT,
      version: 1,
      kind: 'chip',
      serial: 'CHIP-1',
    });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    const back = await readDeviceFile(path);
    expect(back).toEqual(raw);
  });

  it('replacing a file keeps it 0600 even if it had been opened up', async () => {
    const path = join(dir, 'replace.json');
    await writeDeviceFile(path, { kind: 'chip', serial: 'C-1', n: 1 });
    await chmod(path, 0o644);
    await writeDeviceFile(path, { kind: 'chip', serial: 'C-1', n: 2 });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readDeviceFile(path)).n).toBe(2);
  });

  it('the header cannot be overridden by state fields of the same name', async () => {
    const path = join(dir, 'override.json');
    await writeDeviceFile(path, {
      kind: 'chip',
      serial: 'C-2',
      format: 'evil',
      version: 9,
    } as never);
    expect(await readDeviceFile(path)).toMatchObject({ format: DEVICE_FILE_FORMAT, version: 1 });
  });

  it('exclusive writes refuse an existing file and leave it untouched', async () => {
    const path = join(dir, 'excl.json');
    await writeDeviceFile(path, { kind: 'app', serial: 'APP-1' }, { exclusive: true });
    const before = await readFile(path, 'utf8');
    await expect(
      writeDeviceFile(path, { kind: 'app', serial: 'APP-2' }, { exclusive: true }),
    ).rejects.toMatchObject({
      code: 'device-file-exists',
    });
    expect(await readFile(path, 'utf8')).toBe(before);
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('write errors are DeviceErrors', async () => {
    await expect(
      writeDeviceFile(join(dir, 'no', 'such', 'dir.json'), { kind: 'chip', serial: 'C' }),
    ).rejects.toMatchObject({
      code: 'device-file-write',
    });
    await expect(writeDeviceFile('', { kind: 'chip', serial: 'C' })).rejects.toMatchObject({
      code: 'bad-path',
    });
    await expect(
      writeDeviceFile(join(dir, 'k.json'), { kind: 'toaster' as never, serial: 'C' }),
    ).rejects.toMatchObject({
      code: 'bad-device-file',
    });
    await expect(
      writeDeviceFile(join(dir, 'k.json'), { kind: 'chip', serial: '../x' }),
    ).rejects.toMatchObject({
      code: 'bad-device-file',
    });
  });

  describe('refuses wrong, corrupt and foreign files, naming the problem and never the secret', () => {
    let good: Record<string, unknown>;
    beforeAll(async () => {
      const path = join(dir, 'good-cd.json');
      const dev = await CodeDisplay.create({
        serial: 'CD-9',
        out: path,
        reference: new VirtualClock({ start: Date.UTC(2026, 0, 1) }),
        key: {
          serial: 'CD-9',
          type: 'totp',
          secret: Uint8Array.from(Buffer.from(SECRET_HEX, 'hex')),
          algorithm: 'SHA1',
          digits: 6,
        },
      });
      await dev.close();
      good = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
      expect((good.key as Record<string, unknown>).secretHex).toBe(SECRET_HEX);
    });

    const put = async (name: string, content: string | Uint8Array | object): Promise<string> => {
      const path = join(dir, name);
      await writeFile(
        path,
        typeof content === 'string' || content instanceof Uint8Array
          ? content
          : JSON.stringify(content),
      );
      return path;
    };
    const edit = (fn: (o: Record<string, unknown>) => void): Record<string, unknown> => {
      const o = structuredClone(good);
      fn(o);
      return o;
    };

    it('a missing file', async () => {
      await expectBad(join(dir, 'nope.json'), 'no-device-file', /no such device file/);
    });
    it('a directory', async () => {
      const p = join(dir, 'adir');
      await mkdir(p);
      await expectBad(p, 'bad-device-file', /not a regular file/);
    });
    it('a file too large', async () => {
      await expectBad(
        await put('huge.json', new Uint8Array(2 << 20).fill(0x20)),
        'bad-device-file',
        /too large/,
      );
    });
    it('not UTF-8', async () => {
      await expectBad(
        await put('bin.json', new Uint8Array([0xff, 0xfe, 0x00, 0x7b])),
        'bad-device-file',
        /not UTF-8/,
      );
    });
    it('truncated JSON with the secret in it', async () => {
      const text = JSON.stringify(good);
      const cut = text.slice(0, text.indexOf(SECRET_HEX) + 20);
      await expectBad(await put('cut.json', cut), 'bad-device-file', /not valid JSON/);
    });
    it('a JSON syntax error just after the secret', async () => {
      const text = JSON.stringify(good).replace(`"${SECRET_HEX}"`, `"${SECRET_HEX}" x`);
      await expectBad(await put('syntax.json', text), 'bad-device-file', /not valid JSON/);
    });
    it('JSON that is not an object', async () => {
      for (const v of ['[]', '"x"', '42', 'null']) {
        await expectBad(await put('notobj.json', v), 'bad-device-file', /not a JSON object/);
      }
    });
    it('a foreign JSON file (package.json-like)', async () => {
      await expectBad(
        await put('foreign.json', { name: 'x', version: '1.0.0' }),
        'bad-device-file',
        /not a mitid-sim device file/,
      );
    });
    it('a newer version', async () => {
      await expectBad(
        await put(
          'v2.json',
          edit((o) => (o.version = 2)),
        ),
        'bad-device-file',
        /version 2 is not 1/,
      );
      await expectBad(
        await put(
          'v-.json',
          edit((o) => delete o.version),
        ),
        'bad-device-file',
        /version missing/,
      );
    });
    it('an unknown kind, or another kind than asked for', async () => {
      await expectBad(
        await put(
          'kind.json',
          edit((o) => (o.kind = 'toaster')),
        ),
        'bad-device-file',
        /unknown kind/,
      );
      await expectBad(
        await put(
          'chip.json',
          edit((o) => (o.kind = 'chip')),
        ),
        'bad-device-file',
        /holds a chip, not a code-display/,
        codeDisplayFileSchema,
      );
    });
    it('a malformed serial', async () => {
      await expectBad(
        await put(
          'serial.json',
          edit((o) => (o.serial = 'a/b')),
        ),
        'bad-device-file',
        /serial/,
      );
    });
    it('kind-specific fields, each named', async () => {
      const cases: [string, (o: Record<string, unknown>) => void, RegExp][] = [
        [
          'k1',
          (o) => ((o.key as Record<string, unknown>).secretHex = SECRET_HEX.toUpperCase()),
          /key\.secretHex/,
        ],
        [
          'k2',
          (o) => ((o.key as Record<string, unknown>).secretHex = SECRET_HEX.slice(0, 10)),
          /key secret must be/,
        ],
        ['k3', (o) => ((o.key as Record<string, unknown>).algorithm = 'MD5'), /key\.algorithm/],
        ['k4', (o) => delete o.key, /key must be an object/],
        ['c1', (o) => ((o.clock as Record<string, unknown>).driftPpm = 'fast'), /clock\.driftPpm/],
        [
          'b1',
          (o) => ((o.battery as Record<string, unknown>).remainingUah = -5),
          /battery\.remainingUah/,
        ],
        [
          's1',
          (o) => ((o.settings as Record<string, unknown>).displayTimeoutMs = 5),
          /settings\.displayTimeoutMs/,
        ],
        ['d1', (o) => (o.display = { code: 'abcdef', shownAt: 1 }), /display\.code/],
        ['n1', (o) => ((o.counters as Record<string, unknown>).presses = 1.5), /counters\.presses/],
      ];
      for (const [name, fn, says] of cases) {
        await expectBad(
          await put(`${name}.json`, edit(fn)),
          'bad-device-file',
          says,
          codeDisplayFileSchema,
        );
        // CodeDisplay.open reports the same.
        await expect(CodeDisplay.open(join(dir, `${name}.json`))).rejects.toMatchObject({
          code: 'bad-device-file',
        });
      }
    });
    it('the good file itself reads back through the schema', async () => {
      const state = await readDeviceFile(await put('again.json', good), codeDisplayFileSchema);
      expect(state.serial).toBe('CD-9');
      expect(state.key.secretHex).toBe(SECRET_HEX);
    });
    it('hostile paths', async () => {
      for (const p of ['', 'a\0b', 42 as never, null as never]) {
        await expect(readDeviceFile(p)).rejects.toMatchObject({ code: 'bad-path' });
      }
    });
  });
});

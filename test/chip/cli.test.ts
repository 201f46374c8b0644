import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url } from '../../src/core/bytes.js';
import { trustChipCa, verifyBind, verifyProof } from './rp.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const main = join(root, 'dist/src/cli/main.js');
const chipModule = join(root, 'dist/src/cli/commands/chip.js');
const RP = 'mitid.example';
const ORIGIN = 'https://login.mitid.example';

let dir: string;
/** The built CLI; with a small entry that adds the chip verbs when the registry lacks them. */
let entry: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to the end (asynchronously: a server may be running in another child). */
function cli(args: string[], cwd = dir): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [entry, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `chip serve` in a child process; events are its JSON lines. */
async function serve(file: string, extra: string[] = []) {
  const child = spawn(
    process.execPath,
    [
      entry,
      'chip',
      'serve',
      file,
      '--udp',
      '127.0.0.1:0',
      '--host-port',
      'sender',
      '--json',
      ...extra,
    ],
    {
      cwd: dir,
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  ) as ChildProcessWithoutNullStreams;
  const events: Record<string, unknown>[] = [];
  const waiters: { event: string; resolve: (e: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const e = JSON.parse(line) as Record<string, unknown>;
    events.push(e);
    for (const w of waiters.filter((x) => x.event === e.event)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(e);
    }
  });
  const next = (event: string, timeoutMs = 20_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`no ${event} event from chip serve; stderr: ${stderr}`)),
        timeoutMs,
      );
      waiters.push({
        event,
        resolve: (e) => {
          clearTimeout(t);
          resolve(e);
        },
      });
    });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const listening = await Promise.race([
    next('listening'),
    exited.then((c) => Promise.reject(new Error(`serve exited ${c}: ${stderr}`))),
  ]);
  return { child, events, next, exited, udp: listening.udp as string };
}

async function makeChip(name: string, pin?: string): Promise<string> {
  const file = join(dir, `${name}.json`);
  const r = await cli([
    'device',
    'create',
    'chip',
    '--serial',
    name,
    '--out',
    file,
    '--json',
    ...(pin ? ['--pin', pin] : []),
  ]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({
    kind: 'chip',
    serial: name,
    pinSet: pin !== undefined,
  });
  const state = JSON.parse(await readFile(file, 'utf8')) as {
    firmware: { attestation: { caCertDer: string } };
  };
  trustChipCa(new Uint8Array(Buffer.from(state.firmware.attestation.caCertDer, 'base64')));
  return file;
}

beforeAll(async () => {
  if (!existsSync(main) || !existsSync(chipModule)) {
    throw new Error('the CLI is not built: run npm run build first');
  }
  dir = await mkdtemp(join(tmpdir(), 'chip-cli-'));
  const registered =
    spawnSync(process.execPath, [main, 'chip', 'list', '--help'], { encoding: 'utf8' }).status ===
    0;
  if (registered) {
    entry = main;
  } else {
    entry = join(dir, 'cli-with-chip.mjs');
    await writeFile(
      entry,
      [
        `import { runCli } from ${JSON.stringify(pathToFileURL(main).href)};`,
        `import { allCommands } from ${JSON.stringify(pathToFileURL(join(root, 'dist/src/cli/commands/index.js')).href)};`,
        `import { commands } from ${JSON.stringify(pathToFileURL(chipModule).href)};`,
        'const io = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };',
        'process.exitCode = await runCli(process.argv.slice(2), io, [...new Set([...allCommands, ...commands])]);',
      ].join('\n'),
    );
  }
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Each run starts a node process with the whole CLI loaded: seconds apiece on a busy machine.
describe('the chip CLI, end to end (built CLI in child processes)', { timeout: 240_000 }, () => {
  it('serve in one process; info, register and authenticate from others; the RP verifies', async () => {
    const file = await makeChip('CLI-0001', '1234');
    const server = await serve(file);
    expect(server.udp).toMatch(/^udp:127\.0\.0\.1:\d+$/);
    const dev = ['--device', server.udp, '--local-port', '0', '--json'];

    const info = await cli(['chip', 'info', ...dev]);
    expect(info.code).toBe(0);
    expect(JSON.parse(info.stdout)).toMatchObject({
      versions: expect.arrayContaining(['FIDO_2_0']),
      options: { clientPin: true },
      pinRetries: 8,
    });

    const reg = await cli([
      'chip',
      'register',
      ...dev,
      '--rp',
      RP,
      '--origin',
      ORIGIN,
      '--user',
      'anna',
      '--pin',
      '1234',
      '--resident',
    ]);
    expect(reg.stderr).toBe('');
    expect(reg.code).toBe(0);
    expect(reg.stdout).not.toContain('1234');
    const r = JSON.parse(reg.stdout) as {
      credentialId: string;
      challenge: string;
      userVerified: boolean;
      response: { clientDataJSON: string; attestationObject: string };
    };
    expect(r.userVerified).toBe(true);
    const registration = await verifyBind(
      {
        type: 'webauthn.create',
        credentialId: fromBase64Url(r.credentialId),
        clientDataJSON: fromBase64Url(r.response.clientDataJSON),
        attestationObject: fromBase64Url(r.response.attestationObject),
        transports: ['usb'],
      },
      {
        challenge: fromBase64Url(r.challenge),
        origin: ORIGIN,
        rpId: RP,
        requireUserVerification: true,
      },
    );

    for (const args of [['--credential', r.credentialId], []]) {
      const auth = await cli([
        'chip',
        'authenticate',
        ...dev,
        '--rp',
        RP,
        '--origin',
        ORIGIN,
        '--pin',
        '1234',
        ...args,
      ]);
      expect(auth.code).toBe(0);
      const a = JSON.parse(auth.stdout) as {
        credentialId: string;
        challenge: string;
        response: { clientDataJSON: string; authenticatorData: string; signature: string };
      };
      expect(a.credentialId).toBe(r.credentialId);
      await verifyProof(
        {
          type: 'webauthn.get',
          credentialId: fromBase64Url(a.credentialId),
          clientDataJSON: fromBase64Url(a.response.clientDataJSON),
          authenticatorData: fromBase64Url(a.response.authenticatorData),
          signature: fromBase64Url(a.response.signature),
        },
        registration.credential,
        {
          challenge: fromBase64Url(a.challenge),
          origin: ORIGIN,
          rpId: RP,
          requireUserVerification: true,
        },
      );
    }

    const wrong = await cli([
      'chip',
      'authenticate',
      ...dev,
      '--rp',
      RP,
      '--origin',
      ORIGIN,
      '--pin',
      '9999',
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^mitid-sim: wrong PIN \(7 tries left before it blocks\)\n$/);
    expect(wrong.stderr).not.toContain('9999');

    const list = await cli(['chip', 'list', '--json', '--udp', server.udp, '--local-port', '0']);
    expect(list.code).toBe(0);
    const chips = (
      JSON.parse(list.stdout) as { chips: { transport: string; path: string; serial?: string }[] }
    ).chips;
    expect(chips).toEqual(
      expect.arrayContaining([
        { transport: 'file', path: 'CLI-0001.json', serial: 'CLI-0001' },
        expect.objectContaining({ transport: 'udp', path: server.udp }),
      ]),
    );

    expect(existsSync(`${file}.serving`)).toBe(true);
    server.child.kill('SIGINT');
    expect(await server.exited).toBe(0);
    expect(server.events.at(-1)).toMatchObject({ event: 'stopped' });
    expect(existsSync(`${file}.serving`)).toBe(false);

    // The served state is in the file: the CLI opens it in-process and still finds the credential.
    const local = await cli([
      'chip',
      'authenticate',
      '--device',
      file,
      '--rp',
      RP,
      '--origin',
      ORIGIN,
      '--pin',
      '1234',
      '--json',
    ]);
    expect(local.code).toBe(0);
    expect((JSON.parse(local.stdout) as { credentialId: string }).credentialId).toBe(
      r.credentialId,
    );
  });

  it('manual press: from another process with chip press, or Enter in the serve terminal', async () => {
    const file = await makeChip('CLI-0002');
    const server = await serve(file, ['--press', 'manual']);
    expect(server.events[0]).toMatchObject({ press: 'manual' });
    const dev = ['--device', server.udp, '--local-port', '0', '--json'];

    const touched = server.next('touch');
    const registering = cli(['chip', 'register', ...dev, '--rp', RP, '--origin', ORIGIN]);
    await touched;
    const remotePress = server.next('press');
    const pressed = await cli(['chip', 'press', file]);
    expect(pressed.code).toBe(0);
    expect(await remotePress).toMatchObject({ by: 'remote' });
    const reg = await registering;
    expect(reg.code).toBe(0);
    const credentialId = (JSON.parse(reg.stdout) as { credentialId: string }).credentialId;

    const touchedAgain = server.next('touch');
    const authenticating = cli([
      'chip',
      'authenticate',
      ...dev,
      '--rp',
      RP,
      '--origin',
      ORIGIN,
      '--credential',
      credentialId,
    ]);
    await touchedAgain;
    const enterPress = server.next('press');
    server.child.stdin.write('\n');
    expect(await enterPress).toMatchObject({ by: 'terminal' });
    expect((await authenticating).code).toBe(0);

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('every verb has --help, and bad input gets one line and a non-zero exit', async () => {
    const verbs = [
      ['device', 'create', 'chip'],
      ['chip', 'serve'],
      ['chip', 'press'],
      ['chip', 'list'],
      ['chip', 'info'],
      ['chip', 'register'],
      ['chip', 'authenticate'],
      ['chip', 'pin'],
      ['chip', 'reset'],
    ];
    const helps = await Promise.all(verbs.map((verb) => cli([...verb, '--help'])));
    verbs.forEach((verb, i) => {
      expect(helps[i]!.code).toBe(0);
      expect(helps[i]!.stdout).toMatch(new RegExp(`^usage: mitid-sim ${verb.join(' ')}`));
    });
    const cases: [string[], number, RegExp][] = [
      [['chip', 'info'], 2, /--device is required/],
      [['chip', 'info', '--device', 'udp:nowhere:99999'], 1, /bad UDP port/],
      [['chip', 'info', '--device', join(dir, 'missing.json')], 1, /no such device file/],
      [['chip', 'info', '--device', 'hid:'], 1, /node-hid/],
      [
        ['chip', 'serve', join(dir, 'missing.json'), '--udp', '127.0.0.1:0'],
        1,
        /no such device file/,
      ],
      [
        ['chip', 'serve', 'x.json', '--press', 'sometimes'],
        2,
        /--press must be auto, manual or deny/,
      ],
      [['chip', 'press', join(dir, 'idle.json')], 1, /is not being served/],
      [['chip', 'register', '--device', 'x.json', '--challenge', 'AAAA'], 2, /at least 16 bytes/],
      [
        ['device', 'create', 'chip', '--serial', 'bad/serial', '--out', join(dir, 'b.json')],
        1,
        /serial/,
      ],
      [
        ['device', 'create', 'chip', '--serial', 'P1', '--out', join(dir, 'p.json'), '--pin', '12'],
        1,
        /PIN needs 4/,
      ],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    cases.forEach(([args, code, message], i) => {
      const r = runs[i]!;
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trimEnd().split('\n').length, r.stderr).toBe(1);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    });
  });

  it('says nothing answers instead of hanging when no chip is served there', async () => {
    const r = await cli(['chip', 'info', '--device', 'udp:127.0.0.1:9', '--local-port', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split('\n').length).toBe(1);
    expect(r.stderr).toMatch(/nothing answers|did not answer/);
  });
});

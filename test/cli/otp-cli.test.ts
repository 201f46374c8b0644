/** The first CLI verbs, run as a user runs them: exact forms, --help, exit codes, one-line errors. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { describeWithTool, toolAvailable } from '../support/tools.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mitid-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A one-line error on stderr, no stack trace, nothing on stdout. */
function expectOneLineError(
  r: { status: number | null; stdout: string; stderr: string },
  pattern: RegExp,
) {
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/^mitid-sim: .+\n$/);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const verbs = [
  ['device', 'create', 'code-display'],
  ['device', 'import'],
  ['device', 'export'],
  ['press'],
  ['show'],
  ['serial', 'serve'],
  ['serial', 'press'],
];

describe('help', () => {
  it.each(verbs.map((v) => [v.join(' '), v] as const))('%s --help', (_name, verb) => {
    const r = runCli([...verb, '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`usage: mitid-sim ${verb.join(' ')}`);
  });
  it('lists the commands', () => {
    const r = runCli(['--help']);
    expect(r.status).toBe(0);
    for (const v of verbs) expect(r.stdout).toContain(v.join(' '));
  });
});

describe('a code display from the command line', () => {
  it('is created, pressed at a time, shown, exported and re-imported', () => {
    const file = join(dir, 'cd1.json');
    expect(
      runCli(['device', 'create', 'code-display', '--serial', 'CD0001', '--out', file]).status,
    ).toBe(0);

    const at = '2026-11-25T12:00:00Z';
    const p1 = runCli(['press', file, '--at', at, '--json']);
    expect(p1.status).toBe(0);
    const j1 = JSON.parse(p1.stdout) as {
      serial: string;
      code: string;
      text: string;
      deviceTime: string;
    };
    expect(j1.serial).toBe('CD0001');
    expect(j1.code).toMatch(/^\d{6}$/);
    expect(j1.text).toBe(`${j1.code.slice(0, 3)} ${j1.code.slice(3)}`);
    expect(j1.deviceTime).toBe('2026-11-25T12:00:00.000Z');

    // Plain output is the screen's text; Unix seconds mean the same time.
    const p2 = runCli(['press', file, '--at', String(Date.parse(at) / 1000)]);
    expect(p2.stdout.trim()).toBe(j1.text);

    const svg = join(dir, 'cd1.svg');
    const s = runCli(['show', file, '--at', '2026-11-25T12:00:05Z', '--svg', svg, '--json']);
    expect(s.status).toBe(0);
    const shown = JSON.parse(s.stdout) as { screen: { code: string | null } };
    expect(shown.screen.code).toBe(j1.code);
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg[^>]+xmlns="http:\/\/www.w3.org\/2000\/svg"/);

    const csv = runCli(['device', 'export', file, '--format', 'csv']);
    expect(csv.status).toBe(0);
    const line = csv.stdout.split('\n').find((l) => l.startsWith('CD0001,'))!;
    expect(line).toMatch(/^CD0001,[0-9a-f]{40},totp,6,30$/);

    // The exported seed, imported again, makes a twin that shows the same codes.
    const pskc = join(dir, 'cd1.pskc');
    expect(
      runCli([
        'device',
        'export',
        file,
        '--format',
        'pskc',
        '--password',
        'correct horse',
        '--out',
        pskc,
      ]).status,
    ).toBe(0);
    expect(readFileSync(pskc, 'utf8')).not.toContain(line.split(',')[1]);
    const imp = runCli([
      'device',
      'import',
      pskc,
      '--password',
      'correct horse',
      '--out-dir',
      join(dir, 'twins'),
      '--json',
    ]);
    expect(imp.status).toBe(0);
    const twin = (JSON.parse(imp.stdout) as { devices: Array<{ file: string }> }).devices[0]!.file;
    expect(runCli(['press', twin, '--at', at, '--json']).stdout).toContain(`"code": "${j1.code}"`);
  });

  it('imports an OATH CSV file with several tokens, one device file per serial', () => {
    const seed = join(dir, 'batch.csv');
    writeFileSync(
      seed,
      [
        '# serial,hexkey,hotp|totp,digits,counter|period',
        'KV000001,3132333435363738393031323334353637383930,totp,6,30',
        'KV000002,3132333435363738393031323334353637383931,totp,6,30',
      ].join('\n'),
    );
    const out = join(dir, 'batch');
    const r = runCli(['device', 'import', seed, '--out-dir', out]);
    expect(r.status).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['KV000001.json', 'KV000002.json']);
    // RFC 6238 Appendix B: the SHA1 seed at T = 59 s gives 94287082 (8 digits); 6 digits: 287082.
    expect(runCli(['press', join(out, 'KV000001.json'), '--at', '59']).stdout.trim()).toBe(
      '287 082',
    );
  });

  it('imports nothing when one key package is wrong', () => {
    const seed = join(dir, 'mixed.csv');
    writeFileSync(
      seed,
      'OK000001,3132333435363738393031323334353637383930,totp,6,30\nHO000001,3132333435363738393031323334353637383930,hotp,6,0\n',
    );
    const out = join(dir, 'mixed');
    const r = runCli(['device', 'import', seed, '--out-dir', out]);
    expectOneLineError(r, /HOTP/);
    expect(() => readdirSync(out)).toThrow();
  });
});

describe('import is all or nothing', () => {
  it.each([
    ['a secret too short for a token', 'B2,31323334,totp,6,30'],
    ['a serial the device refuses', 'B_2,3132333435363738393031323334353637383930,totp,6,30'],
    ['a period out of range', 'B2,3132333435363738393031323334353637383930,totp,6,999999'],
  ])('a later key package with %s leaves the folder as it was', (_what, badLine) => {
    const seed = join(dir, `partial-${Math.random().toString(36).slice(2)}.csv`);
    writeFileSync(seed, `A1,3132333435363738393031323334353637383930,totp,6,30\n${badLine}\n`);
    const out = join(dir, `partial-out-${Math.random().toString(36).slice(2)}`);
    const r = runCli(['device', 'import', seed, '--out-dir', out]);
    expectOneLineError(r, /key package 2|line 2/);
    const left = (() => {
      try {
        return readdirSync(out);
      } catch {
        return [];
      }
    })();
    expect(left).toEqual([]);
  });
});

describe('errors are one clear line', () => {
  it.each([
    ['no arguments to press', ['press'], /missing argument/],
    ['unknown verb', ['frobnicate'], /unknown command/],
    ['unknown option', ['press', 'x.json', '--bogus'], /Unknown option '--bogus'/],
    ['missing device file', ['press', 'no-such-file.json'], /no such device file/],
    ['bad time', ['press', 'x.json', '--at', 'tomorrow'], /--at must be ISO 8601/],
    [
      'bad format',
      ['device', 'export', 'x.json', '--format', 'xml'],
      /--format must be pskc or csv/,
    ],
    [
      'both password and key',
      ['device', 'import', 'x.pskc', '--password', 'p', '--key', '00', '--out-dir', 'd'],
      /not both/,
    ],
    [
      'missing serial',
      ['device', 'create', 'code-display', '--out', 'x.json'],
      /--serial is required/,
    ],
    [
      'missing seed file',
      ['device', 'import', 'no-such.pskc', '--out-dir', 'd'],
      /no such file or directory/,
    ],
    [
      'missing serial port',
      ['serial', 'press', '--port', '/dev/no-such-tty', '--timeout', '500'],
      /no-such-tty/,
    ],
    [
      'bad drift',
      ['device', 'create', 'code-display', '--serial', 'D1', '--out', 'd1.json', '--drift', '0x10'],
      /--drift must be a number/,
    ],
  ])('%s', (_name, args, pattern) => {
    expectOneLineError(runCli(args, { cwd: dir }), pattern);
  });

  it('refuses a file that is not a device file, without echoing it', () => {
    const bogus = join(dir, 'bogus.json');
    writeFileSync(bogus, JSON.stringify({ secret: '3132333435363738393031323334353637383930' }));
    const r = runCli(['press', bogus]);
    expectOneLineError(r, /device file/);
    expect(r.stderr).not.toContain('31323334');
  });

  it('refuses to replace an existing device file', () => {
    const file = join(dir, 'exists.json');
    expect(
      runCli(['device', 'create', 'code-display', '--serial', 'EX1', '--out', file]).status,
    ).toBe(0);
    expectOneLineError(
      runCli(['device', 'create', 'code-display', '--serial', 'EX2', '--out', file]),
      /exists/,
    );
  });

  it('a wrong PSKC password imports nothing and names no secret', () => {
    const file = join(dir, 'pw.json');
    runCli(['device', 'create', 'code-display', '--serial', 'PW1', '--out', file]);
    const pskc = join(dir, 'pw.pskc');
    runCli(['device', 'export', file, '--format', 'pskc', '--password', 'right', '--out', pskc]);
    const out = join(dir, 'pw-out');
    expectOneLineError(
      runCli(['device', 'import', pskc, '--password', 'wrong', '--out-dir', out]),
      /password/,
    );
    expect(() => readdirSync(out)).toThrow();
  });
});

describeWithTool(
  'oathtool',
  toolAvailable('oathtool', ['--version']),
  'press agrees with oathtool',
  () => {
    it('at several times, including with a drifting clock', () => {
      for (const [serial, drift] of [
        ['OA1', '0'],
        ['OA2', '40'],
      ] as const) {
        const file = join(dir, `${serial}.json`);
        expect(
          runCli([
            'device',
            'create',
            'code-display',
            '--serial',
            serial,
            '--out',
            file,
            '--drift',
            drift,
          ]).status,
        ).toBe(0);
        const hex = runCli(['device', 'export', file, '--format', 'csv'])
          .stdout.split('\n')
          .find((l) => l.startsWith(serial))!
          .split(',')[1]!;
        for (const at of ['2027-01-01T00:00:00Z', '2027-06-30T23:59:59Z', '2030-02-03T04:05:06Z']) {
          const j = JSON.parse(runCli(['press', file, '--at', at, '--json']).stdout) as {
            code: string;
            deviceTime: string;
          };
          const unix = Math.floor(Date.parse(j.deviceTime) / 1000);
          const expected = execFileSync('oathtool', ['--totp', '-N', `@${unix}`, hex], {
            encoding: 'utf8',
          }).trim();
          expect(j.code).toBe(expected);
        }
      }
    });
  },
);

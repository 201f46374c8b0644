import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commands } from '../../src/cli/commands/chip.js';
import { runCli } from '../../src/cli/main.js';

let dir: string;

/** Runs the CLI in this process with the chip verbs, capturing what it prints. */
async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    args,
    { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) },
    commands,
  );
  return { code, stdout, stderr };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chip-cli-inproc-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('chip pin and chip reset (CLI in process, on a device file)', () => {
  it('sets, uses, changes the PIN; reset wipes credentials and PIN', async () => {
    const file = join(dir, 'pin.json');
    expect((await cli('device', 'create', 'chip', '--serial', 'PIN-1', '--out', file)).code).toBe(
      0,
    );
    let info = JSON.parse((await cli('chip', 'info', '--device', file, '--json')).stdout) as {
      options: { clientPin: boolean };
    };
    expect(info.options.clientPin).toBe(false);

    const set = await cli('chip', 'pin', '--device', file, '--new', '1111', '--json');
    expect(set.code).toBe(0);
    expect(JSON.parse(set.stdout)).toMatchObject({ pinSet: true, changed: false, pinRetries: 8 });
    expect(set.stdout + set.stderr).not.toContain('1111');

    const reg = await cli(
      'chip',
      'register',
      '--device',
      file,
      '--pin',
      '1111',
      '--resident',
      '--json',
    );
    expect(reg.code).toBe(0);
    const id = (JSON.parse(reg.stdout) as { credentialId: string }).credentialId;

    const changed = await cli('chip', 'pin', '--device', file, '--pin', '1111', '--new', '2222');
    expect(changed.code).toBe(0);
    expect(changed.stdout).toBe('PIN changed on chip PIN-1\n');
    const old = await cli('chip', 'authenticate', '--device', file, '--pin', '1111');
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(/wrong PIN \(7 tries left/);
    const auth = await cli('chip', 'authenticate', '--device', file, '--pin', '2222', '--json');
    expect((JSON.parse(auth.stdout) as { credentialId: string }).credentialId).toBe(id);

    const refused = await cli('chip', 'reset', '--device', file);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--yes/);
    const reset = await cli('chip', 'reset', '--device', file, '--yes', '--json');
    expect(reset.code).toBe(0);
    info = JSON.parse((await cli('chip', 'info', '--device', file, '--json')).stdout) as {
      options: { clientPin: boolean };
    };
    expect(info.options.clientPin).toBe(false);
    const gone = await cli('chip', 'authenticate', '--device', file, '--credential', id);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/no credential for this relying party/);

    const short = await cli('chip', 'pin', '--device', file, '--new', '12');
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/at least 4/);
  });
});

// python-fido2 (Debian python3-fido2) as an independent CTAP2 client: clientPIN with protocols
// 1 and 2, discoverable credentials and credential management against the chip firmware. The
// CTAPHID framing stays in this process (the host harness); python-fido2 does the CTAP2 layer.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/core/index.js';
import { describeWithTool, toolAvailable } from '../support/tools.js';
import { makeChip } from './harness.js';

const PY = '/usr/bin/python3';
const script = fileURLToPath(new URL('./fido2-peer.py', import.meta.url));
const hasFido2 = toolAvailable(PY, ['-c', 'import fido2.ctap2.credman, fido2.ctap2.pin']);

async function run(protocol: '1' | '2'): Promise<Record<string, unknown>> {
  const { host } = makeChip(`fido2-${protocol}`);
  const child = spawn(PY, [script, protocol], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const lines = createInterface({ input: child.stdout });
  let result: Record<string, unknown> | undefined;
  for await (const line of lines) {
    if (line.startsWith('RESULT ')) {
      result = JSON.parse(line.slice(7)) as Record<string, unknown>;
      break;
    }
    const req = JSON.parse(line) as { cmd: number; data: string };
    const x = host.exchange(req.cmd & 0x7f, fromHex(req.data));
    child.stdin.write(JSON.stringify({ data: toHex(x.payload) }) + '\n');
  }
  child.stdin.end();
  await new Promise((resolve) => child.on('close', resolve));
  if (!result) throw new Error(`python-fido2 printed no result: ${err.slice(-2000)}`);
  if (!result.ok)
    throw new Error(`python-fido2 failed: ${String(result.error)}\n${String(result.trace)}`);
  return result;
}

describeWithTool('python3-fido2', hasFido2, 'python-fido2 against the chip firmware', () => {
  it.each(['1', '2'] as const)(
    'PIN protocol %s: set PIN, tokens with permissions, credential management',
    async (p) => {
      const r = await run(p);
      expect(r.retries).toBe(8);
      expect(r.existing).toBe(3);
      expect(r.remaining).toBe(47);
      expect(r.rps).toEqual(['example.com', 'other.example']);
      expect(r.users).toEqual(['anna@example.dk', 'bent@example.dk']);
      expect((r.renamed as string[]).includes('renamed@example.dk')).toBe(true);
      expect(r.after_delete).toBe(2);
      expect(r.wrong_pin).toBe('PIN_INVALID');
      expect(r.retries_after).toBe(7);
    },
  );
});

import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ctap2Client, type CtapCborChannel } from '../../devices/chip/ctap2.js';
import { openChipFile, createChipDeviceFile } from '../../devices/chip/virtual.js';
import { parseAuthData, clientDataJson, checkRpId } from '../../devices/chip/webauthn.js';
import { encodeCbor } from '../../src/ctap/cbor.js';
import { CtapHidError } from '../../src/ctap/ctaphid.js';
import { MitidError } from '../../src/core/errors.js';

/**
 * A device that answers from a script: what a broken or hostile authenticator might send. The
 * driver must turn each into one clear error (or retry, for a busy channel), never a crash.
 */
function scripted(answers: (Uint8Array | Error)[]): CtapCborChannel & { calls: number } {
  const ch = {
    calls: 0,
    cbor: () => {
      const a = answers[Math.min(ch.calls++, answers.length - 1)]!;
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
    },
  };
  return ch;
}
const ok = (value: unknown) => Uint8Array.from([0, ...encodeCbor(value)]);
const info = ok(
  new Map<number, unknown>([
    [1, ['FIDO_2_0']],
    [3, new Uint8Array(16)],
  ]),
);

describe('Ctap2Client against answers a device should not give', () => {
  it.each([
    ['an empty answer', new Uint8Array(0), 'bad-ctap-response'],
    ['a status byte the spec does not list', Uint8Array.of(0x99), 'CTAP_STATUS_0x99'],
    ['trailing garbage after CBOR', Uint8Array.of(0, 0xa0, 0x00), 'bad-ctap-response'],
    ['CBOR that is not a map', ok([1, 2]), 'bad-ctap-response'],
    [
      'versions of the wrong type',
      ok(
        new Map<number, unknown>([
          [1, 'FIDO_2_0'],
          [3, new Uint8Array(16)],
        ]),
      ),
      'bad-ctap-response',
    ],
    ['no aaguid', ok(new Map([[1, ['FIDO_2_0']]])), 'bad-ctap-response'],
    ['a truncated map', Uint8Array.of(0, 0xa2, 0x01), 'bad-ctap-response'],
  ])('getInfo with %s', async (_what, answer, code) => {
    const c = new Ctap2Client(scripted([answer]));
    const e = await c.getInfo().then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(MitidError);
    expect((e as MitidError).code).toBe(code);
    expect((e as Error).message).not.toContain('\n');
  });

  it.each([
    ['no signature', ok(new Map<number, unknown>([[2, new Uint8Array(37)]]))],
    [
      'authData too short',
      ok(
        new Map<number, unknown>([
          [2, new Uint8Array(10)],
          [3, new Uint8Array(70)],
        ]),
      ),
    ],
    [
      'no credential and a two-entry allow list',
      ok(
        new Map<number, unknown>([
          [2, new Uint8Array(37)],
          [3, new Uint8Array(70)],
        ]),
      ),
    ],
  ])('getAssertion with %s', async (_what, answer) => {
    const c = new Ctap2Client(scripted([answer]));
    await expect(
      c.getAssertion({
        rpId: 'a.example',
        clientDataHash: new Uint8Array(32),
        allowList: [new Uint8Array(16), new Uint8Array(16)],
      }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^bad-/) });
  });

  it('takes the credential from a one-entry allow list when the device leaves it out (CTAP 2.1 §6.2)', async () => {
    const id = Uint8Array.of(1, 2, 3);
    const c = new Ctap2Client(
      scripted([
        ok(
          new Map<number, unknown>([
            [2, new Uint8Array(37)],
            [3, new Uint8Array(70)],
          ]),
        ),
      ]),
    );
    const a = await c.getAssertion({
      rpId: 'a.example',
      clientDataHash: new Uint8Array(32),
      allowList: [id],
    });
    expect(a.credentialId).toEqual(id);
  });

  it('retries a busy channel with a growing pause, then gives up with the busy error', async () => {
    const busy = () => CtapHidError.fromDevice(0x06);
    const ch = scripted([busy(), busy(), info]);
    const c = new Ctap2Client(ch, { busyBackoffMs: 1 });
    expect((await c.getInfo()).versions).toEqual(['FIDO_2_0']);
    expect(ch.calls).toBe(3);

    const always = scripted([busy()]);
    const d = new Ctap2Client(always, { busyRetries: 3, busyBackoffMs: 1 });
    await expect(d.getInfo()).rejects.toMatchObject({ code: 'ERR_CHANNEL_BUSY' });
    expect(always.calls).toBe(4);

    const statusBusy = scripted([Uint8Array.of(0x06), info]);
    expect((await new Ctap2Client(statusBusy, { busyBackoffMs: 1 }).getInfo()).versions).toEqual([
      'FIDO_2_0',
    ]);
  });

  it('retries a plain getAssertion on a busy channel, however the first attempt says so', async () => {
    const id = Uint8Array.of(7, 8, 9);
    const assertion = ok(
      new Map<number, unknown>([
        [
          1,
          new Map<string, unknown>([
            ['id', id],
            ['type', 'public-key'],
          ]),
        ],
        [2, new Uint8Array(37)],
        [3, new Uint8Array(70).fill(5)],
      ]),
    );
    const params = { rpId: 'a.example', clientDataHash: new Uint8Array(32), allowList: [id] };
    const busyError = () => CtapHidError.fromDevice(0x06);
    for (const first of [busyError(), Uint8Array.of(0x06)]) {
      const ch = scripted([first, busyError(), assertion]);
      const a = await new Ctap2Client(ch, { busyBackoffMs: 1 }).getAssertion(params);
      expect(a.credentialId).toEqual(id);
      expect(a.signature).toEqual(new Uint8Array(70).fill(5));
      expect(ch.calls).toBe(3);
    }
    // A channel that throws instead of rejecting is judged the same way.
    let calls = 0;
    const throwing: CtapCborChannel = {
      cbor: () => {
        if (calls++ === 0) throw busyError();
        return Promise.resolve(assertion);
      },
    };
    const b = await new Ctap2Client(throwing, { busyBackoffMs: 1 }).getAssertion(params);
    expect(b.credentialId).toEqual(id);
    expect(calls).toBe(2);
    // A status other than busy after a busy answer is thrown, naming the command.
    await expect(
      new Ctap2Client(scripted([Uint8Array.of(0x06), Uint8Array.of(0x2e)]), {
        busyBackoffMs: 1,
      }).getAssertion(params),
    ).rejects.toThrow(/^getAssertion: the key holds no credential/);
  });

  it('names the command and the status in one line', async () => {
    const c = new Ctap2Client(scripted([Uint8Array.of(0x2e)]));
    await expect(
      c.getAssertion({ rpId: 'a.example', clientDataHash: new Uint8Array(32) }),
    ).rejects.toThrow(
      /^getAssertion: the key holds no credential for this relying party \(a credential that is not discoverable must be named by its ID: --credential\)$/,
    );
  });
});

describe('authenticator data and client data', () => {
  const base = () => {
    const d = new Uint8Array(37);
    d.set(createHash('sha256').update('a.example').digest(), 0);
    return d;
  };

  it.each([
    ['36 bytes', new Uint8Array(36)],
    [
      'AT flag without credential data',
      Uint8Array.from([...base().subarray(0, 32), 0x41, 0, 0, 0, 1]),
    ],
    [
      'a credential ID longer than the data',
      Uint8Array.from([
        ...base().subarray(0, 32),
        0x41,
        0,
        0,
        0,
        1,
        ...new Uint8Array(16),
        0xff,
        0xff,
      ]),
    ],
    ['ED flag with no extensions', Uint8Array.from([...base().subarray(0, 32), 0x81, 0, 0, 0, 1])],
    ['bytes left over', Uint8Array.from([...base(), 0])],
  ])('parseAuthData refuses %s', (_what, data) => {
    expect(() => parseAuthData(data)).toThrow(
      expect.objectContaining({ code: 'bad-authenticator-data' }),
    );
  });

  it('parses flags and the counter', () => {
    const d = base();
    d[32] = 0x05;
    d[36] = 9;
    expect(parseAuthData(d)).toMatchObject({ flags: 0x05, signCount: 9 });
  });

  it('writes clientDataJSON in the order WebAuthn §5.8.1.1 serialises it', () => {
    const json = Buffer.from(
      clientDataJson('webauthn.get', new Uint8Array(16).fill(0xfb), 'https://a.example'),
    ).toString();
    expect(json).toBe(
      '{"type":"webauthn.get","challenge":"-_v7-_v7-_v7-_v7-_v7-w","origin":"https://a.example","crossOrigin":false}',
    );
  });

  it('writes the same clientDataJSON as JSON.stringify for every challenge length and both types', () => {
    for (const origin of [
      'https://a.example',
      'http://localhost:8080',
      'https://x.a.example:444',
    ]) {
      for (const type of ['webauthn.get', 'webauthn.create'] as const) {
        for (let n = 16; n <= 70; n++) {
          const challenge = Uint8Array.from({ length: n }, (_, i) => (i * 97 + n * 31) & 0xff);
          const bytes = clientDataJson(type, challenge, origin);
          const expected = JSON.stringify({
            type,
            challenge: Buffer.from(challenge).toString('base64url'),
            origin,
            crossOrigin: false,
          });
          expect(Buffer.from(bytes).toString()).toBe(expected);
          // The caller's own bytes, not a view on shared memory.
          expect(bytes.byteOffset).toBe(0);
          expect(bytes.buffer.byteLength).toBe(bytes.length);
        }
      }
    }
  });

  it.each([
    ['a.example', 'https://a.example', true],
    ['a.example', 'https://login.a.example', true],
    ['a.example', 'https://evil-a.example', false],
    ['login.a.example', 'https://a.example', false],
    ['https://a.example', 'https://a.example', false],
    ['', 'https://a.example', false],
  ])('rpId %j for origin %s: %s', (rpId, origin, good) => {
    if (good) expect(() => checkRpId(rpId, origin)).not.toThrow();
    else expect(() => checkRpId(rpId, origin)).toThrow(MitidError);
  });
});

describe('chip device files', () => {
  it('refuse tampered or foreign content with one line naming the field, never a secret', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chip-file-'));
    try {
      const file = join(dir, 'c.json');
      await createChipDeviceFile({ serial: 'FILE-1', out: file });
      await expect(createChipDeviceFile({ serial: 'FILE-1', out: file })).rejects.toMatchObject({
        code: 'device-file-exists',
      });
      const good = JSON.parse(await readFile(file, 'utf8')) as Record<
        string,
        Record<string, unknown>
      >;
      const wrapKey = good.firmware!.wrapKey as string;
      const cases: [string, (f: Record<string, Record<string, unknown>>) => void][] = [
        ['wrapKey', (f) => (f.firmware!.wrapKey = 'zz')],
        ['serial', (f) => (f.firmware!.serial = 'OTHER')],
        ['press', (f) => ((f as Record<string, unknown>).press = 'sometimes')],
        ['format', (f) => (f.firmware!.format = 'x')],
      ];
      for (const [field, spoil] of cases) {
        const f = structuredClone(good);
        spoil(f);
        await writeFile(file, JSON.stringify(f));
        const e = await openChipFile(file).then(
          () => undefined,
          (x: unknown) => x,
        );
        expect(e, field).toMatchObject({ code: 'bad-device-file' });
        expect((e as Error).message).toContain(field);
        expect((e as Error).message).not.toContain(wrapKey);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

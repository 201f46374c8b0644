/** ChipVerifier and the WebAuthn JSON converters, against the emulated chip (no mocks). */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chip } from '../../devices/chip/chip.js';
import { createChipDeviceFile } from '../../devices/chip/virtual.js';
import {
  ChipVerifier,
  type ChipBinding,
  type ChipVerifierOptions,
} from '../../src/activation/webauthn.js';
import type { WebAuthnBindResponse, WebAuthnProof } from '../../src/core/authenticator.js';
import { fromBase64Url, toBase64Url } from '../../src/core/bytes.js';
import { MitidError } from '../../src/core/errors.js';
import { decodeCbor, encodeCbor } from '../../src/ctap/cbor.js';
import {
  bindResponseFromJson,
  bindResponseToJson,
  creationOptionsFromJson,
  parseAuthenticationResponseJson,
  parseRegistrationResponseJson,
  proofFromJson,
  proofToJson,
  requestOptionsFromJson,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
} from '../../src/core/webauthn-json.js';

const RP_ID = 'mitid.example';
const ORIGIN = 'https://login.mitid.example';
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
const ctx = { now: NOW };
const base: ChipVerifierOptions = { rpId: RP_ID, rpName: 'MitID test', origin: ORIGIN };

let dir: string;
let n = 0;

/** A fresh virtual chip in its own device file, with its test CA's certificate (DER). */
async function newChip(pin?: string): Promise<{ chip: Chip; caDer: Uint8Array }> {
  const out = join(dir, `chip-${++n}.json`);
  await createChipDeviceFile({ serial: `WA-${n}`, out, ...(pin === undefined ? {} : { pin }) });
  const state = JSON.parse(await readFile(out, 'utf8')) as {
    firmware: { attestation: { caCertDer: string } };
  };
  const caDer = new Uint8Array(Buffer.from(state.firmware.attestation.caCertDer, 'base64'));
  return { chip: await Chip.open(out), caDer };
}

const user = (name: string) => ({
  id: new Uint8Array(randomBytes(16)),
  name,
  displayName: name.toUpperCase(),
});
/** What the store does: the binding goes through JSON between transactions. */
const stored = (b: ChipBinding): ChipBinding => JSON.parse(JSON.stringify(b)) as ChipBinding;
/** What the HTTP API does: the browser's JSON goes over the wire. */
const wire = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** Registration options from the verifier, fed through the converters to the chip. */
async function register(v: ChipVerifier, chip: Chip, pin?: string) {
  const { options, challenge } = v.registrationOptions({ user: user('anna') });
  const request = creationOptionsFromJson(wire(options), {
    origin: ORIGIN,
    ...(pin ? { pin } : {}),
  });
  const made = await chip.bind(request);
  const response = wire(bindResponseToJson(made));
  return { made, response, challenge };
}

/** A bound chip: its binding, and a function that makes a fresh login. */
async function bound(v: ChipVerifier, chip: Chip, pin?: string) {
  const { response, challenge } = await register(v, chip, pin);
  const outcome = await v.bind({ response, expectedChallenge: challenge }, ctx);
  expect(outcome).toMatchObject({ verified: true, reason: 'ok', detail: 'ok' });
  if (!outcome.verified) throw new Error('not bound');
  const binding = stored(outcome.binding);
  const login = async (origin = ORIGIN) => {
    const { options, challenge: c } = v.authenticationOptions({
      allowCredentialIds: [binding.credentialId],
    });
    const proof = await chip.prove(
      requestOptionsFromJson(wire(options), { origin, ...(pin ? { pin } : {}) }),
    );
    return { response: wire(proofToJson(proof)), expectedChallenge: c, proof };
  };
  return { binding, login };
}

let chipA: Chip;
let caA: Uint8Array;
let chipB: Chip;
let caB: Uint8Array;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chip-verifier-'));
  ({ chip: chipA, caDer: caA } = await newChip());
  ({ chip: chipB, caDer: caB } = await newChip());
});
afterAll(async () => {
  await chipA?.close();
  await chipB?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('ChipVerifier with the emulated chip', () => {
  it('registers: options → converters → chip → JSON → bind, packed attestation trusted by root', async () => {
    const v = new ChipVerifier({ ...base, trustedRoots: [caA] });
    const { options, challenge } = v.registrationOptions({
      user: user('anna'),
      excludeCredentialIds: [],
    });
    expect(options.challenge).toBe(challenge);
    expect(fromBase64Url(challenge)).toHaveLength(32);
    expect(options.rp).toEqual({ id: RP_ID, name: 'MitID test' });
    expect(options.authenticatorSelection?.residentKey).toBe('discouraged');
    expect(options.attestation).toBe('direct');

    const request = creationOptionsFromJson(wire(options), { origin: ORIGIN });
    const made = await chipA.bind(request);
    const outcome = await v.bind(
      { response: wire(bindResponseToJson(made)), expectedChallenge: challenge },
      ctx,
    );
    expect(outcome).toMatchObject({ verified: true, reason: 'ok', detail: 'ok' });
    if (!outcome.verified) return;
    const b = outcome.binding;
    expect(b.credentialId).toBe(toBase64Url(made.credentialId));
    expect(b.fmt).toBe('packed');
    expect(b.attestationTrusted).toBe(true);
    expect(b.aaguid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(b.transports).toEqual(['usb']);
    expect(b.userVerified).toBe(false);
    expect(b.backedUp).toBe(false);
    expect(b.boundAt).toBe(NOW);
    expect(fromBase64Url(b.publicKey).length).toBeGreaterThan(64);
    // Plain JSON: survives the store.
    expect(stored(b)).toEqual(b);
  });

  it('accepts an untrusted chain by default and records it; refuses it when trust is required', async () => {
    const anyPolicy = new ChipVerifier({ ...base, trustedRoots: [caB] });
    const r1 = await register(anyPolicy, chipA);
    const o1 = await anyPolicy.bind(
      { response: r1.response, expectedChallenge: r1.challenge },
      ctx,
    );
    expect(o1).toMatchObject({
      verified: true,
      binding: { fmt: 'packed', attestationTrusted: false },
    });

    const noRoots = new ChipVerifier(base);
    const r2 = await register(noRoots, chipA);
    const o2 = await noRoots.bind({ response: r2.response, expectedChallenge: r2.challenge }, ctx);
    expect(o2).toMatchObject({ verified: true, binding: { attestationTrusted: false } });

    const strict = new ChipVerifier({ ...base, attestation: 'trusted', trustedRoots: [caB] });
    const r3 = await register(strict, chipA);
    const o3 = await strict.bind({ response: r3.response, expectedChallenge: r3.challenge }, ctx);
    expect(o3).toEqual({
      verified: false,
      reason: 'bad-signature',
      detail: 'attestation-untrusted',
      binding: null,
    });
    const r4 = await register(strict, chipB);
    const o4 = await strict.bind({ response: r4.response, expectedChallenge: r4.challenge }, ctx);
    expect(o4).toMatchObject({ verified: true, binding: { attestationTrusted: true } });
  });

  it('sees a packed attestation stripped to none: accepted as none by default, refused when trust is required', async () => {
    const strip = (r: RegistrationResponseJSON): RegistrationResponseJSON => {
      const att = decodeCbor(fromBase64Url(r.response.attestationObject)) as Map<string, unknown>;
      const none = encodeCbor(
        new Map<string, unknown>([
          ['fmt', 'none'],
          ['attStmt', new Map()],
          ['authData', att.get('authData')],
        ]),
      );
      return { ...r, response: { ...r.response, attestationObject: toBase64Url(none) } };
    };
    const anyPolicy = new ChipVerifier({ ...base, trustedRoots: [caA] });
    const r1 = await register(anyPolicy, chipA);
    const o1 = await anyPolicy.bind(
      { response: strip(r1.response), expectedChallenge: r1.challenge },
      ctx,
    );
    expect(o1).toMatchObject({
      verified: true,
      binding: { fmt: 'none', attestationTrusted: false },
    });
    const strict = new ChipVerifier({ ...base, attestation: 'trusted', trustedRoots: [caA] });
    const r2 = await register(strict, chipA);
    expect(
      await strict.bind({ response: strip(r2.response), expectedChallenge: r2.challenge }, ctx),
    ).toMatchObject({ verified: false, detail: 'attestation-untrusted', binding: null });
  });

  it('logs in: the counter advances; the same assertion again is replayed', async () => {
    const v = new ChipVerifier(base);
    const { binding, login } = await bound(v, chipA);
    const first = await login();
    const o1 = await v.verify(binding, first, { now: NOW + 1000 });
    expect(o1).toMatchObject({ verified: true, reason: 'ok', detail: 'ok' });
    expect(o1.binding.counter).toBeGreaterThan(binding.counter);
    expect(o1.binding.lastUsedAt).toBe(NOW + 1000);
    expect(o1.binding.credentialId).toBe(binding.credentialId);
    const next = stored(o1.binding);

    // The same assertion, even with its own challenge still expected: the counter did not move.
    const again = await v.verify(next, first, { now: NOW + 2000 });
    expect(again).toEqual({
      verified: false,
      reason: 'replayed',
      detail: 'counter-not-increased',
      binding: next,
    });

    // A cloned key's assertion carries an older counter than the one stored.
    const second = await login();
    const o2 = await v.verify(next, second, ctx);
    expect(o2.verified).toBe(true);
    const ahead = { ...next, counter: o2.binding.counter + 10 };
    const third = await login();
    expect(await v.verify(ahead, third, ctx)).toMatchObject({
      verified: false,
      reason: 'replayed',
    });
  });

  it('refuses an assertion made for another challenge, and a replay under a new challenge', async () => {
    const v = new ChipVerifier(base);
    const { binding, login } = await bound(v, chipA);
    const l = await login();
    const other = toBase64Url(new Uint8Array(randomBytes(32)));
    const o = await v.verify(binding, { ...l, expectedChallenge: other }, ctx);
    expect(o).toEqual({
      verified: false,
      reason: 'bad-signature',
      detail: 'challenge-mismatch',
      binding,
    });
    // Registration too.
    const r = await register(v, chipA);
    expect(await v.bind({ response: r.response, expectedChallenge: other }, ctx)).toMatchObject({
      verified: false,
      detail: 'challenge-mismatch',
      binding: null,
    });
  });

  it('refuses another origin, and an origin of another RP', async () => {
    const v = new ChipVerifier(base);
    const { binding, login } = await bound(v, chipA);
    // A subdomain of the RP ID: the chip signs, the service has not listed the origin.
    const sub = await login('https://evil.mitid.example');
    expect(await v.verify(binding, sub, ctx)).toMatchObject({
      verified: false,
      reason: 'bad-signature',
      detail: 'origin-mismatch',
    });
    // A phishing site with its own RP ID: different rpIdHash, different origin.
    const phish = await chipA
      .prove({
        challenge: new Uint8Array(randomBytes(32)),
        rpId: 'mitid-login.example',
        origin: 'https://mitid-login.example',
        allowCredentials: [fromBase64Url(binding.credentialId)],
      })
      .then(
        (p) => p,
        () => undefined,
      );
    // The chip has no credential for that RP (the ID is bound to mitid.example): it refuses.
    expect(phish).toBeUndefined();

    // A verifier serving several origins accepts each listed one.
    const multi = new ChipVerifier({ ...base, origin: [ORIGIN, 'https://erhverv.mitid.example'] });
    const l2 = await login('https://erhverv.mitid.example');
    expect(await multi.verify(binding, l2, ctx)).toMatchObject({ verified: true });
  });

  it('refuses a tampered signature, authenticator data, client data or user-presence flag', async () => {
    const v = new ChipVerifier(base);
    const { binding, login } = await bound(v, chipA);
    const flip = (b64: string, at: number) => {
      const b = fromBase64Url(b64);
      b[at % b.length]! ^= 0x01;
      return toBase64Url(b);
    };
    const l = await login();
    const sig = l.response.response.signature;
    for (const at of [10, fromBase64Url(sig).length - 1]) {
      const r = { ...l.response, response: { ...l.response.response, signature: flip(sig, at) } };
      expect(await v.verify(binding, { ...l, response: r }, ctx)).toMatchObject({
        verified: false,
        reason: 'bad-signature',
      });
    }
    // A higher counter written in by hand (authenticatorData byte 36 is the counter's low byte).
    const ad = l.response.response.authenticatorData;
    const r2 = {
      ...l.response,
      response: { ...l.response.response, authenticatorData: flip(ad, 36) },
    };
    expect(await v.verify(binding, { ...l, response: r2 }, ctx)).toMatchObject({
      verified: false,
      reason: 'bad-signature',
      detail: 'signature-invalid',
    });
    // UP flag cleared (byte 32 bit 0).
    const r3 = {
      ...l.response,
      response: { ...l.response.response, authenticatorData: flip(ad, 32) },
    };
    expect(await v.verify(binding, { ...l, response: r3 }, ctx)).toMatchObject({
      verified: false,
      detail: 'user-presence-missing',
    });
    // Client data rewritten with the same challenge and origin but other bytes.
    const cd = JSON.parse(Buffer.from(l.response.response.clientDataJSON, 'base64url').toString());
    const rewritten = toBase64Url(Buffer.from(JSON.stringify({ ...cd, extra: 1 })));
    const r4 = { ...l.response, response: { ...l.response.response, clientDataJSON: rewritten } };
    expect(await v.verify(binding, { ...l, response: r4 }, ctx)).toMatchObject({
      verified: false,
      reason: 'bad-signature',
    });
    // The untampered one still passes.
    expect(await v.verify(binding, l, ctx)).toMatchObject({ verified: true });
  });

  it('refuses another chip’s credential, and another chip’s signature under this ID', async () => {
    const v = new ChipVerifier(base);
    const a = await bound(v, chipA);
    const b = await bound(v, chipB);
    const lb = await b.login();
    expect(await v.verify(a.binding, lb, ctx)).toEqual({
      verified: false,
      reason: 'unknown-credential',
      detail: 'unknown-credential',
      binding: a.binding,
    });
    const relabelled = {
      ...lb.response,
      id: a.binding.credentialId,
      rawId: a.binding.credentialId,
    };
    expect(await v.verify(a.binding, { ...lb, response: relabelled }, ctx)).toMatchObject({
      verified: false,
      reason: 'bad-signature',
    });
    // No binding at all.
    expect(await v.verify(null, lb, ctx)).toMatchObject({
      verified: false,
      reason: 'unknown-credential',
      binding: null,
    });
  });

  it('requires user verification when configured: a chip with a PIN passes, without it not', async () => {
    const { chip, caDer } = await newChip('4711');
    try {
      const v = new ChipVerifier({
        ...base,
        requireUserVerification: true,
        attestation: 'trusted',
        trustedRoots: [caDer],
      });
      const { options } = v.registrationOptions({ user: user('carl') });
      expect(options.authenticatorSelection?.userVerification).toBe('required');
      const { binding, login } = await bound(v, chip, '4711');
      expect(binding.userVerified).toBe(true);
      expect(binding.attestationTrusted).toBe(true);
      const l = await login();
      expect(await v.verify(binding, l, ctx)).toMatchObject({ verified: true, reason: 'ok' });

      // The same chip asked without UV: the service refuses it.
      const { options: ro, challenge } = v.authenticationOptions({
        allowCredentialIds: [binding.credentialId],
      });
      const plain = await chip.prove({
        ...requestOptionsFromJson(wire(ro), { origin: ORIGIN }),
        userVerification: 'discouraged',
      });
      expect(
        await v.verify(
          binding,
          { response: proofToJson(plain), expectedChallenge: challenge },
          ctx,
        ),
      ).toMatchObject({
        verified: false,
        reason: 'bad-signature',
        detail: 'user-verification-required',
      });

      // And a registration without UV.
      const { options: co, challenge: c2 } = v.registrationOptions({ user: user('dora') });
      const made = await chip.bind({
        ...creationOptionsFromJson(wire(co), { origin: ORIGIN }),
        userVerification: 'discouraged',
      });
      expect(
        await v.bind({ response: bindResponseToJson(made), expectedChallenge: c2 }, ctx),
      ).toMatchObject({ verified: false, detail: 'user-verification-required', binding: null });
    } finally {
      await chip.close();
    }
  });
});

describe('ChipVerifier against hostile JSON', () => {
  const v = new ChipVerifier(base);
  let reg: { response: RegistrationResponseJSON; challenge: string };
  let binding: ChipBinding;
  let login: { response: AuthenticationResponseJSON; expectedChallenge: string };

  beforeAll(async () => {
    reg = await register(v, chipA);
    const b = await bound(v, chipA);
    binding = b.binding;
    login = await b.login();
  });

  const huge = 'A'.repeat(5_000_000);
  const cases = (
    good: Record<string, unknown>,
  ): [string, (g: Record<string, unknown>) => unknown][] => {
    const resp = good.response as Record<string, unknown>;
    const withResp = (patch: Record<string, unknown>) => ({
      ...good,
      response: { ...resp, ...patch },
    });
    const out: [string, (g: Record<string, unknown>) => unknown][] = [
      ['null', () => null],
      ['a string', () => 'hello'],
      ['an array', () => [good]],
      ['empty object', () => ({})],
      ['no response', () => ({ ...good, response: undefined })],
      ['response a string', () => ({ ...good, response: 'x' })],
      ['id missing', () => ({ ...good, id: undefined })],
      ['id a number', () => ({ ...good, id: 42, rawId: 42 })],
      ['id not base64url', () => ({ ...good, id: 'a+b/c', rawId: 'a+b/c' })],
      ['id and rawId differ', () => ({ ...good, rawId: 'AAAA' })],
      ['id huge', () => ({ ...good, id: huge, rawId: huge })],
      ['type wrong', () => ({ ...good, type: 'password' })],
      ['attachment wrong', () => ({ ...good, authenticatorAttachment: 'usb' })],
      ['extension results an array', () => ({ ...good, clientExtensionResults: [] })],
      ['clientDataJSON missing', () => withResp({ clientDataJSON: undefined })],
      ['clientDataJSON huge', () => withResp({ clientDataJSON: huge })],
      [
        'clientDataJSON not JSON',
        () => withResp({ clientDataJSON: toBase64Url(Buffer.from('{')) }),
      ],
      [
        'clientDataJSON JSON array',
        () => withResp({ clientDataJSON: toBase64Url(Buffer.from('[]')) }),
      ],
      [
        'clientDataJSON with a numeric challenge',
        () =>
          withResp({
            clientDataJSON: toBase64Url(
              Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: 5, origin: ORIGIN })),
            ),
          }),
      ],
      [
        'clientDataJSON not UTF-8',
        () => withResp({ clientDataJSON: toBase64Url(Buffer.from([0xff, 0xfe])) }),
      ],
      ['clientDataJSON an object', () => withResp({ clientDataJSON: { a: 1 } })],
    ];
    if ('attestationObject' in resp) {
      out.push(
        ['attestationObject missing', () => withResp({ attestationObject: undefined })],
        ['attestationObject garbage', () => withResp({ attestationObject: 'AAAA' })],
        ['attestationObject huge', () => withResp({ attestationObject: huge })],
        ['transports a string', () => withResp({ transports: 'usb' })],
        ['transports with a number', () => withResp({ transports: [1] })],
      );
    } else {
      out.push(
        ['authenticatorData short', () => withResp({ authenticatorData: 'AAAA' })],
        [
          'authenticatorData garbage',
          () => withResp({ authenticatorData: toBase64Url(new Uint8Array(40)) }),
        ],
        ['signature missing', () => withResp({ signature: undefined })],
        ['signature empty', () => withResp({ signature: '' })],
        ['signature huge', () => withResp({ signature: huge })],
        ['userHandle a number', () => withResp({ userHandle: 7 })],
        ['userHandle too long', () => withResp({ userHandle: toBase64Url(new Uint8Array(65)) })],
      );
    }
    return out;
  };

  it('bind: every bad registration JSON is verified:false, never a throw', async () => {
    const good = reg.response as unknown as Record<string, unknown>;
    for (const [name, make] of cases(good)) {
      const o = await v.bind(
        { response: make(good) as RegistrationResponseJSON, expectedChallenge: reg.challenge },
        ctx,
      );
      expect.soft(o.verified, name).toBe(false);
      expect.soft(o.binding, name).toBeNull();
      expect.soft(o.reason, name).toBe('malformed');
      expect.soft(JSON.stringify(o), name).not.toContain(reg.challenge);
    }
    // The good one, after all that.
    const ok = await v.bind({ response: reg.response, expectedChallenge: reg.challenge }, ctx);
    expect(ok.verified).toBe(true);
  });

  it('verify: every bad assertion JSON is verified:false, never a throw', async () => {
    const good = login.response as unknown as Record<string, unknown>;
    for (const [name, make] of cases(good)) {
      const o = await v.verify(
        binding,
        {
          response: make(good) as AuthenticationResponseJSON,
          expectedChallenge: login.expectedChallenge,
        },
        ctx,
      );
      expect.soft(o.verified, name).toBe(false);
      expect.soft(o.binding, name).toEqual(binding);
      expect.soft(o.reason, name).toBe('malformed');
      expect.soft(JSON.stringify(o), name).not.toContain(login.expectedChallenge);
    }
    expect((await v.verify(binding, login, ctx)).verified).toBe(true);
  });

  it('throws a MitidError for the service’s own mistakes: bad challenge, binding, context, options', async () => {
    const code = async (f: () => unknown) => {
      try {
        await f();
      } catch (e) {
        expect(e).toBeInstanceOf(MitidError);
        return (e as MitidError).code;
      }
      return 'no error';
    };
    expect(
      await code(() => v.bind({ response: reg.response, expectedChallenge: 'short' }, ctx)),
    ).toBe('bad-challenge');
    expect(await code(() => v.verify({ ...binding, counter: -1 }, login, ctx))).toBe('bad-binding');
    expect(await code(() => v.verify(binding, login, { now: Number.NaN }))).toBe('bad-context');
    expect(await code(() => new ChipVerifier({ ...base, origin: 'https://other.example' }))).toBe(
      'bad-verifier-options',
    );
    expect(await code(() => new ChipVerifier({ ...base, attestation: 'trusted' }))).toBe(
      'bad-verifier-options',
    );
    expect(
      await code(() => new ChipVerifier({ ...base, trustedRoots: [new Uint8Array([1, 2, 3])] })),
    ).toBe('bad-verifier-options');
    expect(
      await code(() => v.registrationOptions({ user: { ...user('x'), id: new Uint8Array(65) } })),
    ).toBe('bad-options-input');
    expect(await code(() => v.authenticationOptions({ allowCredentialIds: ['+/'] }))).toBe(
      'bad-options-input',
    );
  });
});

describe('WebAuthn JSON converters', () => {
  let made: WebAuthnBindResponse;
  let proof: WebAuthnProof;

  beforeAll(async () => {
    const v = new ChipVerifier(base);
    const r = await register(v, chipA);
    made = r.made;
    const b = await bound(v, chipA);
    proof = (await b.login()).proof;
  });

  it('round-trips a registration and an assertion through JSON', () => {
    const j = bindResponseToJson(made);
    expect(j).toMatchObject({
      type: 'public-key',
      authenticatorAttachment: 'cross-platform',
      clientExtensionResults: {},
      response: { transports: ['usb'] },
    });
    expect(j.id).toBe(j.rawId);
    expect(j.id).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(bindResponseFromJson(wire(j))).toEqual({ ...made, transports: ['usb'] });
    expect(parseRegistrationResponseJson(wire(j))).toEqual(j);

    const a = proofToJson(proof);
    expect(a.response).not.toHaveProperty('userHandle');
    expect(proofFromJson(wire(a))).toEqual(proof);
    expect(parseAuthenticationResponseJson(wire(a))).toEqual(a);
    const withHandle: WebAuthnProof = { ...proof, userHandle: new Uint8Array([1, 2, 3]) };
    expect(proofFromJson(wire(proofToJson(withHandle)))).toEqual(withHandle);
    // A null userHandle (as some clients send) is no user handle; unknown transports are dropped.
    expect(proofFromJson({ ...a, response: { ...a.response, userHandle: null } })).toEqual(proof);
    expect(
      bindResponseFromJson({
        ...j,
        response: { ...j.response, transports: ['usb', 'warp', 'nfc'] },
      }).transports,
    ).toEqual(['usb', 'nfc']);
  });

  it('builds what @simplewebauthn/server accepts directly', async () => {
    // Options from the library, the chip answering through our converters.
    const ro = await generateRegistrationOptions({
      rpName: 'MitID test',
      rpID: RP_ID,
      userName: 'eva',
      attestationType: 'direct',
    });
    const request = creationOptionsFromJson(wire(ro), { origin: ORIGIN });
    expect(request.residentKey).toBeUndefined(); // 'preferred' does not use a chip slot
    const made2 = await chipA.bind(request);
    const reg = await verifyRegistrationResponse({
      response: wire(bindResponseToJson(made2)),
      expectedChallenge: ro.challenge,
      expectedOrigin: ORIGIN,
      expectedRPID: RP_ID,
      requireUserVerification: false,
    });
    expect(reg.verified).toBe(true);
    if (!reg.verified) return;
    expect(reg.registrationInfo.fmt).toBe('packed');

    const ao = await generateAuthenticationOptions({
      rpID: RP_ID,
      allowCredentials: [{ id: reg.registrationInfo.credential.id }],
    });
    const p = await chipA.prove(requestOptionsFromJson(wire(ao), { origin: ORIGIN }));
    const auth = await verifyAuthenticationResponse({
      response: wire(proofToJson(p)),
      expectedChallenge: ao.challenge,
      expectedOrigin: ORIGIN,
      expectedRPID: RP_ID,
      credential: reg.registrationInfo.credential,
      requireUserVerification: false,
    });
    expect(auth.verified).toBe(true);
    expect(auth.authenticationInfo.newCounter).toBeGreaterThan(0);
  });

  it('reads creation and request options, with browser defaults for a missing RP ID', () => {
    const challenge = toBase64Url(new Uint8Array(32).fill(7));
    const uid = toBase64Url(new Uint8Array([9, 9]));
    const c = creationOptionsFromJson(
      {
        rp: { name: 'X' },
        user: { id: uid, name: 'u', displayName: 'U' },
        challenge,
        pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
        excludeCredentials: [{ id: 'AQID', type: 'public-key', transports: ['usb'] }],
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
      },
      { origin: 'https://login.mitid.example', pin: '1234' },
    );
    expect(c).toEqual({
      challenge: new Uint8Array(32).fill(7),
      rp: { id: 'login.mitid.example', name: 'X' },
      user: { id: new Uint8Array([9, 9]), name: 'u', displayName: 'U' },
      origin: 'https://login.mitid.example',
      residentKey: true,
      userVerification: 'required',
      pin: '1234',
      excludeCredentials: [new Uint8Array([1, 2, 3])],
    });
    const r = requestOptionsFromJson(
      {
        challenge,
        allowCredentials: [{ id: 'AQID', type: 'public-key' }],
        userVerification: 'preferred',
      },
      { origin: ORIGIN },
    );
    expect(r).toEqual({
      challenge: new Uint8Array(32).fill(7),
      rpId: 'login.mitid.example',
      origin: ORIGIN,
      allowCredentials: [new Uint8Array([1, 2, 3])],
      userVerification: 'preferred',
    });
  });

  it('refuses malformed options and responses with MitidError bad-webauthn-json', () => {
    const challenge = toBase64Url(new Uint8Array(32));
    const good = {
      rp: { id: RP_ID, name: 'X' },
      user: { id: 'AQ', name: 'u', displayName: 'U' },
      challenge,
      pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
    };
    const bad: [string, () => unknown][] = [
      ['options null', () => creationOptionsFromJson(null, { origin: ORIGIN })],
      ['no origin', () => creationOptionsFromJson(good, {} as never)],
      ['origin with a path', () => creationOptionsFromJson(good, { origin: `${ORIGIN}/x` })],
      [
        'short challenge',
        () => creationOptionsFromJson({ ...good, challenge: 'AAAA' }, { origin: ORIGIN }),
      ],
      [
        'challenge huge',
        () => creationOptionsFromJson({ ...good, challenge: 'A'.repeat(1e6) }, { origin: ORIGIN }),
      ],
      [
        'user.id empty',
        () =>
          creationOptionsFromJson({ ...good, user: { ...good.user, id: '' } }, { origin: ORIGIN }),
      ],
      [
        'user.id 65 bytes',
        () =>
          creationOptionsFromJson(
            { ...good, user: { ...good.user, id: toBase64Url(new Uint8Array(65)) } },
            { origin: ORIGIN },
          ),
      ],
      [
        'user.name a number',
        () =>
          creationOptionsFromJson({ ...good, user: { ...good.user, name: 1 } }, { origin: ORIGIN }),
      ],
      ['rp missing', () => creationOptionsFromJson({ ...good, rp: undefined }, { origin: ORIGIN })],
      [
        'rp.id with a scheme',
        () =>
          creationOptionsFromJson(
            { ...good, rp: { id: 'https://x', name: 'X' } },
            { origin: ORIGIN },
          ),
      ],
      [
        'residentKey odd',
        () =>
          creationOptionsFromJson(
            { ...good, authenticatorSelection: { residentKey: 'yes' } },
            { origin: ORIGIN },
          ),
      ],
      [
        'pubKeyCredParams odd',
        () =>
          creationOptionsFromJson(
            { ...good, pubKeyCredParams: [{ alg: 'ES256' }] },
            { origin: ORIGIN },
          ),
      ],
      [
        'exclude not a list',
        () => creationOptionsFromJson({ ...good, excludeCredentials: {} }, { origin: ORIGIN }),
      ],
      [
        'exclude too many',
        () =>
          creationOptionsFromJson(
            { ...good, excludeCredentials: Array(65).fill({ id: 'AQ', type: 'public-key' }) },
            { origin: ORIGIN },
          ),
      ],
      [
        'allow with bad id',
        () =>
          requestOptionsFromJson(
            { challenge, allowCredentials: [{ id: '!', type: 'public-key' }] },
            { origin: ORIGIN },
          ),
      ],
      [
        'userVerification odd',
        () => requestOptionsFromJson({ challenge, userVerification: 'always' }, { origin: ORIGIN }),
      ],
      [
        'timeout negative',
        () => requestOptionsFromJson({ challenge, timeout: -1 }, { origin: ORIGIN }),
      ],
      ['registration JSON null', () => bindResponseFromJson(null)],
      ['assertion JSON empty', () => proofFromJson({})],
    ];
    for (const [name, f] of bad) {
      let caught: unknown;
      try {
        f();
      } catch (e) {
        caught = e;
      }
      expect.soft(caught, name).toBeInstanceOf(MitidError);
      expect.soft((caught as MitidError | undefined)?.code, name).toBe('bad-webauthn-json');
      expect.soft((caught as Error | undefined)?.message.length ?? 0, name).toBeLessThan(200);
    }
  });
});

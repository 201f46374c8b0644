/** OTP figures: TOTP verifications per second against raw node:crypto (the limit) and otplib. */
import { createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto';
import { NodeCryptoPlugin } from '@otplib/plugin-crypto-node';
import { verifySync as otplibVerifySync } from 'otplib';
import { generateTotp } from '../../src/otp/generate.js';
import { initialTotpState, prepareOtpKey, verifyTotp } from '../../src/otp/verify.js';
import type { BenchCase, BenchModule, Contender } from './harness.js';

/** Keys in the workload: enough that no one key's state sits in a cache line by luck. */
const KEYS = 64;
const PERIOD = 30;
/** A fixed server time in the middle of a step (2026-11-25T12:00:15Z). */
const NOW_MS = Date.UTC(2026, 10, 25, 12, 0, 15);
const NOW_S = Math.floor(NOW_MS / 1000);
const STEP = Math.floor(NOW_S / PERIOD);

/** One login attempt of the workload. */
interface Attempt {
  readonly secret: Uint8Array;
  readonly token: string;
  /** What a correct verifier with a ±1 window says. */
  readonly valid: boolean;
}

/**
 * The workload: a quarter each of codes from the previous, current and next step, and wrong
 * codes, so early-exit verifiers (otplib stops at the first match) are measured on the same mix
 * of cheap and dear cases as a constant-work one.
 */
function workload(): Attempt[] {
  const out: Attempt[] = [];
  for (let i = 0; i < KEYS; i++) {
    const secret = new Uint8Array(randomBytes(20));
    const window = [-1, 0, 1].map((k) => generateTotp({ secret }, NOW_MS + k * PERIOD * 1000));
    const kind = i % 4;
    let token: string;
    if (kind < 3) {
      token = window[kind]!;
    } else {
      // A wrong code: one from far away that happens not to be in the window.
      let far = 5;
      do token = generateTotp({ secret }, NOW_MS + far++ * PERIOD * 1000);
      while (window.includes(token));
    }
    out.push({ secret, token, valid: kind < 3 });
  }
  return out;
}

/**
 * The limit: nothing but node:crypto over the same three steps, with the same cached KeyObject
 * a prepared key holds (handing node:crypto raw key bytes measured no faster, and noisier).
 */
function rawLimit(attempts: readonly Attempt[]): Contender & { answers(): boolean[] } {
  const keys = attempts.map((a) => createSecretKey(a.secret));
  const counter = Buffer.alloc(8);
  const expected = Buffer.alloc(6);
  const one = (j: number): boolean => {
    const candidate = Buffer.from(attempts[j]!.token, 'latin1');
    let match = 0;
    for (let s = STEP - 1; s <= STEP + 1; s++) {
      counter.writeUInt32BE(Math.floor(s / 2 ** 32), 0);
      counter.writeUInt32BE(s >>> 0, 4);
      const h = createHmac('sha1', keys[j]!).update(counter).digest();
      const o = h[19]! & 15;
      let bin = (((h[o]! & 0x7f) << 24) | (h[o + 1]! << 16) | (h[o + 2]! << 8) | h[o + 3]!) % 1e6;
      for (let d = 5; d >= 0; d--) {
        expected[d] = 48 + (bin % 10);
        bin = Math.floor(bin / 10);
      }
      match |= timingSafeEqual(expected, candidate) ? 1 : 0;
    }
    return match === 1;
  };
  return {
    label: 'node:crypto HMAC + timingSafeEqual',
    run(n) {
      let ok = 0;
      for (let i = 0; i < n; i++) if (one(i % attempts.length)) ok++;
      return ok;
    },
    answers: () => attempts.map((_, j) => one(j)),
  };
}

function otpCases(): BenchCase[] {
  const attempts = workload();
  const prepared = attempts.map((a) => prepareOtpKey({ secret: a.secret }));
  const nodePlugin = new NodeCryptoPlugin();
  const limit = rawLimit(attempts);

  const oursPrepared = (j: number): boolean =>
    verifyTotp(prepared[j]!, initialTotpState(), attempts[j]!.token, NOW_MS).ok;
  const oursPlain = (j: number): boolean =>
    verifyTotp({ secret: attempts[j]!.secret }, initialTotpState(), attempts[j]!.token, NOW_MS).ok;
  const otplib = (j: number): boolean =>
    otplibVerifySync({
      secret: attempts[j]!.secret,
      token: attempts[j]!.token,
      epoch: NOW_S,
      epochTolerance: PERIOD,
      crypto: nodePlugin,
    }).valid;

  // otplib as most users call it: its default crypto plugin (pure-JS HMAC from @noble/hashes).
  const otplibDefaults = (j: number): boolean =>
    otplibVerifySync({
      secret: attempts[j]!.secret,
      token: attempts[j]!.token,
      epoch: NOW_S,
      epochTolerance: PERIOD,
    }).valid;

  // Each contender has its own loop, written out: loops made by one shared helper would share
  // V8's type feedback, and a call site that has seen four callees is optimised for none.
  const K = attempts.length;
  const tokens = attempts.map((a) => a.token);
  const secrets = attempts.map((a) => a.secret);
  const oursContender: Contender = {
    label: 'mitid-sim verifyTotp',
    run(n) {
      let ok = 0;
      for (let i = 0; i < n; i++) {
        const j = i % K;
        if (verifyTotp(prepared[j]!, initialTotpState(), tokens[j]!, NOW_MS).ok) ok++;
      }
      return ok;
    },
  };
  const oursPlainContender: Contender = {
    label: 'mitid-sim verifyTotp (plain params)',
    run(n) {
      let ok = 0;
      for (let i = 0; i < n; i++) {
        const j = i % K;
        if (verifyTotp({ secret: secrets[j]! }, initialTotpState(), tokens[j]!, NOW_MS).ok) ok++;
      }
      return ok;
    },
  };
  const peer: Contender = {
    label: 'otplib verifySync (node crypto plugin)',
    run(n) {
      let ok = 0;
      for (let i = 0; i < n; i++) {
        const j = i % K;
        const r = otplibVerifySync({
          secret: secrets[j]!,
          token: tokens[j]!,
          epoch: NOW_S,
          epochTolerance: PERIOD,
          crypto: nodePlugin,
        });
        if (r.valid) ok++;
      }
      return ok;
    },
  };
  const peerDefaults: Contender = {
    label: 'otplib verifySync (defaults)',
    run(n) {
      let ok = 0;
      for (let i = 0; i < n; i++) {
        const j = i % K;
        const r = otplibVerifySync({
          secret: secrets[j]!,
          token: tokens[j]!,
          epoch: NOW_S,
          epochTolerance: PERIOD,
        });
        if (r.valid) ok++;
      }
      return ok;
    },
  };

  const check = (): void => {
    const expected = attempts.map((a) => a.valid);
    const answers: Record<string, boolean[]> = {
      ours: attempts.map((_, j) => oursPrepared(j)),
      oursPlain: attempts.map((_, j) => oursPlain(j)),
      limit: limit.answers(),
      otplib: attempts.map((_, j) => otplib(j)),
      otplibDefaults: attempts.map((_, j) => otplibDefaults(j)),
    };
    for (const [who, got] of Object.entries(answers)) {
      if (got.join() !== expected.join())
        throw new Error(`otp bench: ${who} disagrees on the workload`);
    }
  };

  return [
    {
      name: 'otp.totp.verify.sha1.w1',
      description: 'TOTP SHA-1, 6 digits, window ±1, prepared key (cached KeyObject)',
      unit: 'verifications/s',
      ours: oursContender,
      limit,
      peer,
      check,
    },
    {
      name: 'otp.totp.verify.sha1.w1.unprepared',
      description: 'the same from plain parameters (key checked and imported per call)',
      unit: 'verifications/s',
      ours: oursPlainContender,
      limit,
      peer,
    },
    {
      name: 'otp.totp.verify.sha1.w1.vs-otplib-defaults',
      description: 'prepared key against otplib with its default (pure-JS) crypto plugin',
      unit: 'verifications/s',
      ours: oursContender,
      limit,
      peer: peerDefaults,
    },
  ];
}

/** The OTP group. */
export const otpBench: BenchModule = { group: 'otp', cases: otpCases };

// The Authenticator contract for one-time-code kinds (code display, audio reader), run against every implementation.
import { describe, expect, it } from 'vitest';
import type { Authenticator } from '../../src/core/authenticator.js';
import { MitidError } from '../../src/core/errors.js';
import { type IndependentTotpKey, independentStep, independentTotp } from './independent-totp.js';

/** The OTP kinds this contract covers. */
export type OtpKind = 'code-display' | 'audio-reader';

/** One device under test, made fresh for each test by the implementation's `makeEnv`. */
export interface OtpContractEnv<K extends OtpKind = OtpKind> {
  readonly kind: K;
  /** The serial the device must report. */
  readonly serial: string;
  /** The key the device was loaded with, as the test knows it (from the factory, not the device). */
  readonly key: IndependentTotpKey;
  /** A host time (ms) to press at; later presses go forwards from it. */
  readonly start: number;
  /**
   * The device time the device should show at host time `at`, when the implementation knows
   * its clock model (drift and all); the suite then checks it exactly.
   */
  deviceTimeAt?(at: number): number;
  /** Opens the device: the first call makes it, later calls reopen the same device. */
  open(): Promise<Authenticator<K>>;
  /** Removes what the device left behind (files, processes). */
  cleanup(): Promise<void>;
}

/**
 * Registers the contract for an OTP kind. `makeEnv` makes a fresh device for each test. The
 * codes are checked against TOTP computed here from the RFCs with node:crypto, not with the
 * project's OTP module, so a shared mistake cannot pass.
 */
export function describeAuthenticatorContract<K extends OtpKind>(
  name: string,
  makeEnv: () => Promise<OtpContractEnv<K>>,
): void {
  describe(`Authenticator contract: ${name}`, () => {
    const withEnv = (title: string, fn: (env: OtpContractEnv<K>) => Promise<void>): void => {
      it(title, async () => {
        const env = await makeEnv();
        try {
          await fn(env);
        } finally {
          await env.cleanup();
        }
      });
    };

    withEnv('reports its kind and serial', async (env) => {
      const dev = await env.open();
      expect(dev.kind).toBe(env.kind);
      expect(dev.serial).toBe(env.serial);
      await dev.close();
    });

    withEnv('bind gives the serial and the code of the device time', async (env) => {
      const dev = await env.open();
      const at = env.start;
      const bound = await dev.bind({ at });
      expect(bound.type).toBe('otp');
      expect(bound.serial).toBe(env.serial);
      expect(bound.code).toMatch(new RegExp(`^\\d{${env.key.digits}}$`));
      if (env.deviceTimeAt) expect(bound.deviceTime).toBe(env.deviceTimeAt(at));
      expect(bound.code).toBe(independentTotp(env.key, bound.deviceTime));
      await dev.close();
    });

    withEnv('prove at successive steps gives each step’s code', async (env) => {
      const dev = await env.open();
      const stepMs = env.key.period * 1000;
      const seen: number[] = [];
      for (let i = 0; i < 5; i++) {
        const at = env.start + i * stepMs;
        const proof = await dev.prove({ at });
        expect(proof.type).toBe('otp');
        expect(proof.serial).toBe(env.serial);
        if (env.deviceTimeAt) expect(proof.deviceTime).toBe(env.deviceTimeAt(at));
        expect(proof.code).toBe(independentTotp(env.key, proof.deviceTime));
        seen.push(independentStep(env.key, proof.deviceTime));
      }
      // Each press one step after the last lands one step later on the device too.
      for (let i = 1; i < seen.length; i++)
        expect(seen[i]! - seen[i - 1]!).toBeGreaterThanOrEqual(1);
      await dev.close();
    });

    withEnv(
      'close is idempotent, and a closed device refuses work with a MitidError',
      async (env) => {
        const dev = await env.open();
        await dev.close();
        await dev.close();
        await expect(dev.prove({ at: env.start })).rejects.toBeInstanceOf(MitidError);
        await expect(dev.bind({ at: env.start })).rejects.toBeInstanceOf(MitidError);
      },
    );

    withEnv(
      'after a reopen the same device goes on: same serial, same key, same clock',
      async (env) => {
        const dev = await env.open();
        const stepMs = env.key.period * 1000;
        const first = await dev.prove({ at: env.start });
        await dev.close();
        const again = await env.open();
        expect(again.serial).toBe(env.serial);
        const at = env.start + 3 * stepMs;
        const later = await again.prove({ at });
        if (env.deviceTimeAt) expect(later.deviceTime).toBe(env.deviceTimeAt(at));
        expect(later.deviceTime).toBeGreaterThan(first.deviceTime);
        expect(later.code).toBe(independentTotp(env.key, later.deviceTime));
        await again.close();
      },
    );

    withEnv('hostile requests give a MitidError, not a crash', async (env) => {
      const dev = await env.open();
      for (const at of [NaN, -1, Infinity, '12' as unknown as number, 1e300]) {
        await expect(dev.prove({ at })).rejects.toBeInstanceOf(MitidError);
        await expect(dev.bind({ at })).rejects.toBeInstanceOf(MitidError);
      }
      await expect(dev.prove(null as never)).rejects.toBeInstanceOf(MitidError);
      // The device still works afterwards.
      const ok = await dev.prove({ at: env.start });
      expect(ok.code).toBe(independentTotp(env.key, ok.deviceTime));
      await dev.close();
    });
  });
}

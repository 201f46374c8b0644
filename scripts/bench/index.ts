/** The registry of benchmark groups: add a module under scripts/bench/ and list it here. */
import { activationBench } from './activation.js';
import { appBench } from './app.js';
import { audioBench } from './audio.js';
import { chipBench } from './chip.js';
import type { BenchModule } from './harness.js';
import { otpBench } from './otp.js';

/** Every group, in the order they run and print. */
export const benchmarks: readonly BenchModule[] = [
  otpBench,
  chipBench,
  audioBench,
  activationBench,
  appBench,
];

export * from './harness.js';

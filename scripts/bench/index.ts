/** The registry of benchmark groups: add a module under scripts/bench/ and list it here. */
import type { BenchModule } from './harness.js';
import { otpBench } from './otp.js';

/** Every group, in the order they run and print. */
export const benchmarks: readonly BenchModule[] = [otpBench];

export * from './harness.js';

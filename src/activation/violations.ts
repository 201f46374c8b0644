/** Rule violations: a stable code for programs and a one-line message in Danish and English. */
import { MitidError } from '../core/errors.js';

/** One broken rule. `code` is stable; the messages never quote the offending value. */
export interface Violation {
  readonly code: string;
  readonly field: string;
  readonly message: { readonly da: string; readonly en: string };
}

/** Builds a violation. */
export function violation(field: string, code: string, da: string, en: string): Violation {
  return { field, code, message: { da, en } };
}

/** Errors of the activation service: bad input, forbidden actions, store and mailbox failures. */
export class ActivationError extends MitidError {}

/**
 * Thrown where a caller asked for something the rules forbid. `violations` lists every broken
 * rule; `message` is the first one in English.
 */
export class RuleError extends ActivationError {
  readonly violations: readonly Violation[];
  constructor(violations: readonly Violation[]) {
    const first = violations[0];
    super(first?.code ?? 'invalid', first?.message.en ?? 'invalid input');
    this.violations = violations;
  }
}

/** Throws a RuleError when `violations` is not empty. */
export function assertNoViolations(violations: readonly Violation[]): void {
  if (violations.length > 0) throw new RuleError(violations);
}

/** Refusals of the flow's steps: the error the API answers with, and committing before throwing it. */
import type { Repositories } from './store/repositories.js';
import type { Store } from './store/store.js';
import { ActivationError } from './violations.js';

/**
 * A step refused. `status` is the HTTP status the API answers with; `message` is what the user
 * reads (one generic message where the reason would help an attacker); the reason is in the audit
 * log.
 */
export class FlowError extends ActivationError {
  readonly status: number;
  readonly detail: Readonly<Record<string, unknown>> | undefined;
  constructor(
    status: number,
    code: string,
    message: string,
    detail?: Readonly<Record<string, unknown>>,
  ) {
    super(code, message);
    this.status = status;
    this.detail = detail;
  }
}

/** A refusal returned from a transaction, so what it counted commits before it is thrown. */
export class Refusal {
  constructor(readonly error: FlowError) {}
}

/** Builds a refusal. */
export function refuse(
  status: number,
  code: string,
  message: string,
  detail?: Record<string, unknown>,
): Refusal {
  return new Refusal(new FlowError(status, code, message, detail));
}

/** Runs `fn` in one transaction; a returned refusal is thrown after the commit. */
export async function runRefusable<T>(
  store: Store,
  fn: (tx: Repositories) => Promise<T | Refusal>,
): Promise<T> {
  const out = await store.transaction(fn);
  if (out instanceof Refusal) throw out.error;
  return out;
}

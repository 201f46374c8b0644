/** Activation and login sessions, and administrators' API tokens: random tokens kept only as keyed hashes. */
import { randomUUID } from 'node:crypto';
import { newToken } from './store/secrets.js';
import type { Repositories } from './store/repositories.js';

/** The two conversations the service holds between requests. */
export type SessionKind = 'activation' | 'login';

/** A live session as read inside a transaction. */
export interface Session<S> {
  readonly id: string;
  readonly kind: SessionKind;
  readonly subjectId: string;
  readonly state: S;
  readonly expiresAt: number;
}

const TOKEN = /^[A-Za-z0-9_-]{22,128}$/;

function purpose(kind: SessionKind): string {
  return `session:${kind}`;
}

/** Opens a session: returns the token (shown once to the client) and the id. */
export async function openSession<S>(
  tx: Repositories,
  kind: SessionKind,
  subjectId: string,
  state: S,
  lifetimeMs: number,
): Promise<{ token: string; id: string; expiresAt: number }> {
  const token = newToken(32);
  const id = randomUUID();
  const expiresAt = tx.now + lifetimeMs;
  await tx.db
    .insertInto('flow_sessions')
    .values({
      id,
      token_hash: tx.secrets.hasher.hash(purpose(kind), token),
      kind,
      subject_id: subjectId,
      state: JSON.stringify(state),
      created_at: tx.now,
      updated_at: tx.now,
      expires_at: expiresAt,
      ended_at: null,
    })
    .execute();
  return { token, id, expiresAt };
}

/**
 * Finds a live session by its token (looked up by keyed hash, so the lookup's timing says nothing
 * about other tokens). Undefined when the token is malformed, unknown, ended or expired.
 */
export async function findSession<S>(
  tx: Repositories,
  kind: SessionKind,
  token: unknown,
): Promise<Session<S> | undefined> {
  if (typeof token !== 'string' || !TOKEN.test(token)) return undefined;
  const row = await tx.db
    .selectFrom('flow_sessions')
    .selectAll()
    .where('token_hash', '=', tx.secrets.hasher.hash(purpose(kind), token))
    .where('kind', '=', kind)
    .executeTakeFirst();
  if (!row || row.ended_at !== null || tx.now >= row.expires_at) return undefined;
  return {
    id: row.id,
    kind,
    subjectId: row.subject_id,
    state: JSON.parse(row.state) as S,
    expiresAt: row.expires_at,
  };
}

/** Stores a session's next state; `end` closes it for good. */
export async function saveSession<S>(
  tx: Repositories,
  id: string,
  state: S,
  end = false,
): Promise<void> {
  await tx.db
    .updateTable('flow_sessions')
    .set({ state: JSON.stringify(state), updated_at: tx.now, ...(end ? { ended_at: tx.now } : {}) })
    .where('id', '=', id)
    .execute();
}

/** Ends every live session of a kind about one subject (e.g. other activations of the same user). */
export async function endSessionsOf(
  tx: Repositories,
  kind: SessionKind,
  subjectId: string,
  exceptId?: string,
): Promise<void> {
  let q = tx.db
    .updateTable('flow_sessions')
    .set({ ended_at: tx.now, updated_at: tx.now })
    .where('kind', '=', kind)
    .where('subject_id', '=', subjectId)
    .where('ended_at', 'is', null);
  if (exceptId !== undefined) q = q.where('id', '!=', exceptId);
  await q.execute();
}

/** Issues an API token for an administrator (shown once). */
export async function issueAdminToken(tx: Repositories, adminId: string): Promise<string> {
  await tx.admins.get(adminId);
  const token = newToken(32);
  await tx.db
    .insertInto('admin_tokens')
    .values({
      id: randomUUID(),
      admin_id: adminId,
      token_hash: tx.secrets.hasher.hash('admin-token', token),
      created_at: tx.now,
      revoked_at: null,
    })
    .execute();
  return token;
}

/** The administrator a bearer token belongs to, or undefined. */
export async function adminForToken(tx: Repositories, token: unknown): Promise<string | undefined> {
  if (typeof token !== 'string' || !TOKEN.test(token)) return undefined;
  const row = await tx.db
    .selectFrom('admin_tokens')
    .select(['admin_id', 'revoked_at'])
    .where('token_hash', '=', tx.secrets.hasher.hash('admin-token', token))
    .executeTakeFirst();
  return row && row.revoked_at === null ? row.admin_id : undefined;
}

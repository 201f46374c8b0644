/**
 * The code check behind logins with a code display or audio reader and the relying party's
 * validate call: whose user ID it is, their OTP device with its sealed seed, the check, and the
 * replay and lockout update, in few hand-written statements inside the caller's transaction.
 */
import type { OtpBinding, OtpVerifier } from '../otp/verify.js';
import { lockoutStatus } from './lockout.js';
import { userIdKey } from './rules.js';
import { Statement } from './store/db.js';
import type { PreparedOtpKeys } from './otp-keys.js';
import { recordAttemptSteps, StoreRuleError, type Repositories } from './store/repositories.js';
import { rows, runSteps, type StepContext, type Steps } from './store/steps.js';

/** The device kinds that show a one-time code. */
export type OtpKind = 'code-display' | 'audio-reader';

/** Whose MitID a user ID is: a citizen's private one, or a business user's separate one. */
export interface Identity {
  readonly kind: 'citizen' | 'business-user';
  readonly id: string;
}

/** How one code check ended; `serial` names the device when there was one. */
export type OtpAttempt =
  | { readonly ok: true; readonly serial: string }
  | { readonly ok: false; readonly reason: string; readonly serial?: string };

/** The verifiers of the two OTP kinds. */
export type OtpVerifiers = Readonly<Record<OtpKind, OtpVerifier>>;

/** What a code check needs besides the database: the verifiers and the prepared keys. */
export interface OtpChecks {
  readonly verifiers: OtpVerifiers;
  readonly keys: PreparedOtpKeys;
}

// Every MitID user ID is in one table (its primary key); a business user's row says whether the
// separate MitID is in use. One lookup answers both.
const IDENTITY = new Statement<IdentityRow>(
  'select u.owner_kind, u.owner_id, b.id as b_id, b.status as b_status, b.mitid_kind as b_mitid_kind' +
    ' from user_ids u left join business_users b' +
    " on u.owner_kind = 'business-user' and b.id = u.owner_id" +
    ' where u.user_id_key = ?',
);

interface IdentityRow {
  owner_kind: string;
  owner_id: string;
  b_id: string | null;
  b_status: string | null;
  b_mitid_kind: string | null;
}

/**
 * Whose MitID `userId` is: a citizen (private MitID), or a business user whose separate MitID
 * is activated; undefined for anything else (unknown, not yet activated, not a user ID at all).
 */
export async function findIdentity(
  tx: Repositories,
  userId: unknown,
): Promise<Identity | undefined> {
  const key = lookupKey(userId);
  if (key === undefined) return undefined;
  const { rows: found } = await tx.db.executeQuery(IDENTITY.compile(tx.engine, [key]));
  return identityOf(found[0]);
}

/** The key a typed user ID is looked up by; undefined when it cannot be a user ID. */
function lookupKey(userId: unknown): string | undefined {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > 100) return undefined;
  try {
    return userIdKey(userId);
  } catch {
    return undefined;
  }
}

/** Whose MitID a user_ids row (joined with its business user) names, if it is in use. */
function identityOf(row: IdentityRow | undefined): Identity | undefined {
  if (row === undefined) return undefined;
  if (row.owner_kind === 'citizen') return { kind: 'citizen', id: row.owner_id };
  // A user ID whose business user is gone: refused as the user repository refuses it.
  if (row.b_id === null) throw new StoreRuleError('unknown-user', 'no such user');
  return row.b_status === 'activated' && row.b_mitid_kind === 'separate'
    ? { kind: 'business-user', id: row.owner_id }
    : undefined;
}

// The owner's first active OTP device (an owner has at most one) with its inventory row.
const DEVICE_COLUMNS =
  'a.id, a.kind, a.serial, a.state, a.fail_count, a.total_fail_count, a.blocked_until,' +
  ' a.blocked_at, i.seed_sealed, i.params';
const INVENTORY_JOIN = 'left join inventory i on i.kind = a.kind and i.serial = a.serial';
const ACTIVE_OTP = "a.status = 'active' and a.kind in ('code-display', 'audio-reader')";
const OTP_DEVICE_SELECT =
  `select ${DEVICE_COLUMNS} from authenticators a ${INVENTORY_JOIN}` +
  ` where a.owner_kind = ? and a.owner_id = ? and ${ACTIVE_OTP}`;
const OTP_DEVICE = new Statement<OtpDeviceRow>(
  `${OTP_DEVICE_SELECT} order by a.created_at limit 1`,
);
const OTP_DEVICE_BY_ID = new Statement<OtpDeviceRow>(
  `${OTP_DEVICE_SELECT} and a.id = ? order by a.created_at limit 1`,
);
// Both lookups of a validate call in one: whose user ID it is and that owner's OTP device (the
// device columns are null when there is none; they are used only when the identity is in use).
const IDENTITY_AND_DEVICE = new Statement<IdentityRow & NullableDeviceRow>(
  'select u.owner_kind, u.owner_id, b.id as b_id, b.status as b_status,' +
    ` b.mitid_kind as b_mitid_kind, ${DEVICE_COLUMNS}` +
    ' from user_ids u left join business_users b' +
    " on u.owner_kind = 'business-user' and b.id = u.owner_id" +
    ` left join authenticators a on a.owner_kind = u.owner_kind and a.owner_id = u.owner_id and ${ACTIVE_OTP}` +
    ` ${INVENTORY_JOIN}` +
    ' where u.user_id_key = ? order by a.created_at limit 1',
);
const USE_UP_CODE = new Statement(
  'update authenticators set state = ?, updated_at = ? where id = ?',
);

interface OtpDeviceRow {
  id: string;
  kind: OtpKind;
  serial: string;
  state: string;
  fail_count: number;
  total_fail_count: number;
  blocked_until: number | null;
  blocked_at: number | null;
  seed_sealed: string | null;
  params: string | null;
}

/** What {@link otpAttempt} asks for. */
export interface OtpAttemptInput {
  readonly ownerKind: Identity['kind'];
  readonly ownerId: string;
  /** What was typed; anything but a string is checked as an empty code. */
  readonly code: unknown;
  /** False makes the attempt fail even with a right code (the code is still used up). */
  readonly passwordOk: boolean;
  /** Only this authenticator of the owner. */
  readonly authenticatorId?: string;
  /**
   * A right code with `passwordOk` uses the code up but leaves the failure counters as they are:
   * the whole login decides them later.
   */
  readonly partial?: boolean;
}

/**
 * Checks a code of an owner's code display or audio reader, with lockout: refused unchecked
 * while blocked; counted otherwise (3rd wrong in a row blocks for a while, continued failures
 * for good). The key is prepared once per device (PreparedOtpKeys: the seed opened, imported and
 * wiped). Runs inside the caller's transaction, which must be the one that commits the update.
 */
export function otpAttempt(
  tx: Repositories,
  checks: OtpChecks,
  input: OtpAttemptInput,
): Promise<OtpAttempt> {
  return runSteps(tx.db, tx.engine, otpAttemptSteps(tx, checks, input));
}

/** The steps of {@link otpAttempt}. */
function* otpAttemptSteps(
  ctx: StepContext,
  checks: OtpChecks,
  input: OtpAttemptInput,
): Steps<OtpAttempt> {
  const found = yield* rows(
    input.authenticatorId === undefined ? OTP_DEVICE : OTP_DEVICE_BY_ID,
    input.authenticatorId === undefined
      ? [input.ownerKind, input.ownerId]
      : [input.ownerKind, input.ownerId, input.authenticatorId],
  );
  return yield* attemptSteps(ctx, checks, found[0], input);
}

/** A validate call's outcome: whose user ID it was (if it is in use) and the check. */
export interface CodeCheck {
  readonly who: Identity | undefined;
  readonly out: OtpAttempt;
}

/**
 * The relying party's check of a user's code (no password step), as steps: whose user ID it is,
 * then {@link otpAttempt}'s check on their OTP device, with the two lookups made in one
 * statement. A user ID that is not in use is refused as `unknown-user-id` and no device is
 * touched.
 */
export function* checkUserCodeSteps(
  ctx: StepContext,
  checks: OtpChecks,
  userId: unknown,
  code: unknown,
): Steps<CodeCheck> {
  const key = lookupKey(userId);
  const found = key === undefined ? [] : yield* rows(IDENTITY_AND_DEVICE, [key]);
  const row = found[0];
  const who = identityOf(row);
  if (who === undefined) return { who, out: { ok: false, reason: 'unknown-user-id' } };
  const device = row !== undefined && row.id !== null ? (row as OtpDeviceRow) : undefined;
  const out = yield* attemptSteps(ctx, checks, device, {
    ownerKind: who.kind,
    ownerId: who.id,
    code,
    passwordOk: true,
  });
  return { who, out };
}

type NullableDeviceRow = { [K in keyof OtpDeviceRow]: OtpDeviceRow[K] | null };

/** {@link otpAttempt} on the device row read for it in this transaction. */
function* attemptSteps(
  ctx: StepContext,
  checks: OtpChecks,
  row: OtpDeviceRow | undefined,
  input: OtpAttemptInput,
): Steps<OtpAttempt> {
  if (row === undefined) return { ok: false, reason: 'no-otp-device' };
  const a = {
    id: row.id,
    failCount: Number(row.fail_count),
    totalFailCount: Number(row.total_fail_count),
    blockedUntil: row.blocked_until === null ? null : Number(row.blocked_until),
    blockedAt: row.blocked_at === null ? null : Number(row.blocked_at),
  };
  const status = lockoutStatus(a, ctx.now);
  if (status !== 'open') return { ok: false, reason: status, serial: row.serial };
  const state = JSON.parse(row.state) as OtpBinding['state'];
  const key = checks.keys.get(ctx.secrets, row.kind, row.serial, row.seed_sealed, row.params);
  if (key === undefined) return { ok: false, reason: 'seed-missing', serial: row.serial };
  const out = checks.verifiers[row.kind].verifyKey(
    key,
    state,
    {
      type: 'otp',
      serial: row.serial,
      code: typeof input.code === 'string' ? input.code : '',
      deviceTime: ctx.now,
    },
    { now: ctx.now },
  );
  const verified = out.verified && input.passwordOk;
  if (verified && input.partial === true) {
    // The code is used up (replay state), but the failure counters reset only when the whole
    // login succeeds: a wrong password after a right code must still count.
    yield* rows(USE_UP_CODE, [JSON.stringify(out.state), ctx.now, row.id]);
    return { ok: true, serial: row.serial };
  }
  yield* recordAttemptSteps(ctx, a, verified, out.verified ? out.state : state);
  if (verified) return { ok: true, serial: row.serial };
  return {
    ok: false,
    reason: out.verified ? 'wrong-password' : out.reason,
    serial: row.serial,
  };
}

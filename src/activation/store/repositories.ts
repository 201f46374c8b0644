/** Repositories over one transaction: every read and write of the service's state goes through these. */
import { randomInt, randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { constantTimeEqual, utf8 } from '../../core/bytes.js';
import { isAuthenticatorKind, type AuthenticatorKind } from '../../core/authenticator.js';
import {
  afterAttempt,
  defaultLockoutPolicy,
  lockoutStatus,
  type LockoutPolicy,
  type LockoutState,
  type LockoutStatus,
} from '../lockout.js';
import {
  can,
  checkOrganisationSettings,
  changeOrganisationSettings,
  defaultOrganisationSettings,
  isRole,
  type OrganisationSettings,
  type OrganisationSettingsPatch,
  type Role,
  type SettingsChange,
} from '../roles.js';
import {
  ACTIVATION_CODE_ALPHABET,
  ACTIVATION_CODE_LENGTH,
  checkBirthDate,
  checkCpr,
  checkCvr,
  checkEmail,
  checkName,
  checkPhone,
  checkUserId,
  cprBirthDate,
  normaliseActivationCode,
  normaliseCpr,
  normalisePhone,
  userIdKey,
} from '../rules.js';
import { ActivationError, assertNoViolations, violation } from '../violations.js';
import { Statement } from './db.js';
import type { Engine } from './migrations.js';
import type { Database, Flag } from './schema.js';
import { newToken, type Secrets } from './secrets.js';
import { rows, runSteps, type StepContext, type Steps } from './steps.js';
import type { OtpKey } from '../../otp/types.js';

/** Something went wrong that is the caller's to fix: unknown id, taken user ID, limit reached. */
export class StoreRuleError extends ActivationError {}

const DAY = 86_400_000;

/** How long things last. The activation link's 30 days and the codes' lifetimes are MITID.md's. */
export interface Lifetimes {
  /** Activation e-mail link: 30 days. */
  readonly linkMs: number;
  /** Activation code handed over by an administrator (a paper code): 48 hours. */
  readonly handoverCodeMs: number;
  /** Activation code for the app shown during activation (as an SMS code): 30 minutes. */
  readonly appCodeMs: number;
  /** SMS verification code for a phone number: 30 minutes. */
  readonly smsCodeMs: number;
}

/** The published lifetimes. */
export const defaultLifetimes: Lifetimes = Object.freeze({
  linkMs: 30 * DAY,
  handoverCodeMs: 2 * DAY,
  appCodeMs: 30 * 60_000,
  smsCodeMs: 30 * 60_000,
});

/** Wrong tries that block an activation code or SMS code (MITID.md: 3). */
export const CODE_TRIES = 3;

/** Settings a store's repositories follow. */
export interface RepositoryConfig {
  readonly lifetimes: Lifetimes;
  readonly lockout: LockoutPolicy;
  /** Accept only fictitious CVR numbers (starting with 9). */
  readonly fictitiousCvrOnly: boolean;
}

/** The default repository configuration. */
export const defaultRepositoryConfig: RepositoryConfig = Object.freeze({
  lifetimes: defaultLifetimes,
  lockout: defaultLockoutPolicy,
  fictitiousCvrOnly: true,
});

type Executor = Kysely<Database> | Transaction<Database>;

const flag = (b: boolean): Flag => (b ? 1 : 0);

// ---------------------------------------------------------------------------------------------
// Public row shapes (never a secret; CPR numbers only through an explicit call).

export interface Organisation {
  readonly id: string;
  readonly cvr: string;
  readonly name: string;
  readonly createdAt: number;
}

export interface Admin {
  readonly id: string;
  readonly organisationId: string;
  readonly name: string;
  readonly email: string;
  readonly role: Role;
}

export type UserStatus = 'created' | 'activated' | 'blocked';

export interface BusinessUser {
  readonly id: string;
  readonly organisationId: string;
  readonly firstName: string;
  readonly surname: string;
  readonly email: string;
  readonly phone: string | null;
  readonly identifiedBy: 'cpr' | 'birth-date';
  readonly birthDate: string | null;
  readonly status: UserStatus;
  readonly separateAllowed: boolean;
  readonly mitidKind: 'private' | 'separate' | null;
  readonly citizenId: string | null;
  readonly userId: string | null;
  readonly createdBy: string | null;
  readonly createdAt: number;
  readonly activatedAt: number | null;
}

export interface Citizen {
  readonly id: string;
  readonly name: string;
  readonly birthDate: string;
  readonly userId: string;
  readonly createdAt: number;
}

export interface InventoryItem {
  readonly id: string;
  readonly organisationId: string | null;
  readonly kind: 'code-display' | 'audio-reader' | 'chip';
  readonly serial: string;
  readonly status: 'available' | 'ordered' | 'bound' | 'retired';
  /** Public OTP parameters; null for chips. */
  readonly params: Omit<OtpKey, 'secret' | 'serial'> | null;
  readonly importedAt: number;
}

export interface DeviceOrder {
  readonly id: string;
  readonly organisationId: string;
  readonly businessUserId: string;
  readonly kind: InventoryItem['kind'];
  readonly inventoryId: string | null;
  readonly serial: string | null;
  readonly orderedBy: string;
  readonly status: 'ordered' | 'delivered' | 'cancelled';
  readonly createdAt: number;
}

export interface BoundAuthenticator<B = unknown, S = unknown> extends LockoutState {
  readonly id: string;
  readonly ownerKind: 'citizen' | 'business-user';
  readonly ownerId: string;
  readonly kind: AuthenticatorKind;
  readonly serial: string;
  readonly binding: B;
  readonly state: S;
  readonly status: 'active' | 'revoked';
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** Why a link or code was not accepted; the user sees one generic message, the audit log this. */
export type CodeRefusal =
  'unknown' | 'used' | 'superseded' | 'expired' | 'blocked' | 'wrong' | 'malformed';

export type LinkOutcome =
  | { readonly ok: true; readonly businessUserId: string; readonly linkId: string }
  | { readonly ok: false; readonly reason: CodeRefusal; readonly businessUserId?: string };

export type CodeOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: CodeRefusal; readonly triesLeft: number };

/** Who did something, for the audit log. */
export interface Actor {
  readonly kind: 'admin' | 'business-user' | 'citizen' | 'system' | 'anonymous';
  readonly id?: string | null;
}

/** One audit entry as written. `detail` holds plain, non-secret facts only. */
export interface AuditEntry {
  readonly actor: Actor;
  readonly action: string;
  readonly outcome: string;
  readonly organisationId?: string | null;
  readonly subjectId?: string | null;
  readonly serial?: string | null;
  readonly detail?: Readonly<Record<string, string | number | boolean | null>>;
}

/** One audit entry as read back. */
export interface AuditRecord extends Required<Omit<AuditEntry, 'detail' | 'actor'>> {
  readonly id: number;
  readonly at: number;
  readonly actor: { readonly kind: string; readonly id: string | null };
  readonly detail: Record<string, string | number | boolean | null> | null;
}

/** Detail keys that would name a secret: refused outright, so a careless caller fails loudly in tests. */
const SECRET_KEY = /code|pin|pass|token|seed|secret|cpr|key|otp/i;
/**
 * Values shaped like a secret: a CPR number standing alone anywhere in the text, or a value that
 * is nothing but 6 or more digits (a code or PIN). Ids (UUIDs) pass: their digit runs touch letters
 * or are split by hyphens differently; so do E.164 phone numbers (after a +).
 */
const SECRET_VALUE = /(?<![0-9A-Za-z+])\d{6}-?\d{4}(?![0-9A-Za-z])|^\d{6,}$/;

// ---------------------------------------------------------------------------------------------

/**
 * Every repository, bound to one executor (normally a transaction from Store.transaction) and the
 * transaction's `now`. Methods validate their input with the rules and throw RuleError or
 * StoreRuleError with a stable code; secrets go in sealed or hashed and come out only through
 * calls that say so (`cprOf`, `otpKey`).
 */
export class Repositories implements StepContext {
  readonly organisations: OrganisationRepo;
  readonly admins: AdminRepo;
  readonly users: BusinessUserRepo;
  readonly citizens: CitizenRepo;
  readonly links: ActivationLinkRepo;
  readonly codes: ActivationCodeRepo;
  readonly inventory: InventoryRepo;
  readonly orders: DeviceOrderRepo;
  readonly authenticators: AuthenticatorRepo;
  readonly phones: PhoneVerificationRepo;
  readonly audit: AuditRepo;
  readonly rateLimits: RateLimitRepo;
  readonly shares: MitidShareRepo;

  constructor(
    readonly db: Executor,
    readonly engine: Engine,
    readonly secrets: Secrets,
    readonly now: number,
    readonly config: RepositoryConfig = defaultRepositoryConfig,
  ) {
    this.organisations = new OrganisationRepo(this);
    this.admins = new AdminRepo(this);
    this.users = new BusinessUserRepo(this);
    this.citizens = new CitizenRepo(this);
    this.links = new ActivationLinkRepo(this);
    this.codes = new ActivationCodeRepo(this);
    this.inventory = new InventoryRepo(this);
    this.orders = new DeviceOrderRepo(this);
    this.authenticators = new AuthenticatorRepo(this);
    this.phones = new PhoneVerificationRepo(this);
    this.audit = new AuditRepo(this);
    this.rateLimits = new RateLimitRepo(this);
    this.shares = new MitidShareRepo(this);
  }
}

function notFound(what: string): StoreRuleError {
  return new StoreRuleError(`unknown-${what}`, `no such ${what}`);
}

/** Ids are short strings; anything else names nothing (and must not reach the driver). */
function checkId(id: unknown, what: string): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > 100) throw notFound(what);
}

// ---------------------------------------------------------------------------------------------

class OrganisationRepo {
  constructor(private readonly r: Repositories) {}

  /** Creates an organisation with default (or given) settings. */
  async create(input: {
    cvr: string;
    name: string;
    settings?: OrganisationSettings;
  }): Promise<Organisation> {
    assertNoViolations([
      ...checkCvr(input.cvr, { fictitiousOnly: this.r.config.fictitiousCvrOnly }),
      ...checkName(input.name, 'name'),
    ]);
    const settings = input.settings ?? defaultOrganisationSettings;
    assertNoViolations(checkOrganisationSettings(settings));
    const existing = await this.r.db
      .selectFrom('organisations')
      .select('id')
      .where('cvr', '=', input.cvr)
      .executeTakeFirst();
    if (existing)
      throw new StoreRuleError('cvr-taken', 'an organisation with this CVR number exists');
    const org: Organisation = {
      id: randomUUID(),
      cvr: input.cvr,
      name: input.name.trim(),
      createdAt: this.r.now,
    };
    await this.r.db
      .insertInto('organisations')
      .values({ id: org.id, cvr: org.cvr, name: org.name, created_at: org.createdAt })
      .execute();
    await this.r.db
      .insertInto('organisation_settings')
      .values({
        organisation_id: org.id,
        private_allowed: flag(settings.privateMitIdAllowed),
        separate_authenticators: JSON.stringify(settings.separateAuthenticators),
        preselected: settings.preselected,
        updated_at: this.r.now,
        updated_by: null,
      })
      .execute();
    return org;
  }

  async get(id: string): Promise<Organisation> {
    checkId(id, 'organisation');
    const row = await this.r.db
      .selectFrom('organisations')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound('organisation');
    return { id: row.id, cvr: row.cvr, name: row.name, createdAt: row.created_at };
  }

  async byCvr(cvr: string): Promise<Organisation | undefined> {
    const row = await this.r.db
      .selectFrom('organisations')
      .selectAll()
      .where('cvr', '=', cvr)
      .executeTakeFirst();
    return row && { id: row.id, cvr: row.cvr, name: row.name, createdAt: row.created_at };
  }

  async list(): Promise<Organisation[]> {
    const rows = await this.r.db.selectFrom('organisations').selectAll().orderBy('cvr').execute();
    return rows.map((row) => ({
      id: row.id,
      cvr: row.cvr,
      name: row.name,
      createdAt: row.created_at,
    }));
  }

  async settings(organisationId: string): Promise<OrganisationSettings> {
    const row = await this.r.db
      .selectFrom('organisation_settings')
      .selectAll()
      .where('organisation_id', '=', organisationId)
      .executeTakeFirst();
    if (!row) throw notFound('organisation');
    const offered = JSON.parse(row.separate_authenticators) as unknown[];
    return {
      privateMitIdAllowed: row.private_allowed === 1,
      separateAuthenticators: offered.filter(isAuthenticatorKind),
      preselected: isAuthenticatorKind(row.preselected) ? row.preselected : 'app',
    };
  }

  /**
   * Changes settings on behalf of `admin` (only an organisation administrator of this
   * organisation may). A refusal is a result, not an exception, so its audit entry commits.
   */
  async changeSettings(
    organisationId: string,
    patch: OrganisationSettingsPatch,
    admin: Admin,
  ): Promise<SettingsChange> {
    const actor = { kind: 'admin', id: admin.id } as const;
    const result: SettingsChange =
      admin.organisationId !== organisationId
        ? {
            ok: false,
            violations: [
              violation(
                'role',
                'forbidden',
                'Administratoren hører til en anden organisation.',
                'The administrator belongs to another organisation.',
              ),
            ],
          }
        : changeOrganisationSettings(await this.settings(organisationId), patch, admin.role);
    if (!result.ok) {
      await this.r.audit.record({
        actor,
        action: 'org.settings.change',
        outcome: result.violations[0]?.code ?? 'invalid',
        organisationId,
      });
      return result;
    }
    const s = result.settings;
    await this.r.db
      .updateTable('organisation_settings')
      .set({
        private_allowed: flag(s.privateMitIdAllowed),
        separate_authenticators: JSON.stringify(s.separateAuthenticators),
        preselected: s.preselected,
        updated_at: this.r.now,
        updated_by: admin.id,
      })
      .where('organisation_id', '=', organisationId)
      .execute();
    await this.r.audit.record({
      actor,
      action: 'org.settings.change',
      outcome: 'ok',
      organisationId,
      detail: {
        privateMitIdAllowed: s.privateMitIdAllowed,
        offered: s.separateAuthenticators.join(','),
        preselected: s.preselected,
      },
    });
    return result;
  }
}

// ---------------------------------------------------------------------------------------------

class AdminRepo {
  constructor(private readonly r: Repositories) {}

  async create(input: {
    organisationId: string;
    name: string;
    email: string;
    role: Role;
  }): Promise<Admin> {
    assertNoViolations([...checkName(input.name, 'name'), ...checkEmail(input.email)]);
    if (!isRole(input.role) || input.role === 'user') {
      assertNoViolations([
        violation(
          'role',
          'role-unknown',
          'Ukendt administratorrolle.',
          'Unknown administrator role.',
        ),
      ]);
    }
    await this.r.organisations.get(input.organisationId);
    const admin: Admin = {
      id: randomUUID(),
      organisationId: input.organisationId,
      name: input.name.trim(),
      email: input.email,
      role: input.role,
    };
    await this.r.db
      .insertInto('admins')
      .values({
        id: admin.id,
        organisation_id: admin.organisationId,
        name: admin.name,
        email: admin.email,
        role: admin.role,
        created_at: this.r.now,
      })
      .execute();
    return admin;
  }

  async get(id: string): Promise<Admin> {
    checkId(id, 'admin');
    const row = await this.r.db
      .selectFrom('admins')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row || !isRole(row.role)) throw notFound('admin');
    return {
      id: row.id,
      organisationId: row.organisation_id,
      name: row.name,
      email: row.email,
      role: row.role,
    };
  }

  /** The organisation's administrators holding `role` (the activation e-mail names the user administrators). */
  async list(organisationId: string, role?: Role): Promise<Admin[]> {
    let q = this.r.db
      .selectFrom('admins')
      .selectAll()
      .where('organisation_id', '=', organisationId);
    if (role !== undefined) q = q.where('role', '=', role);
    const rows = await q.orderBy('name').execute();
    return rows.flatMap((row) =>
      isRole(row.role)
        ? [
            {
              id: row.id,
              organisationId: row.organisation_id,
              name: row.name,
              email: row.email,
              role: row.role,
            },
          ]
        : [],
    );
  }
}

// ---------------------------------------------------------------------------------------------

type UserRow = Database['business_users'];

function toUser(
  row: Omit<UserRow, 'cpr_sealed' | 'cpr_hash' | 'password_hash' | 'user_id_key'>,
): BusinessUser {
  return {
    id: row.id,
    organisationId: row.organisation_id,
    firstName: row.first_name,
    surname: row.surname,
    email: row.email,
    phone: row.phone,
    identifiedBy: row.identified_by === 'cpr' ? 'cpr' : 'birth-date',
    birthDate: row.birth_date,
    status: row.status as UserStatus,
    separateAllowed: row.separate_allowed === 1,
    mitidKind:
      row.mitid_kind === 'private' || row.mitid_kind === 'separate' ? row.mitid_kind : null,
    citizenId: row.citizen_id,
    userId: row.user_id,
    createdBy: row.created_by,
    createdAt: row.created_at,
    activatedAt: row.activated_at,
  };
}

const USER_PUBLIC = [
  'id',
  'organisation_id',
  'first_name',
  'surname',
  'email',
  'phone',
  'identified_by',
  'birth_date',
  'status',
  'separate_allowed',
  'mitid_kind',
  'citizen_id',
  'user_id',
  'created_by',
  'created_at',
  'activated_at',
] as const;

/** Input for creating a business user: exactly one of `cpr` and `birthDate`. */
export interface NewBusinessUser {
  readonly organisationId: string;
  readonly firstName: string;
  readonly surname: string;
  readonly email: string;
  readonly phone?: string;
  readonly cpr?: string;
  readonly birthDate?: string;
  /** The creating administrator's id. */
  readonly createdBy?: string;
  /** False to set the user up for private MitID only. Default true. */
  readonly separateAllowed?: boolean;
}

class BusinessUserRepo {
  constructor(private readonly r: Repositories) {}

  /** Creates a user (MITID.md: by CPR or by date of birth). The CPR is sealed and hashed, never stored plain. */
  async create(input: NewBusinessUser): Promise<BusinessUser> {
    const today = new Date(this.r.now).toISOString().slice(0, 10);
    const v = [
      ...checkName(input.firstName, 'firstName'),
      ...checkName(input.surname, 'surname'),
      ...checkEmail(input.email),
    ];
    if (input.phone !== undefined) v.push(...checkPhone(input.phone));
    if ((input.cpr === undefined) === (input.birthDate === undefined)) {
      v.push(
        violation(
          'cpr',
          'cpr-or-birth-date',
          'Angiv enten CPR-nummer eller fødselsdato.',
          'Give either a CPR number or a date of birth.',
        ),
      );
    }
    if (input.cpr !== undefined) v.push(...checkCpr(input.cpr));
    if (input.birthDate !== undefined) v.push(...checkBirthDate(input.birthDate, { today }));
    assertNoViolations(v);
    await this.r.organisations.get(input.organisationId);
    const id = randomUUID();
    const cpr = input.cpr === undefined ? undefined : normaliseCpr(input.cpr);
    const cprHash = cpr === undefined ? null : this.r.secrets.hasher.hash('cpr', cpr);
    if (cprHash !== null) {
      const dup = await this.r.db
        .selectFrom('business_users')
        .select('id')
        .where('organisation_id', '=', input.organisationId)
        .where('cpr_hash', '=', cprHash)
        .executeTakeFirst();
      if (dup)
        throw new StoreRuleError(
          'user-exists',
          'this person is already a user in the organisation',
        );
    }
    const row: UserRow = {
      id,
      organisation_id: input.organisationId,
      first_name: input.firstName.trim(),
      surname: input.surname.trim(),
      email: input.email,
      phone: input.phone === undefined ? null : (normalisePhone(input.phone) ?? null),
      identified_by: cpr === undefined ? 'birth-date' : 'cpr',
      cpr_sealed: cpr === undefined ? null : this.r.secrets.box.sealString(cpr, `cpr:${id}`),
      cpr_hash: cprHash,
      birth_date: cpr === undefined ? (input.birthDate ?? null) : (cprBirthDate(cpr) ?? null),
      status: 'created',
      separate_allowed: flag(input.separateAllowed ?? true),
      mitid_kind: null,
      citizen_id: null,
      user_id: null,
      user_id_key: null,
      password_hash: null,
      created_by: input.createdBy ?? null,
      created_at: this.r.now,
      activated_at: null,
    };
    await this.r.db.insertInto('business_users').values(row).execute();
    return toUser(row);
  }

  async get(id: string): Promise<BusinessUser> {
    checkId(id, 'user');
    const row = await this.r.db
      .selectFrom('business_users')
      .select(USER_PUBLIC)
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound('user');
    return toUser(row);
  }

  async list(organisationId: string): Promise<BusinessUser[]> {
    const rows = await this.r.db
      .selectFrom('business_users')
      .select(USER_PUBLIC)
      .where('organisation_id', '=', organisationId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toUser);
  }

  /** The user's CPR number, opened from its envelope (for the service's own checks; never log it). */
  async cprOf(id: string): Promise<string | undefined> {
    const row = await this.r.db
      .selectFrom('business_users')
      .select(['cpr_sealed'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound('user');
    return row.cpr_sealed === null
      ? undefined
      : this.r.secrets.box.openString(row.cpr_sealed, `cpr:${id}`);
  }

  /** True when `cpr` is this user's CPR number (compared by keyed hash, in constant time). */
  async cprMatches(id: string, cpr: string): Promise<boolean> {
    const row = await this.r.db
      .selectFrom('business_users')
      .select(['cpr_hash'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound('user');
    const n = normaliseCpr(cpr);
    return (
      row.cpr_hash !== null &&
      n !== undefined &&
      this.r.secrets.hasher.matches('cpr', n, row.cpr_hash)
    );
  }

  /**
   * True when the private MitID `citizenId` belongs to the same person as this user (created by
   * CPR): the keyed CPR hashes are compared in constant time, neither CPR is opened.
   */
  async cprMatchesCitizen(id: string, citizenId: string): Promise<boolean> {
    const row = await this.r.db
      .selectFrom('business_users')
      .select(['cpr_hash'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound('user');
    const theirs = await this.r.citizens.cprHash(citizenId);
    return row.cpr_hash !== null && constantTimeEqual(utf8(row.cpr_hash), utf8(theirs));
  }

  async setSeparateAllowed(id: string, allowed: boolean): Promise<void> {
    const res = await this.r.db
      .updateTable('business_users')
      .set({ separate_allowed: flag(allowed) })
      .where('id', '=', id)
      .executeTakeFirst();
    if (res.numUpdatedRows === 0n) throw notFound('user');
  }

  /**
   * Marks the user activated, once: the update is conditional on status `created`, so of two
   * racing activations only one changes a row. Returns false when the user was not `created`.
   */
  async markActivated(
    id: string,
    input: {
      mitidKind: 'private' | 'separate';
      citizenId: string;
      userId?: string;
      passwordHash?: string;
      phone?: string;
    },
  ): Promise<boolean> {
    const res = await this.r.db
      .updateTable('business_users')
      .set({
        status: 'activated',
        mitid_kind: input.mitidKind,
        citizen_id: input.citizenId,
        user_id: input.userId ?? null,
        user_id_key: input.userId === undefined ? null : userIdKey(input.userId),
        password_hash: input.passwordHash ?? null,
        ...(input.phone === undefined ? {} : { phone: normalisePhone(input.phone) ?? null }),
        activated_at: this.r.now,
      })
      .where('id', '=', id)
      .where('status', '=', 'created')
      .executeTakeFirst();
    return res.numUpdatedRows === 1n;
  }

  /** The password hash of a separate MitID (for login checks). */
  async passwordHash(id: string): Promise<string | null> {
    const row = await this.r.db
      .selectFrom('business_users')
      .select('password_hash')
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound('user');
    return row.password_hash;
  }

  /** The business user holding a separate MitID with this user ID. */
  async byUserId(userId: string): Promise<BusinessUser | undefined> {
    const row = await this.r.db
      .selectFrom('business_users')
      .select(USER_PUBLIC)
      .where('user_id_key', '=', userIdKey(userId))
      .executeTakeFirst();
    return row && toUser(row);
  }

  /** Reserves a user ID for a separate MitID (checked by the rules, unique across every MitID). */
  async reserveUserId(id: string, userId: string): Promise<void> {
    const cpr = await this.cprOf(id);
    assertNoViolations(checkUserId(userId, cpr === undefined ? {} : { cpr }));
    await reserveUserIdKey(this.r, userIdKey(userId), 'business-user', id);
  }
}

async function reserveUserIdKey(
  r: Repositories,
  key: string,
  ownerKind: 'citizen' | 'business-user',
  ownerId: string,
): Promise<void> {
  const taken = await r.db
    .selectFrom('user_ids')
    .select('owner_id')
    .where('user_id_key', '=', key)
    .executeTakeFirst();
  if (taken) {
    if (taken.owner_id === ownerId) return;
    throw new StoreRuleError('user-id-taken', 'this user ID is taken');
  }
  await r.db
    .insertInto('user_ids')
    .values({ user_id_key: key, owner_kind: ownerKind, owner_id: ownerId, created_at: r.now })
    .execute();
}

// ---------------------------------------------------------------------------------------------

class CitizenRepo {
  constructor(private readonly r: Repositories) {}

  /** Registers a private MitID identity (fixtures and the emulated MitID login use these). */
  async create(input: {
    cpr: string;
    name: string;
    userId: string;
    passwordHash?: string;
  }): Promise<Citizen> {
    assertNoViolations([
      ...checkCpr(input.cpr),
      ...checkName(input.name, 'name'),
      ...checkUserId(input.userId, { cpr: input.cpr }),
    ]);
    const cpr = normaliseCpr(input.cpr) as string;
    const cprHash = this.r.secrets.hasher.hash('cpr', cpr);
    const dup = await this.r.db
      .selectFrom('citizens')
      .select('id')
      .where('cpr_hash', '=', cprHash)
      .executeTakeFirst();
    if (dup) throw new StoreRuleError('citizen-exists', 'this person already has a private MitID');
    const id = randomUUID();
    const key = userIdKey(input.userId);
    await reserveUserIdKey(this.r, key, 'citizen', id);
    const c: Citizen = {
      id,
      name: input.name.trim(),
      birthDate: cprBirthDate(cpr) as string,
      userId: input.userId.normalize('NFC'),
      createdAt: this.r.now,
    };
    await this.r.db
      .insertInto('citizens')
      .values({
        id,
        cpr_sealed: this.r.secrets.box.sealString(cpr, `citizen-cpr:${id}`),
        cpr_hash: cprHash,
        birth_date: c.birthDate,
        name: c.name,
        user_id: c.userId,
        user_id_key: key,
        password_hash: input.passwordHash ?? null,
        created_at: c.createdAt,
      })
      .execute();
    return c;
  }

  async get(id: string): Promise<Citizen> {
    checkId(id, 'citizen');
    const row = await this.r.db
      .selectFrom('citizens')
      .select(['id', 'name', 'birth_date', 'user_id', 'created_at'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound('citizen');
    return {
      id: row.id,
      name: row.name,
      birthDate: row.birth_date,
      userId: row.user_id,
      createdAt: row.created_at,
    };
  }

  async byUserId(userId: string): Promise<Citizen | undefined> {
    const row = await this.r.db
      .selectFrom('citizens')
      .select(['id', 'name', 'birth_date', 'user_id', 'created_at'])
      .where('user_id_key', '=', userIdKey(userId))
      .executeTakeFirst();
    return (
      row && {
        id: row.id,
        name: row.name,
        birthDate: row.birth_date,
        userId: row.user_id,
        createdAt: row.created_at,
      }
    );
  }

  /** The keyed hash of the citizen's CPR: lets the service match a business user without opening either. */
  async cprHash(id: string): Promise<string> {
    const row = await this.r.db
      .selectFrom('citizens')
      .select('cpr_hash')
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound('citizen');
    return row.cpr_hash;
  }

  async passwordHash(id: string): Promise<string | null> {
    const row = await this.r.db
      .selectFrom('citizens')
      .select('password_hash')
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound('citizen');
    return row.password_hash;
  }
}

// ---------------------------------------------------------------------------------------------

class ActivationLinkRepo {
  constructor(private readonly r: Repositories) {}

  /**
   * Issues a new activation link token for a user (256 random bits; only its keyed hash is
   * stored). Every earlier live link of the user is superseded: after a resend the old link
   * stops working (MITID.md).
   */
  async issue(
    businessUserId: string,
  ): Promise<{ token: string; linkId: string; expiresAt: number }> {
    await this.r.users.get(businessUserId);
    await this.r.db
      .updateTable('activation_links')
      .set({ superseded_at: this.r.now })
      .where('business_user_id', '=', businessUserId)
      .where('used_at', 'is', null)
      .where('superseded_at', 'is', null)
      .execute();
    const token = newToken(32);
    const linkId = randomUUID();
    const expiresAt = this.r.now + this.r.config.lifetimes.linkMs;
    await this.r.db
      .insertInto('activation_links')
      .values({
        id: linkId,
        business_user_id: businessUserId,
        token_hash: this.r.secrets.hasher.hash('activation-link', token),
        created_at: this.r.now,
        expires_at: expiresAt,
        used_at: null,
        superseded_at: null,
      })
      .execute();
    return { token, linkId, expiresAt };
  }

  async #find(token: string) {
    if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{22,128}$/.test(token)) return undefined;
    // The lookup is by keyed hash: an attacker learns nothing from its timing about other tokens.
    return this.r.db
      .selectFrom('activation_links')
      .selectAll()
      .where('token_hash', '=', this.r.secrets.hasher.hash('activation-link', token))
      .executeTakeFirst();
  }

  /** What a link would do now, without using it (the activation page shows the organisation). */
  async inspect(token: string): Promise<LinkOutcome> {
    const row = await this.#find(token);
    if (!row)
      return {
        ok: false,
        reason:
          typeof token === 'string' && /^[A-Za-z0-9_-]{22,128}$/.test(token)
            ? 'unknown'
            : 'malformed',
      };
    const reason =
      row.used_at !== null
        ? 'used'
        : row.superseded_at !== null
          ? 'superseded'
          : this.r.now >= row.expires_at
            ? 'expired'
            : undefined;
    return reason === undefined
      ? { ok: true, businessUserId: row.business_user_id, linkId: row.id }
      : { ok: false, reason, businessUserId: row.business_user_id };
  }

  /**
   * Uses a link, once. The update is conditional on the link still being unused, and the caller's
   * transaction is serialisable: of two concurrent consumers exactly one gets `ok`.
   */
  async consume(token: string): Promise<LinkOutcome> {
    const seen = await this.inspect(token);
    if (!seen.ok) return seen;
    const res = await this.r.db
      .updateTable('activation_links')
      .set({ used_at: this.r.now })
      .where('id', '=', seen.linkId)
      .where('used_at', 'is', null)
      .where('superseded_at', 'is', null)
      .executeTakeFirst();
    if (res.numUpdatedRows !== 1n)
      return { ok: false, reason: 'used', businessUserId: seen.businessUserId };
    return seen;
  }
}

// ---------------------------------------------------------------------------------------------

/** A new activation code in the shape of rules.ts (uniform over the alphabet, by rejection-free randomInt). */
export function newActivationCode(): string {
  let s = '';
  for (let i = 0; i < ACTIVATION_CODE_LENGTH; i++)
    s += ACTIVATION_CODE_ALPHABET[randomInt(ACTIVATION_CODE_ALPHABET.length)];
  return s;
}

/** A new numeric code of `digits` digits (SMS codes, temporary PINs). */
export function newNumericCode(digits: number): string {
  let s = '';
  for (let i = 0; i < digits; i++) s += String(randomInt(10));
  return s;
}

export type ActivationCodePurpose = 'handover' | 'app';

class ActivationCodeRepo {
  constructor(private readonly r: Repositories) {}

  /** Issues a code (superseding earlier ones of the same purpose). The plaintext is returned once. */
  async issue(
    businessUserId: string,
    purpose: ActivationCodePurpose,
  ): Promise<{ code: string; expiresAt: number }> {
    await this.r.users.get(businessUserId);
    await this.r.db
      .updateTable('activation_codes')
      .set({ superseded_at: this.r.now })
      .where('business_user_id', '=', businessUserId)
      .where('purpose', '=', purpose)
      .where('superseded_at', 'is', null)
      .execute();
    const code = newActivationCode();
    const expiresAt =
      this.r.now +
      (purpose === 'handover'
        ? this.r.config.lifetimes.handoverCodeMs
        : this.r.config.lifetimes.appCodeMs);
    await this.r.db
      .insertInto('activation_codes')
      .values({
        id: randomUUID(),
        business_user_id: businessUserId,
        purpose,
        code_hash: this.r.secrets.hasher.hash(`activation-code:${businessUserId}`, code),
        created_at: this.r.now,
        expires_at: expiresAt,
        tries: 0,
        blocked_at: null,
        used_at: null,
        superseded_at: null,
      })
      .execute();
    return { code: `${code.slice(0, 4)}-${code.slice(4)}`, expiresAt };
  }

  /** True when the user has a live (unused, unblocked, unexpired) code of this purpose. */
  async pending(businessUserId: string, purpose: ActivationCodePurpose): Promise<boolean> {
    const row = await this.#current(businessUserId, purpose);
    return (
      row !== undefined &&
      row.used_at === null &&
      row.blocked_at === null &&
      this.r.now < row.expires_at
    );
  }

  #current(businessUserId: string, purpose: ActivationCodePurpose) {
    return this.r.db
      .selectFrom('activation_codes')
      .selectAll()
      .where('business_user_id', '=', businessUserId)
      .where('purpose', '=', purpose)
      .where('superseded_at', 'is', null)
      .executeTakeFirst();
  }

  /**
   * Checks a typed code: a match uses it; a wrong one counts a try and the third blocks it
   * (MITID.md). A malformed entry counts too: it is a guess like any other.
   */
  async check(
    businessUserId: string,
    purpose: ActivationCodePurpose,
    typed: string,
  ): Promise<CodeOutcome> {
    const row = await this.#current(businessUserId, purpose);
    if (!row) return { ok: false, reason: 'unknown', triesLeft: 0 };
    const left = Math.max(0, CODE_TRIES - row.tries);
    if (row.used_at !== null) return { ok: false, reason: 'used', triesLeft: 0 };
    if (row.blocked_at !== null) return { ok: false, reason: 'blocked', triesLeft: 0 };
    if (this.r.now >= row.expires_at) return { ok: false, reason: 'expired', triesLeft: left };
    const canonical = normaliseActivationCode(typed) ?? '';
    const good = this.r.secrets.hasher.matches(
      `activation-code:${businessUserId}`,
      canonical,
      row.code_hash,
    );
    if (good) {
      const res = await this.r.db
        .updateTable('activation_codes')
        .set({ used_at: this.r.now })
        .where('id', '=', row.id)
        .where('used_at', 'is', null)
        .where('blocked_at', 'is', null)
        .executeTakeFirst();
      return res.numUpdatedRows === 1n ? { ok: true } : { ok: false, reason: 'used', triesLeft: 0 };
    }
    const tries = row.tries + 1;
    await this.r.db
      .updateTable('activation_codes')
      .set({ tries, blocked_at: tries >= CODE_TRIES ? this.r.now : null })
      .where('id', '=', row.id)
      .execute();
    return tries >= CODE_TRIES
      ? { ok: false, reason: 'blocked', triesLeft: 0 }
      : {
          ok: false,
          reason: canonical === '' ? 'malformed' : 'wrong',
          triesLeft: CODE_TRIES - tries,
        };
  }
}

// ---------------------------------------------------------------------------------------------

type InventoryRow = Database['inventory'];

function toItem(row: Omit<InventoryRow, 'seed_sealed'>): InventoryItem {
  return {
    id: row.id,
    organisationId: row.organisation_id,
    kind: row.kind as InventoryItem['kind'],
    serial: row.serial,
    status: row.status as InventoryItem['status'],
    params: row.params === null ? null : (JSON.parse(row.params) as InventoryItem['params']),
    importedAt: row.imported_at,
  };
}

const INVENTORY_PUBLIC = [
  'id',
  'organisation_id',
  'kind',
  'serial',
  'params',
  'status',
  'imported_at',
] as const;
const SERIAL = /^[A-Za-z0-9._:-]{1,64}$/;

function seedContext(kind: string, serial: string): string {
  return `seed:${kind}:${serial}`;
}

/**
 * The OTP key of an inventory row read by the caller (kind, serial, sealed seed, parameters as
 * stored), its seed opened for this one use; undefined when the row carries no seed.
 */
export function openOtpKey(
  secrets: Secrets,
  kind: string,
  serial: string,
  seedSealed: string | null,
  params: string | null,
): OtpKey | undefined {
  if (seedSealed === null || params === null) return undefined;
  const p = JSON.parse(params) as Omit<OtpKey, 'secret' | 'serial'>;
  return { ...p, serial, secret: secrets.box.open(seedSealed, seedContext(kind, serial)) };
}

class InventoryRepo {
  constructor(private readonly r: Repositories) {}

  /** Imports an OTP token (code display or audio reader) with its seed sealed at rest. */
  async importOtp(input: {
    kind: 'code-display' | 'audio-reader';
    key: OtpKey;
    organisationId?: string;
  }): Promise<InventoryItem> {
    const { key } = input;
    if (input.kind !== 'code-display' && input.kind !== 'audio-reader')
      throw new StoreRuleError('bad-kind', 'only code displays and audio readers carry seeds');
    if (typeof key?.serial !== 'string' || !SERIAL.test(key.serial))
      throw new StoreRuleError('bad-serial', 'serial must be 1-64 of A-Z a-z 0-9 . _ : -');
    if (!(key.secret instanceof Uint8Array) || key.secret.length === 0)
      throw new StoreRuleError('bad-seed', 'the token has no seed');
    if (input.organisationId !== undefined) await this.r.organisations.get(input.organisationId);
    const exists = await this.r.db
      .selectFrom('inventory')
      .select('id')
      .where('kind', '=', input.kind)
      .where('serial', '=', key.serial)
      .executeTakeFirst();
    if (exists)
      throw new StoreRuleError(
        'serial-exists',
        `a ${input.kind} with serial ${key.serial} is already in the inventory`,
      );
    const { secret: _secret, serial: _serial, ...params } = key;
    const row: InventoryRow = {
      id: randomUUID(),
      organisation_id: input.organisationId ?? null,
      kind: input.kind,
      serial: key.serial,
      seed_sealed: this.r.secrets.box.seal(key.secret, seedContext(input.kind, key.serial)),
      params: JSON.stringify(params),
      status: 'available',
      imported_at: this.r.now,
    };
    await this.r.db.insertInto('inventory').values(row).execute();
    return toItem(row);
  }

  /** Adds a chip by serial (its key is made at registration, so there is no seed). */
  async addChip(input: { serial: string; organisationId?: string }): Promise<InventoryItem> {
    if (typeof input.serial !== 'string' || !SERIAL.test(input.serial))
      throw new StoreRuleError('bad-serial', 'serial must be 1-64 of A-Z a-z 0-9 . _ : -');
    if (input.organisationId !== undefined) await this.r.organisations.get(input.organisationId);
    const exists = await this.r.db
      .selectFrom('inventory')
      .select('id')
      .where('kind', '=', 'chip')
      .where('serial', '=', input.serial)
      .executeTakeFirst();
    if (exists)
      throw new StoreRuleError(
        'serial-exists',
        `a chip with serial ${input.serial} is already in the inventory`,
      );
    const row: InventoryRow = {
      id: randomUUID(),
      organisation_id: input.organisationId ?? null,
      kind: 'chip',
      serial: input.serial,
      seed_sealed: null,
      params: null,
      status: 'available',
      imported_at: this.r.now,
    };
    await this.r.db.insertInto('inventory').values(row).execute();
    return toItem(row);
  }

  async get(kind: InventoryItem['kind'], serial: string): Promise<InventoryItem | undefined> {
    const row = await this.r.db
      .selectFrom('inventory')
      .select(INVENTORY_PUBLIC)
      .where('kind', '=', kind)
      .where('serial', '=', serial)
      .executeTakeFirst();
    return row && toItem(row);
  }

  async list(
    filter: {
      organisationId?: string;
      kind?: InventoryItem['kind'];
      status?: InventoryItem['status'];
    } = {},
  ): Promise<InventoryItem[]> {
    let q = this.r.db.selectFrom('inventory').select(INVENTORY_PUBLIC);
    if (filter.organisationId !== undefined)
      q = q.where('organisation_id', '=', filter.organisationId);
    if (filter.kind !== undefined) q = q.where('kind', '=', filter.kind);
    if (filter.status !== undefined) q = q.where('status', '=', filter.status);
    return (await q.orderBy('kind').orderBy('serial').execute()).map(toItem);
  }

  /** The OTP key of a token, its seed opened (for the verifier, inside the verifying transaction). */
  async otpKey(kind: 'code-display' | 'audio-reader', serial: string): Promise<OtpKey | undefined> {
    const row = await this.r.db
      .selectFrom('inventory')
      .selectAll()
      .where('kind', '=', kind)
      .where('serial', '=', serial)
      .executeTakeFirst();
    if (!row) return undefined;
    return this.openOtpKey(row.kind, row.serial, row.seed_sealed, row.params);
  }

  /** {@link openOtpKey} with this transaction's secrets. */
  openOtpKey(
    kind: string,
    serial: string,
    seedSealed: string | null,
    params: string | null,
  ): OtpKey | undefined {
    return openOtpKey(this.r.secrets, kind, serial, seedSealed, params);
  }

  async setStatus(id: string, status: InventoryItem['status']): Promise<void> {
    const res = await this.r.db
      .updateTable('inventory')
      .set({ status })
      .where('id', '=', id)
      .executeTakeFirst();
    if (res.numUpdatedRows === 0n) throw notFound('inventory-item');
  }
}

// ---------------------------------------------------------------------------------------------

class DeviceOrderRepo {
  constructor(private readonly r: Repositories) {}

  /**
   * Orders a device for a user: takes an available item of that kind from the organisation's
   * inventory (or the shared pool) and reserves it, so two orders never get the same device.
   */
  async create(input: {
    businessUserId: string;
    kind: InventoryItem['kind'];
    orderedBy: string;
  }): Promise<DeviceOrder> {
    const user = await this.r.users.get(input.businessUserId);
    const item = await this.r.db
      .selectFrom('inventory')
      .select(['id', 'serial'])
      .where('kind', '=', input.kind)
      .where('status', '=', 'available')
      .where((eb) =>
        eb.or([eb('organisation_id', '=', user.organisationId), eb('organisation_id', 'is', null)]),
      )
      .orderBy('imported_at')
      .orderBy('serial')
      .executeTakeFirst();
    if (!item)
      throw new StoreRuleError('out-of-stock', `no ${input.kind} is available in the inventory`);
    const res = await this.r.db
      .updateTable('inventory')
      .set({ status: 'ordered' })
      .where('id', '=', item.id)
      .where('status', '=', 'available')
      .executeTakeFirst();
    if (res.numUpdatedRows !== 1n)
      throw new StoreRuleError('out-of-stock', `no ${input.kind} is available in the inventory`);
    const order: DeviceOrder = {
      id: randomUUID(),
      organisationId: user.organisationId,
      businessUserId: user.id,
      kind: input.kind,
      inventoryId: item.id,
      serial: item.serial,
      orderedBy: input.orderedBy,
      status: 'ordered',
      createdAt: this.r.now,
    };
    await this.r.db
      .insertInto('device_orders')
      .values({
        id: order.id,
        organisation_id: order.organisationId,
        business_user_id: order.businessUserId,
        kind: order.kind,
        inventory_id: order.inventoryId,
        ordered_by: order.orderedBy,
        status: 'ordered',
        created_at: this.r.now,
        updated_at: this.r.now,
      })
      .execute();
    return order;
  }

  async setStatus(id: string, status: DeviceOrder['status']): Promise<void> {
    const res = await this.r.db
      .updateTable('device_orders')
      .set({ status, updated_at: this.r.now })
      .where('id', '=', id)
      .executeTakeFirst();
    if (res.numUpdatedRows === 0n) throw notFound('order');
  }

  async forUser(businessUserId: string): Promise<DeviceOrder[]> {
    const rows = await this.r.db
      .selectFrom('device_orders')
      .leftJoin('inventory', 'inventory.id', 'device_orders.inventory_id')
      .selectAll('device_orders')
      .select('inventory.serial as serial')
      .where('business_user_id', '=', businessUserId)
      .orderBy('device_orders.created_at')
      .execute();
    return rows.map((row) => ({
      id: row.id,
      organisationId: row.organisation_id,
      businessUserId: row.business_user_id,
      kind: row.kind as InventoryItem['kind'],
      inventoryId: row.inventory_id,
      serial: row.serial,
      orderedBy: row.ordered_by,
      status: row.status as DeviceOrder['status'],
      createdAt: row.created_at,
    }));
  }
}

// ---------------------------------------------------------------------------------------------

type AuthRow = Database['authenticators'];

function toBound<B, S>(row: AuthRow): BoundAuthenticator<B, S> {
  return {
    id: row.id,
    ownerKind: row.owner_kind as BoundAuthenticator['ownerKind'],
    ownerId: row.owner_id,
    kind: row.kind as AuthenticatorKind,
    serial: row.serial,
    binding: JSON.parse(row.binding) as B,
    state: JSON.parse(row.state) as S,
    failCount: row.fail_count,
    totalFailCount: row.total_fail_count,
    blockedUntil: row.blocked_until,
    blockedAt: row.blocked_at,
    status: row.status as BoundAuthenticator['status'],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** How many active authenticators of each kind an identity may have (MITID.md, "limits"). */
export const AUTHENTICATOR_LIMITS = { otp: 1, chip: 1, app: 3 } as const;

const RECORD_ATTEMPT = new Statement(
  'update authenticators set state = ?, fail_count = ?, total_fail_count = ?, blocked_until = ?,' +
    ' blocked_at = ?, updated_at = ? where id = ?',
);

/**
 * Steps of {@link AuthenticatorRepo.recordAttemptOn}: counts an attempt on the authenticator row
 * `current` (its id and lockout counters as read in this transaction) and stores `nextState`.
 */
export function* recordAttemptSteps<S>(
  ctx: StepContext,
  current: LockoutState & { readonly id: string },
  verified: boolean,
  nextState: S,
): Steps<LockoutState> {
  // A blocked device's proofs are not checked, so there is nothing to count or store.
  if (lockoutStatus(current, ctx.now) !== 'open') return current;
  const next = afterAttempt(current, verified, ctx.now, ctx.config.lockout);
  yield* rows(RECORD_ATTEMPT, [
    JSON.stringify(nextState),
    next.failCount,
    next.totalFailCount,
    next.blockedUntil,
    next.blockedAt,
    ctx.now,
    current.id,
  ]);
  return next;
}

class AuthenticatorRepo {
  constructor(private readonly r: Repositories) {}

  /**
   * Binds an authenticator to an owner. Limits: one code display OR one audio reader (never
   * both), one chip, up to three apps; a device is bound to one owner at a time.
   */
  async bind<B, S>(input: {
    ownerKind: 'citizen' | 'business-user';
    ownerId: string;
    kind: AuthenticatorKind;
    serial: string;
    binding: B;
    state: S;
  }): Promise<BoundAuthenticator<B, S>> {
    if (!isAuthenticatorKind(input.kind))
      throw new StoreRuleError('bad-kind', 'unknown authenticator kind');
    if (typeof input.serial !== 'string' || !SERIAL.test(input.serial))
      throw new StoreRuleError('bad-serial', 'serial must be 1-64 of A-Z a-z 0-9 . _ : -');
    const active = await this.forOwner(input.ownerKind, input.ownerId);
    const otp = (k: string): boolean => k === 'code-display' || k === 'audio-reader';
    const group = otp(input.kind) ? 'otp' : input.kind === 'chip' ? 'chip' : 'app';
    const same = active.filter((a) =>
      group === 'otp' ? otp(a.kind) : a.kind === input.kind,
    ).length;
    if (same >= AUTHENTICATOR_LIMITS[group]) {
      throw new StoreRuleError(
        'authenticator-limit',
        group === 'otp'
          ? 'a user may have one code display or one audio reader, not both or two'
          : group === 'chip'
            ? 'a user may have one chip'
            : 'a user may have at most 3 apps',
      );
    }
    const taken = await this.r.db
      .selectFrom('authenticators')
      .select('id')
      .where('kind', '=', input.kind)
      .where('serial', '=', input.serial)
      .where('status', '=', 'active')
      .executeTakeFirst();
    if (taken) throw new StoreRuleError('serial-bound', 'this device is already bound to someone');
    const row: AuthRow = {
      id: randomUUID(),
      owner_kind: input.ownerKind,
      owner_id: input.ownerId,
      kind: input.kind,
      serial: input.serial,
      binding: JSON.stringify(input.binding),
      state: JSON.stringify(input.state),
      fail_count: 0,
      total_fail_count: 0,
      blocked_until: null,
      blocked_at: null,
      status: 'active',
      created_at: this.r.now,
      updated_at: this.r.now,
    };
    await this.r.db.insertInto('authenticators').values(row).execute();
    return toBound<B, S>(row);
  }

  async get<B = unknown, S = unknown>(id: string): Promise<BoundAuthenticator<B, S>> {
    checkId(id, 'authenticator');
    const row = await this.r.db
      .selectFrom('authenticators')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) throw notFound('authenticator');
    return toBound<B, S>(row);
  }

  async bySerial<B = unknown, S = unknown>(
    kind: AuthenticatorKind,
    serial: string,
  ): Promise<BoundAuthenticator<B, S> | undefined> {
    const row = await this.r.db
      .selectFrom('authenticators')
      .selectAll()
      .where('kind', '=', kind)
      .where('serial', '=', serial)
      .where('status', '=', 'active')
      .executeTakeFirst();
    return row && toBound<B, S>(row);
  }

  async forOwner(
    ownerKind: 'citizen' | 'business-user',
    ownerId: string,
  ): Promise<BoundAuthenticator[]> {
    const rows = await this.r.db
      .selectFrom('authenticators')
      .selectAll()
      .where('owner_kind', '=', ownerKind)
      .where('owner_id', '=', ownerId)
      .where('status', '=', 'active')
      .orderBy('created_at')
      .execute();
    return rows.map((row) => toBound(row));
  }

  /** Where the authenticator stands now. */
  async lockoutStatus(id: string): Promise<LockoutStatus> {
    return lockoutStatus(await this.get(id), this.r.now);
  }

  /**
   * Records one checked proof: stores the verifier's next state and the lockout counters (3 wrong
   * in a row block for a while, continued failures for good). Call only when the status was
   * `open`, in the transaction that read the old state.
   */
  async recordAttempt<S>(
    id: string,
    verified: boolean,
    nextState: S,
    current?: BoundAuthenticator,
  ): Promise<LockoutState> {
    // `current`: the row as the caller read it in this same transaction (saves reading it again).
    const cur = current !== undefined && current.id === id ? current : await this.get(id);
    return this.recordAttemptOn(cur, verified, nextState);
  }

  /**
   * {@link recordAttempt} on the row `current` (its id and lockout counters) as the caller read
   * it in this same transaction.
   */
  async recordAttemptOn<S>(
    current: LockoutState & { readonly id: string },
    verified: boolean,
    nextState: S,
  ): Promise<LockoutState> {
    return runSteps(
      this.r.db,
      this.r.engine,
      recordAttemptSteps(this.r, current, verified, nextState),
    );
  }

  async revoke(id: string): Promise<void> {
    const res = await this.r.db
      .updateTable('authenticators')
      .set({ status: 'revoked', updated_at: this.r.now })
      .where('id', '=', id)
      .executeTakeFirst();
    if (res.numUpdatedRows === 0n) throw notFound('authenticator');
  }
}

// ---------------------------------------------------------------------------------------------

class PhoneVerificationRepo {
  constructor(private readonly r: Repositories) {}

  /** Starts verifying a phone number: a 6-digit code to send by SMS (returned once, stored hashed). */
  async start(
    businessUserId: string,
    phone: string,
  ): Promise<{ id: string; phone: string; code: string; expiresAt: number }> {
    assertNoViolations(checkPhone(phone));
    await this.r.users.get(businessUserId);
    const e164 = normalisePhone(phone) as string;
    await this.r.db
      .updateTable('phone_verifications')
      .set({ superseded_at: this.r.now })
      .where('business_user_id', '=', businessUserId)
      .where('superseded_at', 'is', null)
      .execute();
    const id = randomUUID();
    const code = newNumericCode(6);
    const expiresAt = this.r.now + this.r.config.lifetimes.smsCodeMs;
    await this.r.db
      .insertInto('phone_verifications')
      .values({
        id,
        business_user_id: businessUserId,
        phone: e164,
        code_hash: this.r.secrets.hasher.hash(`sms-code:${id}`, code),
        created_at: this.r.now,
        expires_at: expiresAt,
        tries: 0,
        verified_at: null,
        superseded_at: null,
      })
      .execute();
    return { id, phone: e164, code, expiresAt };
  }

  /** Checks the code typed for the user's current verification: 3 wrong tries end it. */
  async check(businessUserId: string, typed: string): Promise<CodeOutcome & { phone?: string }> {
    const row = await this.r.db
      .selectFrom('phone_verifications')
      .selectAll()
      .where('business_user_id', '=', businessUserId)
      .where('superseded_at', 'is', null)
      .executeTakeFirst();
    if (!row) return { ok: false, reason: 'unknown', triesLeft: 0 };
    if (row.verified_at !== null) return { ok: false, reason: 'used', triesLeft: 0 };
    if (row.tries >= CODE_TRIES) return { ok: false, reason: 'blocked', triesLeft: 0 };
    if (this.r.now >= row.expires_at)
      return { ok: false, reason: 'expired', triesLeft: CODE_TRIES - row.tries };
    const good =
      typeof typed === 'string' &&
      this.r.secrets.hasher.matches(`sms-code:${row.id}`, typed.trim(), row.code_hash);
    if (good) {
      const res = await this.r.db
        .updateTable('phone_verifications')
        .set({ verified_at: this.r.now })
        .where('id', '=', row.id)
        .where('verified_at', 'is', null)
        .executeTakeFirst();
      return res.numUpdatedRows === 1n
        ? { ok: true, phone: row.phone }
        : { ok: false, reason: 'used', triesLeft: 0 };
    }
    const tries = row.tries + 1;
    await this.r.db
      .updateTable('phone_verifications')
      .set({ tries })
      .where('id', '=', row.id)
      .execute();
    return tries >= CODE_TRIES
      ? { ok: false, reason: 'blocked', triesLeft: 0 }
      : { ok: false, reason: 'wrong', triesLeft: CODE_TRIES - tries };
  }
}

// ---------------------------------------------------------------------------------------------

const AUDIT_INSERT = new Statement(
  'insert into audit_log (at, actor_kind, actor_id, action, outcome, organisation_id, subject_id,' +
    ' serial, detail) values (?, ?, ?, ?, ?, ?, ?, ?, ?)',
);

/**
 * Steps of {@link AuditRepo.record}: appends an entry (who, what, which serial, when). It refuses
 * detail keys that name a secret and values shaped like one (a CPR number, a long digit string),
 * so a secret cannot slip in by a careless field name.
 */
export function* auditSteps(ctx: StepContext, entry: AuditEntry): Steps<void> {
  if (typeof entry.action !== 'string' || entry.action.length === 0)
    throw new TypeError('audit action must be a non-empty string');
  const detail = entry.detail ?? null;
  if (detail !== null) {
    for (const [k, v] of Object.entries(detail)) {
      if (SECRET_KEY.test(k))
        throw new ActivationError(
          'audit-secret',
          `audit detail key "${k}" looks like a secret; audit entries never hold secrets`,
        );
      if (typeof v === 'string' && (SECRET_VALUE.test(v) || v.length > 200)) {
        throw new ActivationError(
          'audit-secret',
          `audit detail "${k}" looks like a secret or is too long`,
        );
      }
      if (v !== null && typeof v === 'object')
        throw new TypeError('audit detail values are strings, numbers, booleans or null');
    }
  }
  yield* rows(AUDIT_INSERT, [
    ctx.now,
    entry.actor.kind,
    entry.actor.id ?? null,
    entry.action,
    entry.outcome,
    entry.organisationId ?? null,
    entry.subjectId ?? null,
    entry.serial ?? null,
    detail === null ? null : JSON.stringify(detail),
  ]);
}

class AuditRepo {
  constructor(private readonly r: Repositories) {}

  /**
   * Appends an entry: who, what, which serial, when. It refuses detail keys that name a secret and
   * values shaped like one (a CPR number, a long digit string), so a secret cannot slip in by a
   * careless field name.
   */
  async record(entry: AuditEntry): Promise<void> {
    await runSteps(this.r.db, this.r.engine, auditSteps(this.r, entry));
  }

  async list(
    filter: { organisationId?: string; subjectId?: string; action?: string; limit?: number } = {},
  ): Promise<AuditRecord[]> {
    let q = this.r.db.selectFrom('audit_log').selectAll();
    if (filter.organisationId !== undefined)
      q = q.where('organisation_id', '=', filter.organisationId);
    if (filter.subjectId !== undefined) q = q.where('subject_id', '=', filter.subjectId);
    if (filter.action !== undefined) q = q.where('action', '=', filter.action);
    const rows = await q
      .orderBy('id')
      .limit(filter.limit ?? 1000)
      .execute();
    return rows.map((row) => ({
      id: Number(row.id),
      at: row.at,
      actor: { kind: row.actor_kind, id: row.actor_id },
      action: row.action,
      outcome: row.outcome,
      organisationId: row.organisation_id,
      subjectId: row.subject_id,
      serial: row.serial,
      detail: row.detail === null ? null : (JSON.parse(row.detail) as AuditRecord['detail']),
    }));
  }
}

// ---------------------------------------------------------------------------------------------

/** The result of counting one request against a limit. */
export interface RateLimitResult {
  readonly allowed: boolean;
  readonly count: number;
  readonly limit: number;
  /** When the current window ends (ms). */
  readonly resetAt: number;
}

/** One request to count by {@link RateLimitRepo.hitMany}. */
export interface RateLimitHit {
  readonly key: string;
  readonly limit: number;
  readonly windowMs: number;
}

const rateLimitUpserts: Statement<{ key: string; count: number }>[] = [];

/** The upsert of `n` rate-limit rows (one statement per row count, made once). */
function rateLimitUpsert(n: number): Statement<{ key: string; count: number }> {
  let st = rateLimitUpserts[n];
  if (st === undefined) {
    st = new Statement(
      `insert into rate_limits ("key", window_start, "count") values ${Array.from({ length: n }, () => '(?, ?, 1)').join(', ')}` +
        ` on conflict ("key", window_start) do update set "count" = rate_limits."count" + 1` +
        ` returning "key", "count"`,
    );
    rateLimitUpserts[n] = st;
  }
  return st;
}

/**
 * Steps of {@link RateLimitRepo.hitMany}: counts one request against each of `hits` (distinct
 * keys) in one multi-row upsert, so concurrent instances count together, and says for each, in
 * the order given, whether it is within its limit (a fixed window per key).
 */
export function* rateLimitSteps(
  ctx: StepContext,
  hits: readonly RateLimitHit[],
): Steps<RateLimitResult[]> {
  if (hits.length === 0) return [];
  const params: unknown[] = [];
  const starts: number[] = [];
  for (const h of hits) {
    if (!Number.isInteger(h.limit) || h.limit < 1)
      throw new RangeError('limit must be a whole number of at least 1');
    if (!Number.isInteger(h.windowMs) || h.windowMs < 1)
      throw new RangeError('windowMs must be a whole number of ms');
    if (typeof h.key !== 'string') throw new TypeError('a rate-limit key is a string');
    if (hits.some((o) => o !== h && o.key === h.key))
      throw new RangeError('rate-limit keys counted together must differ');
    const windowStart = ctx.now - (ctx.now % h.windowMs);
    starts.push(windowStart);
    params.push(h.key, windowStart);
  }
  const counted = yield* rows(rateLimitUpsert(hits.length), params);
  return hits.map((h, i) => {
    const row = counted.find((r) => r.key === h.key);
    if (row === undefined) throw new Error('the rate-limit upsert returned no row');
    const count = Number(row.count);
    return { allowed: count <= h.limit, count, limit: h.limit, resetAt: starts[i]! + h.windowMs };
  });
}

class RateLimitRepo {
  constructor(private readonly r: Repositories) {}

  /**
   * Counts one request for `key` (e.g. `login:user:<id>`, `link:ip:<address>`) in a fixed window
   * and says whether it is within `limit`. One upsert, so concurrent instances count together.
   */
  async hit(key: string, limit: number, windowMs: number): Promise<RateLimitResult> {
    const [result] = await this.hitMany([{ key, limit, windowMs }]);
    return result!;
  }

  /**
   * Counts one request against each of `hits` (distinct keys) in one multi-row upsert, and says
   * for each, in the order given, whether it is within its limit. Same counting as {@link hit}.
   */
  hitMany(hits: readonly RateLimitHit[]): Promise<RateLimitResult[]> {
    return runSteps(this.r.db, this.r.engine, rateLimitSteps(this.r, hits));
  }

  /** Deletes windows that ended before `before` (housekeeping). */
  async prune(before: number): Promise<number> {
    const res = await this.r.db
      .deleteFrom('rate_limits')
      .where('window_start', '<', before)
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}

// ---------------------------------------------------------------------------------------------

/** A separate MitID shared with another organisation. */
export interface MitidShare {
  readonly id: string;
  readonly businessUserId: string;
  /** The organisation that issued the separate MitID. */
  readonly issuerOrganisationId: string;
  /** The organisation it is shared with. */
  readonly organisationId: string;
  readonly issuerApproved: boolean;
  readonly receiverApproved: boolean;
  /** True once every organisation involved has approved and nobody revoked it. */
  readonly active: boolean;
}

class MitidShareRepo {
  constructor(private readonly r: Repositories) {}

  async #toShare(row: Database['mitid_shares']): Promise<MitidShare> {
    const user = await this.r.users.get(row.business_user_id);
    const issuerApproved = row.issuer_approved_at !== null;
    const receiverApproved = row.receiver_approved_at !== null;
    return {
      id: row.id,
      businessUserId: row.business_user_id,
      issuerOrganisationId: user.organisationId,
      organisationId: row.organisation_id,
      issuerApproved,
      receiverApproved,
      active: issuerApproved && receiverApproved && row.revoked_at === null,
    };
  }

  /** Asks to use a user's separate MitID in another organisation too; nothing works until both approve. */
  async request(businessUserId: string, organisationId: string): Promise<MitidShare> {
    const user = await this.r.users.get(businessUserId);
    if (user.mitidKind !== 'separate' || user.status !== 'activated') {
      throw new StoreRuleError('not-separate', 'only an activated separate MitID can be shared');
    }
    if (user.organisationId === organisationId)
      throw new StoreRuleError(
        'same-organisation',
        'the MitID already belongs to this organisation',
      );
    await this.r.organisations.get(organisationId);
    const existing = await this.r.db
      .selectFrom('mitid_shares')
      .selectAll()
      .where('business_user_id', '=', businessUserId)
      .where('organisation_id', '=', organisationId)
      .executeTakeFirst();
    if (existing && existing.revoked_at === null) return this.#toShare(existing);
    if (existing)
      await this.r.db.deleteFrom('mitid_shares').where('id', '=', existing.id).execute();
    const row: Database['mitid_shares'] = {
      id: randomUUID(),
      business_user_id: businessUserId,
      organisation_id: organisationId,
      requested_at: this.r.now,
      issuer_approved_by: null,
      issuer_approved_at: null,
      receiver_approved_by: null,
      receiver_approved_at: null,
      revoked_at: null,
    };
    await this.r.db.insertInto('mitid_shares').values(row).execute();
    return this.#toShare(row);
  }

  /**
   * Records `admin`'s approval for their organisation (issuer or receiver). Only a role allowed to
   * `approve-shared-mitid`, and only for one of the two organisations involved.
   */
  async approve(shareId: string, admin: Admin): Promise<MitidShare> {
    const row = await this.r.db
      .selectFrom('mitid_shares')
      .selectAll()
      .where('id', '=', shareId)
      .executeTakeFirst();
    if (!row || row.revoked_at !== null) throw notFound('share');
    const share = await this.#toShare(row);
    const side =
      admin.organisationId === share.issuerOrganisationId
        ? 'issuer'
        : admin.organisationId === share.organisationId
          ? 'receiver'
          : undefined;
    if (side === undefined || !can(admin.role, 'approve-shared-mitid')) {
      await this.r.audit.record({
        actor: { kind: 'admin', id: admin.id },
        action: 'mitid-share.approve',
        outcome: 'forbidden',
        organisationId: admin.organisationId,
        subjectId: share.businessUserId,
      });
      return share;
    }
    await this.r.db
      .updateTable('mitid_shares')
      .set(
        side === 'issuer'
          ? { issuer_approved_by: admin.id, issuer_approved_at: this.r.now }
          : { receiver_approved_by: admin.id, receiver_approved_at: this.r.now },
      )
      .where('id', '=', shareId)
      .execute();
    await this.r.audit.record({
      actor: { kind: 'admin', id: admin.id },
      action: 'mitid-share.approve',
      outcome: 'ok',
      organisationId: admin.organisationId,
      subjectId: share.businessUserId,
      detail: { side },
    });
    return this.#toShare({
      ...row,
      ...(side === 'issuer'
        ? { issuer_approved_at: this.r.now }
        : { receiver_approved_at: this.r.now }),
    });
  }

  /** Withdraws a share (either organisation may); the MitID stops working there at once. */
  async revoke(shareId: string): Promise<void> {
    const res = await this.r.db
      .updateTable('mitid_shares')
      .set({ revoked_at: this.r.now })
      .where('id', '=', shareId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (res.numUpdatedRows === 0n) throw notFound('share');
  }

  /** The organisations where a user's separate MitID works: its own, and every fully approved share. */
  async organisationsOf(businessUserId: string): Promise<string[]> {
    const user = await this.r.users.get(businessUserId);
    const rows = await this.r.db
      .selectFrom('mitid_shares')
      .select('organisation_id')
      .where('business_user_id', '=', businessUserId)
      .where('issuer_approved_at', 'is not', null)
      .where('receiver_approved_at', 'is not', null)
      .where('revoked_at', 'is', null)
      .orderBy('organisation_id')
      .execute();
    return [user.organisationId, ...rows.map((r) => r.organisation_id)];
  }
}

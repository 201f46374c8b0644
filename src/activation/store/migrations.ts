/** Schema migrations, written once with kysely's schema builder and run on SQLite and PostgreSQL. */
import {
  Migrator,
  NO_MIGRATIONS,
  sql,
  type Kysely,
  type Migration,
  type MigrationProvider,
} from 'kysely';
import { ActivationError } from '../violations.js';

/** Which engine a migration runs on: the few places the two differ ask this. */
export type Engine = 'sqlite' | 'postgres';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations build tables that the typed schema does not know yet */
type AnyDb = Kysely<any>;

/** Column types both engines accept with the same meaning (see schema.ts). */
const T = { text: 'text', int: 'integer', time: 'bigint' } as const;

function initial(engine: Engine): Migration {
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createTable('organisations')
        .addColumn('id', T.text, (c) => c.primaryKey())
        .addColumn('cvr', T.text, (c) => c.notNull().unique())
        .addColumn('name', T.text, (c) => c.notNull())
        .addColumn('created_at', T.time, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('organisation_settings')
        .addColumn('organisation_id', T.text, (c) => c.primaryKey().references('organisations.id'))
        .addColumn('private_allowed', T.int, (c) => c.notNull())
        .addColumn('separate_authenticators', T.text, (c) => c.notNull())
        .addColumn('preselected', T.text, (c) => c.notNull())
        .addColumn('updated_at', T.time, (c) => c.notNull())
        .addColumn('updated_by', T.text)
        .execute();

      await db.schema
        .createTable('admins')
        .addColumn('id', T.text, (c) => c.primaryKey())
        .addColumn('organisation_id', T.text, (c) => c.notNull().references('organisations.id'))
        .addColumn('name', T.text, (c) => c.notNull())
        .addColumn('email', T.text, (c) => c.notNull())
        .addColumn('role', T.text, (c) => c.notNull())
        .addColumn('created_at', T.time, (c) => c.notNull())
        .addUniqueConstraint('admins_org_email_role', ['organisation_id', 'email', 'role'])
        .execute();

      await db.schema
        .createTable('business_users')
        .addColumn('id', T.text, (c) => c.primaryKey())
        .addColumn('organisation_id', T.text, (c) => c.notNull().references('organisations.id'))
        .addColumn('first_name', T.text, (c) => c.notNull())
        .addColumn('surname', T.text, (c) => c.notNull())
        .addColumn('email', T.text, (c) => c.notNull())
        .addColumn('phone', T.text)
        .addColumn('identified_by', T.text, (c) => c.notNull())
        .addColumn('cpr_sealed', T.text)
        .addColumn('cpr_hash', T.text)
        .addColumn('birth_date', T.text)
        .addColumn('status', T.text, (c) => c.notNull())
        .addColumn('separate_allowed', T.int, (c) => c.notNull())
        .addColumn('mitid_kind', T.text)
        .addColumn('citizen_id', T.text)
        .addColumn('user_id', T.text)
        .addColumn('user_id_key', T.text)
        .addColumn('password_hash', T.text)
        .addColumn('created_by', T.text)
        .addColumn('created_at', T.time, (c) => c.notNull())
        .addColumn('activated_at', T.time)
        // One business user per person per organisation.
        .addUniqueConstraint('business_users_org_cpr', ['organisation_id', 'cpr_hash'])
        .execute();
      await db.schema
        .createIndex('business_users_org')
        .on('business_users')
        .column('organisation_id')
        .execute();

      await db.schema
        .createTable('citizens')
        .addColumn('id', T.text, (c) => c.primaryKey())
        .addColumn('cpr_sealed', T.text, (c) => c.notNull())
        .addColumn('cpr_hash', T.text, (c) => c.notNull().unique())
        .addColumn('birth_date', T.text, (c) => c.notNull())
        .addColumn('name', T.text, (c) => c.notNull())
        .addColumn('user_id', T.text, (c) => c.notNull())
        .addColumn('user_id_key', T.text, (c) => c.notNull().unique())
        .addColumn('password_hash', T.text)
        .addColumn('created_at', T.time, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('user_ids')
        .addColumn('user_id_key', T.text, (c) => c.primaryKey())
        .addColumn('owner_kind', T.text, (c) => c.notNull())
        .addColumn('owner_id', T.text, (c) => c.notNull())
        .addColumn('created_at', T.time, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('activation_links')
        .addColumn('id', T.text, (c) => c.primaryKey())
        .addColumn('business_user_id', T.text, (c) => c.notNull().references('business_users.id'))
        .addColumn('token_hash', T.text, (c) => c.notNull().unique())
        .addColumn('created_at', T.time, (c) => c.notNull())
        .addColumn('expires_at', T.time, (c) => c.notNull())
        .addColumn('used_at', T.time)
        .addColumn('superseded_at', T.time)
        .execute();
      await db.schema
        .createIndex('activation_links_user')
        .on('activation_links')
        .column('business_user_id')
        .execute();

      await db.schema
        .createTable('activation_codes')
        .addColumn('id', T.text, (c) => c.primaryKey())
        .addColumn('business_user_id', T.text, (c) => c.notNull().references('business_users.id'))
        .addColumn('purpose', T.text, (c) => c.notNull())
        .addColumn('code_hash', T.text, (c) => c.notNull())
        .addColumn('created_at', T.time, (c) => c.notNull())
        .addColumn('expires_at', T.time, (c) => c.notNull())
        .addColumn('tries', T.int, (c) => c.notNull())
        .addColumn('blocked_at', T.time)
        .addColumn('used_at', T.time)
        .addColumn('superseded_at', T.time)
        .execute();
      await db.schema
        .createIndex('activation_codes_user')
        .on('activation_codes')
        .columns(['business_user_id', 'purpose'])
        .execute();

      await db.schema
        .createTable('inventory')
        .addColumn('id', T.text, (c) => c.primaryKey())
        .addColumn('organisation_id', T.text, (c) => c.references('organisations.id'))
        .addColumn('kind', T.text, (c) => c.notNull())
        .addColumn('serial', T.text, (c) => c.notNull())
        .addColumn('seed_sealed', T.text)
        .addColumn('params', T.text)
        .addColumn('status', T.text, (c) => c.notNull())
        .addColumn('imported_at', T.time, (c) => c.notNull())
        .addUniqueConstraint('inventory_kind_serial', ['kind', 'serial'])
        .execute();

      await db.schema
        .createTable('device_orders')
        .addColumn('id', T.text, (c) => c.primaryKey())
        .addColumn('organisation_id', T.text, (c) => c.notNull().references('organisations.id'))
        .addColumn('business_user_id', T.text, (c) => c.notNull().references('business_users.id'))
        .addColumn('kind', T.text, (c) => c.notNull())
        .addColumn('inventory_id', T.text, (c) => c.references('inventory.id'))
        .addColumn('ordered_by', T.text, (c) => c.notNull())
        .addColumn('status', T.text, (c) => c.notNull())
        .addColumn('created_at', T.time, (c) => c.notNull())
        .addColumn('updated_at', T.time, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('authenticators')
        .addColumn('id', T.text, (c) => c.primaryKey())
        .addColumn('owner_kind', T.text, (c) => c.notNull())
        .addColumn('owner_id', T.text, (c) => c.notNull())
        .addColumn('kind', T.text, (c) => c.notNull())
        .addColumn('serial', T.text, (c) => c.notNull())
        .addColumn('binding', T.text, (c) => c.notNull())
        .addColumn('state', T.text, (c) => c.notNull())
        .addColumn('fail_count', T.int, (c) => c.notNull())
        .addColumn('total_fail_count', T.int, (c) => c.notNull())
        .addColumn('blocked_until', T.time)
        .addColumn('blocked_at', T.time)
        .addColumn('status', T.text, (c) => c.notNull())
        .addColumn('created_at', T.time, (c) => c.notNull())
        .addColumn('updated_at', T.time, (c) => c.notNull())
        .execute();
      // A device can be bound to one owner at a time.
      await db.schema
        .createIndex('authenticators_active_serial')
        .on('authenticators')
        .columns(['kind', 'serial'])
        .unique()
        .where(sql<boolean>`status = 'active'`)
        .execute();
      await db.schema
        .createIndex('authenticators_owner')
        .on('authenticators')
        .columns(['owner_kind', 'owner_id'])
        .execute();

      await db.schema
        .createTable('phone_verifications')
        .addColumn('id', T.text, (c) => c.primaryKey())
        .addColumn('business_user_id', T.text, (c) => c.notNull().references('business_users.id'))
        .addColumn('phone', T.text, (c) => c.notNull())
        .addColumn('code_hash', T.text, (c) => c.notNull())
        .addColumn('created_at', T.time, (c) => c.notNull())
        .addColumn('expires_at', T.time, (c) => c.notNull())
        .addColumn('tries', T.int, (c) => c.notNull())
        .addColumn('verified_at', T.time)
        .addColumn('superseded_at', T.time)
        .execute();

      // The one place the engines differ: an ever-increasing id for the audit log's order.
      let audit = db.schema.createTable('audit_log');
      audit =
        engine === 'postgres'
          ? audit.addColumn('id', 'bigserial', (c) => c.primaryKey())
          : audit.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
      await audit
        .addColumn('at', T.time, (c) => c.notNull())
        .addColumn('actor_kind', T.text, (c) => c.notNull())
        .addColumn('actor_id', T.text)
        .addColumn('action', T.text, (c) => c.notNull())
        .addColumn('outcome', T.text, (c) => c.notNull())
        .addColumn('organisation_id', T.text)
        .addColumn('subject_id', T.text)
        .addColumn('serial', T.text)
        .addColumn('detail', T.text)
        .execute();
      await db.schema
        .createIndex('audit_log_subject')
        .on('audit_log')
        .column('subject_id')
        .execute();

      await db.schema
        .createTable('outbox')
        .addColumn('id', T.text, (c) => c.primaryKey())
        .addColumn('channel', T.text, (c) => c.notNull())
        .addColumn('recipient', T.text, (c) => c.notNull())
        .addColumn('subject', T.text)
        .addColumn('body', T.text, (c) => c.notNull())
        .addColumn('html', T.text)
        .addColumn('idempotency_key', T.text, (c) => c.notNull().unique())
        .addColumn('sensitive', T.int, (c) => c.notNull())
        .addColumn('status', T.text, (c) => c.notNull())
        .addColumn('attempts', T.int, (c) => c.notNull())
        .addColumn('next_attempt_at', T.time, (c) => c.notNull())
        .addColumn('claimed_by', T.text)
        .addColumn('claimed_until', T.time)
        .addColumn('attempt_id', T.text)
        .addColumn('last_error', T.text)
        .addColumn('created_at', T.time, (c) => c.notNull())
        .addColumn('sent_at', T.time)
        .execute();
      await db.schema
        .createIndex('outbox_due')
        .on('outbox')
        .columns(['status', 'next_attempt_at'])
        .execute();

      await db.schema
        .createTable('rate_limits')
        .addColumn('key', T.text, (c) => c.notNull())
        .addColumn('window_start', T.time, (c) => c.notNull())
        .addColumn('count', T.int, (c) => c.notNull())
        .addPrimaryKeyConstraint('rate_limits_pk', ['key', 'window_start'])
        .execute();

      await db.schema
        .createTable('mailbox')
        .addColumn('id', T.text, (c) => c.primaryKey())
        .addColumn('message_id', T.text, (c) => c.notNull().unique())
        .addColumn('envelope_from', T.text, (c) => c.notNull())
        .addColumn('envelope_to', T.text, (c) => c.notNull())
        .addColumn('from_header', T.text)
        .addColumn('to_header', T.text)
        .addColumn('subject', T.text)
        .addColumn('text', T.text)
        .addColumn('html', T.text)
        .addColumn('headers', T.text, (c) => c.notNull())
        .addColumn('size', T.int, (c) => c.notNull())
        .addColumn('received_at', T.time, (c) => c.notNull())
        .execute();
    },
    async down(db: AnyDb): Promise<void> {
      for (const t of [
        'mailbox',
        'rate_limits',
        'outbox',
        'audit_log',
        'phone_verifications',
        'authenticators',
        'device_orders',
        'inventory',
        'activation_codes',
        'activation_links',
        'user_ids',
        'citizens',
        'business_users',
        'admins',
        'organisation_settings',
        'organisations',
      ]) {
        await db.schema.dropTable(t).ifExists().execute();
      }
    },
  };
}

/**
 * Shared separate MitIDs (MITID.md: a separate MitID issued by one organisation works in every
 * organisation that approves it): one row per organisation the MitID is shared with, and the
 * approvals of the issuing and the receiving organisation.
 */
const sharedMitIds: Migration = {
  async up(db: AnyDb): Promise<void> {
    await db.schema
      .createTable('mitid_shares')
      .addColumn('id', T.text, (c) => c.primaryKey())
      .addColumn('business_user_id', T.text, (c) => c.notNull().references('business_users.id'))
      .addColumn('organisation_id', T.text, (c) => c.notNull().references('organisations.id'))
      .addColumn('requested_at', T.time, (c) => c.notNull())
      .addColumn('issuer_approved_by', T.text)
      .addColumn('issuer_approved_at', T.time)
      .addColumn('receiver_approved_by', T.text)
      .addColumn('receiver_approved_at', T.time)
      .addColumn('revoked_at', T.time)
      .addUniqueConstraint('mitid_shares_user_org', ['business_user_id', 'organisation_id'])
      .execute();
  },
  async down(db: AnyDb): Promise<void> {
    await db.schema.dropTable('mitid_shares').ifExists().execute();
  },
};

/**
 * The service's conversations: activation and login sessions (a random token, kept only as a
 * keyed hash, and the step state as JSON), and the bearer tokens administrators use on the API.
 */
const sessions: Migration = {
  async up(db: AnyDb): Promise<void> {
    await db.schema
      .createTable('flow_sessions')
      .addColumn('id', T.text, (c) => c.primaryKey())
      .addColumn('token_hash', T.text, (c) => c.notNull().unique())
      .addColumn('kind', T.text, (c) => c.notNull())
      .addColumn('subject_id', T.text, (c) => c.notNull())
      .addColumn('state', T.text, (c) => c.notNull())
      .addColumn('created_at', T.time, (c) => c.notNull())
      .addColumn('updated_at', T.time, (c) => c.notNull())
      .addColumn('expires_at', T.time, (c) => c.notNull())
      .addColumn('ended_at', T.time)
      .execute();
    await db.schema
      .createIndex('flow_sessions_subject')
      .on('flow_sessions')
      .columns(['subject_id', 'kind'])
      .execute();
    await db.schema
      .createTable('admin_tokens')
      .addColumn('id', T.text, (c) => c.primaryKey())
      .addColumn('admin_id', T.text, (c) => c.notNull().references('admins.id'))
      .addColumn('token_hash', T.text, (c) => c.notNull().unique())
      .addColumn('created_at', T.time, (c) => c.notNull())
      .addColumn('revoked_at', T.time)
      .execute();
  },
  async down(db: AnyDb): Promise<void> {
    await db.schema.dropTable('admin_tokens').ifExists().execute();
    await db.schema.dropTable('flow_sessions').ifExists().execute();
  },
};

/**
 * The MitID app: activations in progress (the activation code, then the temporary PIN by SMS),
 * the app tokens the apps authenticate with, and approval requests pushed to apps.
 */
const apps: Migration = {
  async up(db: AnyDb): Promise<void> {
    await db.schema
      .createTable('app_activations')
      .addColumn('id', T.text, (c) => c.primaryKey())
      .addColumn('owner_kind', T.text, (c) => c.notNull())
      .addColumn('owner_id', T.text, (c) => c.notNull())
      .addColumn('user_id_key', T.text, (c) => c.notNull())
      .addColumn('mitid', T.text, (c) => c.notNull())
      .addColumn('placement', T.text, (c) => c.notNull())
      .addColumn('phone', T.text, (c) => c.notNull())
      .addColumn('code_hash', T.text, (c) => c.notNull())
      .addColumn('code_tries', T.int, (c) => c.notNull())
      .addColumn('token_hash', T.text)
      .addColumn('pin_hash', T.text)
      .addColumn('pin_tries', T.int, (c) => c.notNull())
      .addColumn('pin_expires_at', T.time)
      .addColumn('pin_ok_at', T.time)
      .addColumn('created_at', T.time, (c) => c.notNull())
      .addColumn('expires_at', T.time, (c) => c.notNull())
      .addColumn('blocked_at', T.time)
      .addColumn('completed_at', T.time)
      .addColumn('superseded_at', T.time)
      .execute();
    await db.schema
      .createIndex('app_activations_user')
      .on('app_activations')
      .column('user_id_key')
      .execute();
    await db.schema
      .createTable('app_tokens')
      .addColumn('token_hash', T.text, (c) => c.primaryKey())
      .addColumn('authenticator_id', T.text, (c) => c.notNull().references('authenticators.id'))
      .addColumn('created_at', T.time, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('app_requests')
      .addColumn('id', T.text, (c) => c.primaryKey())
      .addColumn('owner_kind', T.text, (c) => c.notNull())
      .addColumn('owner_id', T.text, (c) => c.notNull())
      .addColumn('purpose', T.text, (c) => c.notNull())
      .addColumn('session_id', T.text, (c) => c.notNull())
      .addColumn('request', T.text, (c) => c.notNull())
      .addColumn('display', T.text, (c) => c.notNull())
      .addColumn('channel_hash', T.text, (c) => c.notNull())
      .addColumn('code_hash', T.text, (c) => c.notNull())
      .addColumn('created_at', T.time, (c) => c.notNull())
      .addColumn('expires_at', T.time, (c) => c.notNull())
      .addColumn('decision', T.text)
      .addColumn('answered_by', T.text)
      .addColumn('answered_at', T.time)
      .execute();
    await db.schema
      .createIndex('app_requests_owner')
      .on('app_requests')
      .columns(['owner_id', 'owner_kind'])
      .execute();
  },
  async down(db: AnyDb): Promise<void> {
    await db.schema.dropTable('app_requests').ifExists().execute();
    await db.schema.dropTable('app_tokens').ifExists().execute();
    await db.schema.dropTable('app_activations').ifExists().execute();
  },
};

/**
 * The verification path's tables shaped for it: the owner's authenticators indexed in the order
 * the code check takes the first (no sort per check), and on SQLite the rate-limit counters
 * stored by their key alone (WITHOUT ROWID: one b-tree instead of a table and its index, so a
 * count touches one page, not two).
 */
function hotPath(engine: Engine): Migration {
  return {
    async up(db: AnyDb): Promise<void> {
      await db.schema
        .createIndex('authenticators_owner_created')
        .on('authenticators')
        .columns(['owner_kind', 'owner_id', 'created_at'])
        .execute();
      await db.schema.dropIndex('authenticators_owner').execute();
      if (engine === 'sqlite') await rebuildRateLimits(db, true);
    },
    async down(db: AnyDb): Promise<void> {
      if (engine === 'sqlite') await rebuildRateLimits(db, false);
      await db.schema
        .createIndex('authenticators_owner')
        .on('authenticators')
        .columns(['owner_kind', 'owner_id'])
        .execute();
      await db.schema.dropIndex('authenticators_owner_created').execute();
    },
  };
}

/** SQLite: rate_limits again, with or without a rowid, keeping its rows. */
async function rebuildRateLimits(db: AnyDb, withoutRowid: boolean): Promise<void> {
  await sql
    .raw(
      'create table rate_limits_next ("key" text not null, window_start bigint not null,' +
        ' "count" integer not null, constraint rate_limits_pk primary key ("key", window_start))' +
        (withoutRowid ? ' without rowid' : ''),
    )
    .execute(db);
  await sql
    .raw(
      'insert into rate_limits_next ("key", window_start, "count")' +
        ' select "key", window_start, "count" from rate_limits',
    )
    .execute(db);
  await db.schema.dropTable('rate_limits').execute();
  await db.schema.alterTable('rate_limits_next').renameTo('rate_limits').execute();
}

/** Every migration, by name; names sort in the order they run. */
export function migrations(engine: Engine): Record<string, Migration> {
  return {
    '0001_initial': initial(engine),
    '0002_shared_mitid': sharedMitIds,
    '0003_sessions': sessions,
    '0004_apps': apps,
    '0005_hot_path': hotPath(engine),
  };
}

class Provider implements MigrationProvider {
  constructor(private readonly engine: Engine) {}
  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve(migrations(this.engine));
  }
}

/** The migrator for a database; kysely keeps its bookkeeping in `kysely_migration` tables. */
export function migrator(db: AnyDb, engine: Engine, schema?: string): Migrator {
  // With a schema, kysely's bookkeeping tables are looked for in it alone: without this, a
  // fresh schema would take another schema's tables for its own and skip creating them.
  return new Migrator({
    db,
    provider: new Provider(engine),
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  });
}

/** Database errors: cannot connect, migration failed, a transaction kept conflicting. */
export class StoreError extends ActivationError {}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? 'error';
}

/**
 * Runs every pending migration. Throws StoreError `migration-failed` naming the step, or
 * `cannot-open-database` when it failed before any step (no connection, no rights).
 */
export async function migrateToLatest(
  db: AnyDb,
  engine: Engine,
  schema?: string,
): Promise<string[]> {
  const { error, results } = await migrator(db, engine, schema).migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw failed === undefined
      ? new StoreError('cannot-open-database', `cannot open the database: ${firstLine(error)}`, {
          cause: error,
        })
      : new StoreError(
          'migration-failed',
          `database migration ${failed} failed: ${firstLine(error)}`,
          { cause: error },
        );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Rolls every migration back (tests, and `down` checks). */
export async function migrateDownAll(db: AnyDb, engine: Engine, schema?: string): Promise<void> {
  const { error } = await migrator(db, engine, schema).migrateTo(NO_MIGRATIONS);
  if (error !== undefined)
    throw new StoreError(
      'migration-failed',
      `database rollback failed: ${(error as Error).message}`,
      { cause: error },
    );
}

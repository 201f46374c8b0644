/** Where the activation service's store is, from `--db FILE|URL` and `--data DIR`, for every verb that opens it. */
import { mkdir, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isMitidError, UsageError } from '../core/errors.js';
import { isPostgresUrl, StoreError } from '../activation/store/db.js';
import { openStore, type Store, type StoreOptions } from '../activation/store/store.js';
import type { CommandContext } from './command.js';

/** The parseArgs option specs of `--db` and `--data`; spread them into a command's `options`. */
export const storeOptions = {
  db: { type: 'string' },
  data: { type: 'string' },
} as const;

/** Help lines for {@link storeOptions}, to append to a command's help. */
export const storeHelp = `  --db FILE|URL     the store: a SQLite file, or a postgres:// URL (a ?schema=NAME parameter picks
                    the schema); default DATABASE_URL, else activation.sqlite in the data directory
  --data DIR        the data directory (the service's key file, the default SQLite file); default
                    MITID_SIM_DATA, else ./.mitid-sim`;

/** The default data directory, relative to the working directory. */
export const DEFAULT_DATA_DIR = '.mitid-sim';

/** Where a store is, as resolved from options and environment. */
export interface StoreLocation {
  readonly engine: 'sqlite' | 'postgres';
  /** A SQLite file path (absolute) or a PostgreSQL URL without the `schema` parameter. */
  readonly url: string;
  /** PostgreSQL only: the schema from the URL's `schema` parameter. */
  readonly schema?: string;
  /** The data directory (absolute): the key file, and the default SQLite file. */
  readonly dataDir: string;
  /** How to name the store in messages: a file path, or a URL without user or password. */
  readonly label: string;
}

/** A short reason for a file-system failure, without the path (the caller names it). */
function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  const known: Record<string, string> = {
    ENOENT: 'no such file or directory',
    ENOTDIR: 'a part of the path is not a directory',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EEXIST: 'a file is in the way',
    EROFS: 'read-only file system',
  };
  if (typeof code === 'string' && known[code]) return known[code];
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? 'error';
}

function nonEmpty(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** A PostgreSQL URL for messages: scheme, host, port and database only. */
function safeUrlLabel(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/**
 * Resolves the store's location: `--db` (a postgres:// URL or a SQLite file path), else
 * `DATABASE_URL`, else `<data dir>/activation.sqlite`, where the data directory is `--data`, else
 * `MITID_SIM_DATA`, else `./.mitid-sim`. Pure: reads only `values`, `env` and `cwd`.
 */
export function resolveStoreLocation(
  values: CommandContext['values'],
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): StoreLocation {
  const dataDir = resolve(
    cwd,
    nonEmpty(values.data) ?? nonEmpty(env.MITID_SIM_DATA) ?? DEFAULT_DATA_DIR,
  );
  if (values.data !== undefined && nonEmpty(values.data) === undefined)
    throw new UsageError('usage', '--data needs a directory');
  if (values.db !== undefined && nonEmpty(values.db) === undefined)
    throw new UsageError('usage', '--db needs a file or a postgres:// URL');
  const db = nonEmpty(values.db) ?? nonEmpty(env.DATABASE_URL);
  if (db !== undefined && isPostgresUrl(db)) {
    let url: URL;
    try {
      url = new URL(db);
    } catch {
      throw new UsageError('usage', 'the database URL is not a valid postgres:// URL');
    }
    const schema = nonEmpty(url.searchParams.get('schema'));
    url.searchParams.delete('schema');
    return {
      engine: 'postgres',
      url: url.toString(),
      ...(schema === undefined ? {} : { schema }),
      dataDir,
      label: safeUrlLabel(url),
    };
  }
  const file =
    db === undefined
      ? resolve(dataDir, 'activation.sqlite')
      : resolve(cwd, db.replace(/^sqlite:(\/\/)?/i, ''));
  return { engine: 'sqlite', url: file, dataDir, label: file };
}

async function kindOf(path: string): Promise<'file' | 'directory' | 'other' | 'missing'> {
  try {
    const s = await stat(path);
    return s.isFile() ? 'file' : s.isDirectory() ? 'directory' : 'other';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    // ENOTDIR: a part of the path is a file.
    throw new StoreError('bad-database-path', `cannot use ${path} as the database: ${reason(e)}`);
  }
}

/**
 * Opens (and migrates) the store named by `--db` / `--data` (see {@link resolveStoreLocation}).
 * The data directory is made with mode 0700; the service's keys come from it, or from
 * `MITID_SERVICE_KEYS`. Every failure is one clear line naming the store (never a password).
 */
export async function openStoreFor(
  ctx: Pick<CommandContext, 'values'>,
  extra: Omit<StoreOptions, 'url' | 'schema' | 'dataDir'> = {},
): Promise<Store> {
  const loc = resolveStoreLocation(ctx.values);
  try {
    await mkdir(loc.dataDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new StoreError(
      'bad-data-dir',
      `cannot use ${loc.dataDir} as the data directory: ${reason(e)}`,
    );
  }
  if ((await kindOf(loc.dataDir)) !== 'directory')
    throw new StoreError('bad-data-dir', `${loc.dataDir} is not a directory`);
  if (loc.engine === 'sqlite') {
    const kind = await kindOf(loc.url);
    if (kind === 'directory' || kind === 'other')
      throw new StoreError(
        'bad-database-path',
        `${loc.url} is ${kind === 'directory' ? 'a directory' : 'not a regular file'}, not a SQLite database`,
      );
  }
  try {
    return await openStore({
      ...extra,
      url: loc.url,
      dataDir: loc.dataDir,
      ...(loc.schema === undefined ? {} : { schema: loc.schema }),
    });
  } catch (e) {
    const code = isMitidError(e) ? e.code : 'cannot-open-database';
    const why = isMitidError(e) ? e.message : `cannot open the database: ${reason(e)}`;
    throw new StoreError(code, `${loc.label}: ${why}`, { cause: e });
  }
}

/** Opens the store for `ctx`, runs `fn` with it, and closes it whatever happens. */
export async function withStore<T>(
  ctx: Pick<CommandContext, 'values'>,
  fn: (store: Store) => Promise<T>,
): Promise<T> {
  const store = await openStoreFor(ctx);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** The activation service's persistence: schema, migrations, secrets, repositories, the store. */
export * from './schema.js';
export * from './migrations.js';
export * from './db.js';
export * from './secrets.js';
export * from './repositories.js';
export * from './store.js';

/**
 * PostgreSQL storage for several stateless `kv-server` instances on one database
 * (docs/architecture.md "PostgreSQL"): `PostgresStorage`, `PostgresTokenStore`, and what the server
 * uses to start on them.
 *
 * @module
 */
export { DatabaseUnavailableError, isConnectionError } from './errors.js';
export { PG_MIGRATIONS } from './schema.js';
export { PostgresOpenError, PostgresStorage, type PostgresStorageOptions, redactUrl } from './storage.js';
export { PostgresTokenStore, type PostgresTokenStoreOptions } from './tokens.js';

/**
 * Key of the advisory lock held while an instance bootstraps the admin token, so instances starting
 * at once do not each register (and revoke each other's) bootstrap tokens.
 */
export const ADMIN_BOOTSTRAP_LOCK_KEY = 0x6b7602;

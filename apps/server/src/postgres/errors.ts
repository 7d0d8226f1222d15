/**
 * What the PostgreSQL storage makes of a database that cannot be reached: a 503 `unavailable` error
 * for the client (the write may be retried; nothing acknowledged is lost), and `/readyz` false.
 *
 * @module
 */
import { ServerError } from '@kv/core';

/**
 * Thrown by `PostgresStorage` and `PostgresTokenStore` when the database cannot be reached or the
 * connection broke (server down or restarting, network, pool timeout): a 503 `unavailable` error
 * (details `{ reason: 'database_unavailable' }`). Its message never holds the connection URL; `cause`
 * keeps the driver's error for logs.
 */
export class DatabaseUnavailableError extends ServerError {
  /** @param cause - the driver's error */
  constructor(cause: unknown) {
    super('The server database is unreachable; retry later', {
      code: 'unavailable',
      status: 503,
      cause,
      details: { reason: 'database_unavailable' },
    });
  }
}

/** Node socket errors that mean "no connection to the database". */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOENT', // unix socket missing: server not running
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * Whether `error` (from `pg`) means the database is unreachable rather than that the statement failed:
 * a socket error, an SQLSTATE of class 08 (connection exception), 57P01-57P03 (shutdown, crash,
 * cannot connect now), 53300 (too many connections), or the pool's and client's own connection
 * messages.
 */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (SOCKET_CODES.has(code)) return true;
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300')
      return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended unexpectedly/i.test(
    error.message,
  );
}

/** `error` as the storage throws it: connection errors become {@link DatabaseUnavailableError}. */
export function mapPgError(error: unknown): unknown {
  if (error instanceof DatabaseUnavailableError) return error;
  return isConnectionError(error) ? new DatabaseUnavailableError(error) : error;
}

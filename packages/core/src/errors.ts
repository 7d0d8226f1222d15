/**
 * The kv error hierarchy: one base class, one `as const` table from wire code to HTTP status and class.
 * The engine writes errors from the table ({@link toWireError}); clients read them back with it
 * ({@link errorFromWire}), so a `RevisionMismatchError` thrown by the engine is a `RevisionMismatchError`
 * in the client. Semantics: docs/protocol.md "Errors"; status codes follow RFC 9110 and the Ironflow seed
 * (412 for create-if-exists and compare-and-swap mismatches).
 *
 * @module
 */

const KV_ERROR_BRAND = '__kvError' as const;

/**
 * Every error code kv puts on the wire, with its HTTP status. Unknown codes from a newer server still
 * type-check through `KvErrorCode | (string & {})`.
 */
export const ERROR_CODES = {
  validation_error: 400,
  idempotency_key_reused: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  route_not_found: 404,
  store_not_found: 404,
  key_not_found: 404,
  method_not_allowed: 405,
  revision_compacted: 410,
  revision_mismatch: 412,
  key_exists: 412,
  store_exists: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  not_implemented: 501,
  unavailable: 503,
  network_error: 0,
  timeout: 0,
  configuration_error: 0,
} as const;

/** A known kv error code (see {@link ERROR_CODES}). */
export type KvErrorCode = keyof typeof ERROR_CODES;

/** The JSON body of every error response: `{ "error": { code, message, details? } }` (docs/protocol.md). */
export interface WireError {
  /** The error payload. */
  error: {
    /** Machine-readable code from {@link ERROR_CODES}. */
    code: KvErrorCode | (string & {});
    /** Human-readable explanation; never contains a token or a stored value. */
    message: string;
    /** Structured context, e.g. `{ field: 'key', maxBytes: 512 }` or `{ failedKeys: [...] }`. */
    details?: Record<string, unknown>;
  };
}

/** Options accepted by every {@link KvError} constructor. */
export interface KvErrorOptions {
  /** Wire code; defaults to the subclass's own code. */
  code?: KvErrorCode | (string & {});
  /** HTTP status; defaults to the code's status in {@link ERROR_CODES}. */
  status?: number;
  /** The underlying error (network failure, abort, parse error). */
  cause?: unknown;
  /** The server's request id (`Kv-Request-Id` response header), when there was a response. */
  requestId?: string | undefined;
  /** Structured details from the wire error body. */
  details?: Record<string, unknown> | undefined;
}

/**
 * Base class of every error kv throws. Check with {@link isKvError} (works across realms and duplicate
 * copies of the package: the brand is a plain property) or `instanceof`.
 */
export class KvError extends Error {
  /** Brand checked by {@link isKvError}. */
  readonly __kvError: true = true;
  /** Machine-readable code, e.g. `revision_mismatch`. */
  readonly code: KvErrorCode | (string & {});
  /** HTTP status of the response, or `0` when no response arrived (network errors, timeouts). */
  readonly status: number;
  /** Server request id, when a response arrived. */
  readonly requestId: string | undefined;
  /** Structured details from the wire body. */
  readonly details: Record<string, unknown> | undefined;

  /** The code a subclass uses when none is given. */
  static defaultCode: KvErrorCode = 'internal';

  /**
   * @param message - human-readable text
   * @param options - code, status, cause, requestId, details
   */
  constructor(message: string, options: KvErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    const ctor = new.target as typeof KvError;
    this.name = ctor.name;
    this.code = options.code ?? ctor.defaultCode;
    this.status = options.status ?? statusOf(this.code);
    this.requestId = options.requestId;
    this.details = options.details;
  }

  /** A plain object for logs and `JSON.stringify`: name, code, status, message, requestId, details. */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      status: this.status,
      message: this.message,
      requestId: this.requestId,
      details: this.details,
    };
  }
}

/** 400: the request is malformed or breaks a limit; nothing was changed. */
export class ValidationError extends KvError {
  static override defaultCode: KvErrorCode = 'validation_error';
}
/** 401: no token, or the token is unknown, expired or revoked. */
export class UnauthenticatedError extends KvError {
  static override defaultCode: KvErrorCode = 'unauthenticated';
}
/** 403: the token is valid but lacks the capability for this operation. */
export class UnauthorizedError extends KvError {
  static override defaultCode: KvErrorCode = 'forbidden';
}
/** 404: a store, key, id or route does not exist. */
export class NotFoundError extends KvError {
  static override defaultCode: KvErrorCode = 'not_found';
}
/** 404 `store_not_found`: the named store does not exist (Ironflow "Bucket not found"). */
export class StoreNotFoundError extends NotFoundError {
  static override defaultCode: KvErrorCode = 'store_not_found';
}
/** 412 `key_exists`: `create` on a key that exists (Ironflow `create`); also `store_exists`. */
export class KeyExistsError extends KvError {
  static override defaultCode: KvErrorCode = 'key_exists';
}
/** 412 `revision_mismatch`: compare-and-swap failed (Ironflow `update`, `If-Match`). */
export class RevisionMismatchError extends KvError {
  static override defaultCode: KvErrorCode = 'revision_mismatch';
}
/** 410 `revision_compacted`: a watch resume point is older than the change log; re-list, then watch. */
export class RevisionCompactedError extends KvError {
  static override defaultCode: KvErrorCode = 'revision_compacted';
}
/**
 * 413 `payload_too_large`: a value over the store's `maxValueBytes`, a request body over the server's body
 * limit, or a bulk call or atomic commit of more than 10,000 items (docs/protocol.md "Limits"). An
 * over-long key, metadata or scopes are a {@link ValidationError} (400) instead.
 */
export class PayloadTooLargeError extends KvError {
  static override defaultCode: KvErrorCode = 'payload_too_large';
}
/** 429: too many requests. `retryAfterMs` comes from the `Retry-After` header. */
export class RateLimitedError extends KvError {
  static override defaultCode: KvErrorCode = 'rate_limited';
  /** Milliseconds to wait before retrying, from `Retry-After`; undefined when absent. */
  retryAfterMs: number | undefined;
  /** @param message - text; @param options - as {@link KvErrorOptions} plus `retryAfterMs` */
  constructor(message: string, options: KvErrorOptions & { retryAfterMs?: number | undefined } = {}) {
    super(message, options);
    this.retryAfterMs = options.retryAfterMs;
  }
}
/** 5xx: the server failed. */
export class ServerError extends KvError {
  static override defaultCode: KvErrorCode = 'internal';
}
/** No response: DNS, connection refused or reset. `status` is 0; `cause` holds the original error. */
export class NetworkError extends KvError {
  static override defaultCode: KvErrorCode = 'network_error';
}
/** No response within `timeoutMs`. `status` is 0. */
export class TimeoutError extends KvError {
  static override defaultCode: KvErrorCode = 'timeout';
}
/**
 * The client is not configured to make requests: no server URL (neither the `url` option nor
 * `KV_URL`), a URL that is not an absolute `http:`/`https:` URL, or a token file that cannot be read or
 * is empty. Thrown by `createClient` / `createHttpClient` before any request, so `status` is 0 and there
 * is no request id; never on the wire (docs/protocol.md "Errors").
 */
export class ConfigurationError extends KvError {
  static override defaultCode: KvErrorCode = 'configuration_error';
}

/** The class for each known code. Codes not listed here fall back to the class for their status. */
const CLASS_BY_CODE: Record<KvErrorCode, typeof KvError> = {
  validation_error: ValidationError,
  idempotency_key_reused: ValidationError,
  unauthenticated: UnauthenticatedError,
  forbidden: UnauthorizedError,
  not_found: NotFoundError,
  route_not_found: NotFoundError,
  store_not_found: StoreNotFoundError,
  key_not_found: NotFoundError,
  method_not_allowed: ValidationError,
  revision_compacted: RevisionCompactedError,
  key_exists: KeyExistsError,
  store_exists: KeyExistsError,
  revision_mismatch: RevisionMismatchError,
  payload_too_large: PayloadTooLargeError,
  unsupported_media_type: ValidationError,
  rate_limited: RateLimitedError,
  internal: ServerError,
  not_implemented: ServerError,
  unavailable: ServerError,
  network_error: NetworkError,
  timeout: TimeoutError,
  configuration_error: ConfigurationError,
};

function statusOf(code: string): number {
  return (ERROR_CODES as Record<string, number>)[code] ?? 500;
}

function classForStatus(status: number): typeof KvError {
  if (status === 400 || status === 405 || status === 415) return ValidationError;
  if (status === 401) return UnauthenticatedError;
  if (status === 403) return UnauthorizedError;
  if (status === 404) return NotFoundError;
  if (status === 410) return RevisionCompactedError;
  if (status === 412) return RevisionMismatchError;
  if (status === 413) return PayloadTooLargeError;
  if (status === 429) return RateLimitedError;
  if (status >= 500) return ServerError;
  return KvError;
}

/**
 * True when `value` is a kv error, even one from another copy of `@kv/core` or another realm: it checks
 * the plain string-keyed brand property `__kvError === true` that every {@link KvError} carries (like
 * ky's type guards), not `instanceof`.
 */
export function isKvError(value: unknown): value is KvError {
  return (
    typeof value === 'object' && value !== null && (value as Record<string, unknown>)[KV_ERROR_BRAND] === true
  );
}

/**
 * Builds the right {@link KvError} subclass from a response status and its parsed JSON body.
 * Unknown or missing bodies map by status (e.g. a proxy's 502 -> {@link ServerError}).
 *
 * @param status - HTTP status of the response
 * @param body - the parsed body, expected to be a {@link WireError}; anything else is tolerated
 * @param extra - request id and `Retry-After` (ms) read from headers, and the underlying error (`cause`)
 */
export function errorFromWire(
  status: number,
  body: unknown,
  extra: { requestId?: string | undefined; retryAfterMs?: number | undefined; cause?: unknown } = {},
): KvError {
  const wire = isWireError(body) ? body.error : undefined;
  const code = wire?.code ?? codeForStatus(status);
  const Ctor = (CLASS_BY_CODE as Record<string, typeof KvError>)[code] ?? classForStatus(status);
  const message = wire?.message ?? `HTTP ${status}`;
  const options: KvErrorOptions & { retryAfterMs?: number | undefined } = {
    code,
    status,
    requestId: extra.requestId,
    details: wire?.details,
  };
  if (extra.cause !== undefined) options.cause = extra.cause;
  if (Ctor === RateLimitedError) options.retryAfterMs = extra.retryAfterMs;
  return new Ctor(message, options);
}

function codeForStatus(status: number): string {
  for (const [code, s] of Object.entries(ERROR_CODES)) if (s === status) return code;
  return status >= 500 ? 'internal' : `http_${status}`;
}

function isWireError(body: unknown): body is WireError {
  if (typeof body !== 'object' || body === null) return false;
  const e = (body as { error?: unknown }).error;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as { code?: unknown }).code === 'string' &&
    typeof (e as { message?: unknown }).message === 'string'
  );
}

/**
 * The wire form of an error, for the engine: `{ status, body }` where body is a {@link WireError}.
 * Errors that are not {@link KvError}s become a 500 `internal` with a generic message (their text may
 * hold secrets, so it is not exposed).
 */
export function toWireError(error: unknown): { status: number; body: WireError } {
  if (!isKvError(error)) {
    return { status: 500, body: { error: { code: 'internal', message: 'Internal server error' } } };
  }
  const body: WireError = { error: { code: error.code, message: error.message } };
  if (error.details !== undefined) body.error.details = error.details;
  return { status: error.status || 500, body };
}

import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  ERROR_CODES,
  errorFromWire,
  isKvError,
  KeyExistsError,
  KvError,
  type KvErrorCode,
  NetworkError,
  NotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  RevisionCompactedError,
  RevisionMismatchError,
  ServerError,
  StoreNotFoundError,
  TimeoutError,
  toWireError,
  UnauthenticatedError,
  UnauthorizedError,
  ValidationError,
} from './errors.js';

/** The class each wire code must come back as (docs/protocol.md "Errors", docs/architecture.md decisions). */
const EXPECTED_CLASS: Record<KvErrorCode, typeof KvError> = {
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

describe('ERROR_CODES', () => {
  it('has the statuses of PRODUCT.md', () => {
    expect(ERROR_CODES.validation_error).toBe(400);
    expect(ERROR_CODES.unauthenticated).toBe(401);
    expect(ERROR_CODES.forbidden).toBe(403);
    expect(ERROR_CODES.store_not_found).toBe(404);
    expect(ERROR_CODES.key_exists).toBe(412);
    expect(ERROR_CODES.revision_mismatch).toBe(412);
    expect(ERROR_CODES.payload_too_large).toBe(413);
    expect(ERROR_CODES.rate_limited).toBe(429);
    expect(ERROR_CODES.internal).toBe(500);
    expect(ERROR_CODES.network_error).toBe(0);
  });
  it('is covered by this test table', () => {
    expect(Object.keys(EXPECTED_CLASS).sort()).toEqual(Object.keys(ERROR_CODES).sort());
  });
});

describe('errorFromWire', () => {
  for (const [code, status] of Object.entries(ERROR_CODES) as Array<[KvErrorCode, number]>) {
    it(`maps ${code} (${status}) to ${EXPECTED_CLASS[code].name}`, () => {
      const details = { field: 'key', code };
      const error = errorFromWire(
        status,
        { error: { code, message: `msg ${code}`, details } },
        { requestId: 'req-1' },
      );
      expect(error).toBeInstanceOf(EXPECTED_CLASS[code]);
      expect(error).toBeInstanceOf(KvError);
      expect(error).toBeInstanceOf(Error);
      expect(error.constructor).toBe(EXPECTED_CLASS[code]);
      expect(error.name).toBe(EXPECTED_CLASS[code].name);
      expect(error.code).toBe(code);
      expect(error.status).toBe(status);
      expect(error.message).toBe(`msg ${code}`);
      expect(error.requestId).toBe('req-1');
      expect(error.details).toEqual(details);
      expect(isKvError(error)).toBe(true);
    });
  }

  it('falls back by status for unknown codes', () => {
    const cases: Array<[number, typeof KvError]> = [
      [400, ValidationError],
      [401, UnauthenticatedError],
      [403, UnauthorizedError],
      [404, NotFoundError],
      [410, RevisionCompactedError],
      [412, RevisionMismatchError],
      [413, PayloadTooLargeError],
      [429, RateLimitedError],
      [500, ServerError],
      [503, ServerError],
      [418, KvError],
    ];
    for (const [status, Ctor] of cases) {
      const error = errorFromWire(status, { error: { code: 'from_the_future', message: 'new' } });
      expect(error.constructor, String(status)).toBe(Ctor);
      expect(error.code).toBe('from_the_future');
      expect(error.status).toBe(status);
      expect(error.message).toBe('new');
    }
  });

  it('maps bodies that are not wire errors by status', () => {
    const proxy = errorFromWire(502, '<html>Bad gateway</html>');
    expect(proxy).toBeInstanceOf(ServerError);
    expect(proxy.status).toBe(502);
    expect(proxy.code).toBe('internal');
    expect(proxy.message).toBe('HTTP 502');
    expect(errorFromWire(404, null)).toBeInstanceOf(NotFoundError);
    expect(errorFromWire(401, { error: 'nope' })).toBeInstanceOf(UnauthenticatedError);
    expect(errorFromWire(400, { error: { code: 1, message: 'x' } })).toBeInstanceOf(ValidationError);
    expect(errorFromWire(418, undefined).code).toBe('http_418');
  });

  it('carries retryAfterMs on RateLimitedError', () => {
    const error = errorFromWire(
      429,
      { error: { code: 'rate_limited', message: 'slow down' } },
      { retryAfterMs: 1500 },
    );
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(1500);
    const none = errorFromWire(429, null);
    expect(none).toBeInstanceOf(RateLimitedError);
    expect((none as RateLimitedError).retryAfterMs).toBeUndefined();
    expect(new RateLimitedError('x', { retryAfterMs: 20 }).retryAfterMs).toBe(20);
    expect(new RateLimitedError('x').status).toBe(429);
  });

  it('keeps the underlying error as cause', () => {
    const cause = new TypeError('fetch failed');
    const error = errorFromWire(503, null, { cause });
    expect(error.cause).toBe(cause);
  });
});

describe('KvError classes', () => {
  it('take their default code and status', () => {
    const cases: Array<[KvError, string, number]> = [
      [new ValidationError('v'), 'validation_error', 400],
      [new UnauthenticatedError('a'), 'unauthenticated', 401],
      [new UnauthorizedError('f'), 'forbidden', 403],
      [new NotFoundError('n'), 'not_found', 404],
      [new StoreNotFoundError('s'), 'store_not_found', 404],
      [new KeyExistsError('k'), 'key_exists', 412],
      [new RevisionMismatchError('r'), 'revision_mismatch', 412],
      [new PayloadTooLargeError('p'), 'payload_too_large', 413],
      [new ServerError('s'), 'internal', 500],
      [new NetworkError('n'), 'network_error', 0],
      [new TimeoutError('t'), 'timeout', 0],
      [new KvError('k'), 'internal', 500],
    ];
    for (const [error, code, status] of cases) {
      expect(error.code).toBe(code);
      expect(error.status).toBe(status);
      expect(error.requestId).toBeUndefined();
    }
    expect(new StoreNotFoundError('s')).toBeInstanceOf(NotFoundError);
    expect(new KeyExistsError('exists', { code: 'store_exists' }).status).toBe(412);
  });

  it('pass cause through to Error', () => {
    const cause = new Error('ECONNREFUSED');
    const error = new NetworkError('connection refused', { cause });
    expect(error.cause).toBe(cause);
    expect('cause' in new NetworkError('no cause')).toBe(false);
  });

  it('serialize with toJSON', () => {
    const error = new ValidationError('Key must not be empty', {
      requestId: 'r-9',
      details: { field: 'key', reason: 'empty' },
    });
    expect(error.toJSON()).toEqual({
      name: 'ValidationError',
      code: 'validation_error',
      status: 400,
      message: 'Key must not be empty',
      requestId: 'r-9',
      details: { field: 'key', reason: 'empty' },
    });
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      name: 'ValidationError',
      code: 'validation_error',
      status: 400,
      message: 'Key must not be empty',
      requestId: 'r-9',
      details: { field: 'key', reason: 'empty' },
    });
  });
});

describe('isKvError', () => {
  it('recognizes the brand across copies and realms', () => {
    expect(isKvError(new ValidationError('x'))).toBe(true);
    // What a KvError from another copy of @kv/core looks like to this one: not instanceof, but branded.
    const foreign = { __kvError: true, code: 'key_exists', status: 412, message: 'exists' };
    expect(foreign instanceof KvError).toBe(false);
    expect(isKvError(foreign)).toBe(true);
    const rehydrated = Object.assign(new Error('x'), { __kvError: true });
    expect(isKvError(rehydrated)).toBe(true);
  });

  it('rejects everything else', () => {
    for (const value of [
      new Error('x'),
      null,
      undefined,
      'KvError',
      0,
      {},
      { __kvError: 'true' },
      { code: 'internal' },
    ]) {
      expect(isKvError(value)).toBe(false);
    }
  });
});

describe('toWireError', () => {
  it('writes a KvError with its status, code, message and details', () => {
    const error = new RevisionMismatchError('stale', { details: { failedKeys: ['a'] } });
    expect(toWireError(error)).toEqual({
      status: 412,
      body: { error: { code: 'revision_mismatch', message: 'stale', details: { failedKeys: ['a'] } } },
    });
  });

  it('omits details when there are none', () => {
    const { body } = toWireError(new NotFoundError('gone'));
    expect(body).toEqual({ error: { code: 'not_found', message: 'gone' } });
    expect('details' in body.error).toBe(false);
  });

  it('turns any other error into a generic 500 without leaking its message', () => {
    for (const thrown of [
      new Error('password=hunter2 in connection string'),
      new TypeError('x is undefined'),
      'a string',
      42,
      null,
    ]) {
      const { status, body } = toWireError(thrown);
      expect(status).toBe(500);
      expect(body).toEqual({ error: { code: 'internal', message: 'Internal server error' } });
      expect(JSON.stringify(body)).not.toContain('hunter2');
    }
  });

  it('gives errors without a status (network, timeout) a 500', () => {
    expect(toWireError(new TimeoutError('slow')).status).toBe(500);
  });

  it('round-trips through errorFromWire', () => {
    const original = new PayloadTooLargeError('too big', { details: { maxBytes: 26214400 } });
    const { status, body } = toWireError(original);
    const back = errorFromWire(status, JSON.parse(JSON.stringify(body)), { requestId: 'r' });
    expect(back).toBeInstanceOf(PayloadTooLargeError);
    expect(back.message).toBe('too big');
    expect(back.details).toEqual({ maxBytes: 26214400 });
    expect(back.requestId).toBe('r');
  });
});

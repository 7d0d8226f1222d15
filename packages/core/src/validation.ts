/**
 * Input validation shared by the engine (authoritative) and the clients (early, friendly errors): keys,
 * store names, scopes, metadata, store settings, TTLs and times, plus the UTF-8 helpers behind them.
 * Every check throws a {@link ValidationError} (`validation_error`, HTTP 400) whose `details` name the
 * `field` and a machine-readable `reason`. Limits come from {@link LIMITS}; every byte count is UTF-8
 * bytes, never UTF-16 string length (docs/protocol.md "Conventions" and "Limits"; Alien and Cloudflare 512-byte keys,
 * Cloudflare 1024-byte metadata, AntiRaid scopes, NATS KV history 1-64).
 *
 * @module
 */

import { ValidationError } from './errors.js';
import { LIMITS } from './limits.js';
import type { JsonObject, StoreConfig, TokenRateLimit } from './types.js';

/**
 * Why a value was rejected, in `ValidationError.details.reason`:
 * - `type`: wrong JavaScript type (e.g. a number where a string was expected)
 * - `empty`: an empty string
 * - `too_long`: over a length or byte limit (`details.maxBytes` / `details.maxLength` says which)
 * - `control_character`: contains C0 (U+0000-U+001F), DEL (U+007F) or C1 (U+0080-U+009F)
 * - `whitespace`: contains a whitespace character (see {@link isForbiddenCodeUnit})
 * - `lone_surrogate`: contains an unpaired UTF-16 surrogate (not valid Unicode, cannot be UTF-8)
 * - `invalid_character`: a character outside the allowed set (store names)
 * - `too_many`: more items than allowed (scopes)
 * - `not_json`: a value JSON cannot represent (metadata)
 * - `out_of_range`: a number outside its range
 * - `unknown_field`: an unexpected property (store settings)
 * - `invalid_format`: a string that does not parse (times)
 * - `dot_segment`: the key is `.` or `..` (see {@link validateKey})
 */
export type ValidationReason =
  | 'type'
  | 'empty'
  | 'too_long'
  | 'control_character'
  | 'whitespace'
  | 'lone_surrogate'
  | 'invalid_character'
  | 'too_many'
  | 'not_json'
  | 'out_of_range'
  | 'unknown_field'
  | 'invalid_format'
  | 'dot_segment';

function invalid(
  field: string,
  reason: ValidationReason,
  message: string,
  extra: Record<string, unknown> = {},
): ValidationError {
  return new ValidationError(message, { details: { field, reason, ...extra } });
}

/**
 * Number of bytes `text` takes in UTF-8, computed without allocating. A surrogate pair counts 4 bytes;
 * a lone surrogate counts 3, like the U+FFFD that `TextEncoder` writes for it (WHATWG Encoding).
 *
 * @param text - any string
 * @returns the UTF-8 byte length, equal to `new TextEncoder().encode(text).length`
 */
export function utf8ByteLength(text: string): number {
  const n = text.length;
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      bytes += 1;
    } else {
      // Three bytes for the rest of the BMP and for a lone surrogate (U+FFFD); a pair is two units and
      // four bytes, so it also adds 2 (for its first unit) and skips its second.
      bytes += 2;
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) i++;
      }
    }
  }
  return bytes;
}

/**
 * True for UTF-16 code units that keys and scopes may not contain: control characters (C0
 * U+0000-U+001F, DEL U+007F, C1 U+0080-U+009F, which includes NEL U+0085) and whitespace: everything
 * JavaScript's `/\s/` matches (U+0009-U+000D, U+0020, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029,
 * U+202F, U+205F, U+3000, U+FEFF) plus U+180E (Mongolian vowel separator, whitespace before Unicode 6.3).
 * Returns `'control_character'`, `'whitespace'` or `undefined` when allowed. Surrogates are not judged here.
 *
 * @param c - a UTF-16 code unit (`charCodeAt`)
 */
export function isForbiddenCodeUnit(c: number): 'control_character' | 'whitespace' | undefined {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d) ? 'whitespace' : 'control_character';
  if (c < 0x7f) return undefined;
  if (c <= 0x9f) return 'control_character'; // DEL and C1, including NEL U+0085
  if (c === 0xa0) return 'whitespace';
  if (c < 0x1680) return undefined;
  if (
    c === 0x1680 ||
    c === 0x180e ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  ) {
    return 'whitespace';
  }
  return undefined;
}

/**
 * Scans `text` for a forbidden character (see {@link isForbiddenCodeUnit}) or a lone surrogate.
 *
 * @returns the reason of the first problem, or `undefined` when the text is clean
 */
function findBadCharacter(text: string): 'control_character' | 'whitespace' | 'lone_surrogate' | undefined {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x20 && c < 0x7f) continue;
    if (c >= 0xd800 && c <= 0xdfff) {
      if (c <= 0xdbff && i + 1 < n) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          i++;
          continue;
        }
      }
      return 'lone_surrogate';
    }
    const bad = isForbiddenCodeUnit(c);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

const CHARACTER_MESSAGES = {
  control_character: 'must not contain control characters',
  whitespace: 'must not contain whitespace',
  lone_surrogate: 'must be valid Unicode (it contains an unpaired surrogate)',
} as const;

/**
 * Checks a key and returns it unchanged (docs/protocol.md "Conventions": UTF-8, 1-512 bytes, no control characters,
 * no whitespace; Alien and Cloudflare 512-byte limit). A 513-byte key is rejected, never truncated.
 * Every other character is allowed, including URL-reserved ones like `/ ? # % + & = ~` (the protocol
 * percent-encodes keys). The two keys `.` and `..` are rejected: a key travels as one URL path segment
 * (`/v1/stores/{store}/entries/{key}`), and URL parsers (WHATWG URL, RFC 3986 section 5.2.4) remove
 * dot segments even when percent-encoded (`%2E%2E`), so those keys could be written but never addressed.
 *
 * @param key - the candidate key
 * @returns `key`, typed as a string
 * @throws {ValidationError} `details: { field: 'key', reason, maxBytes? }` with reason `type`, `empty`,
 *   `too_long` (`maxBytes: 512`), `control_character`, `whitespace`, `lone_surrogate` or `dot_segment`
 */
export function validateKey(key: unknown): string {
  if (typeof key !== 'string') throw invalid('key', 'type', `Key must be a string, got ${typeName(key)}`);
  if (key.length === 0) throw invalid('key', 'empty', 'Key must not be empty');
  // Fast reject before the exact count: every UTF-16 unit is at least one byte.
  if (key.length > LIMITS.maxKeyBytes || utf8ByteLength(key) > LIMITS.maxKeyBytes) {
    throw invalid('key', 'too_long', `Key must be at most ${LIMITS.maxKeyBytes} bytes of UTF-8`, {
      maxBytes: LIMITS.maxKeyBytes,
    });
  }
  const bad = findBadCharacter(key);
  if (bad !== undefined) throw invalid('key', bad, `Key ${CHARACTER_MESSAGES[bad]}`);
  if (key === '.' || key === '..') {
    throw invalid('key', 'dot_segment', 'Key must not be "." or ".." (URL dot segments cannot be addressed)');
  }
  return key;
}

/**
 * True when {@link validateKey} would accept `key`; for per-item checks in bulk calls.
 *
 * @param key - the candidate key
 */
export function isValidKey(key: unknown): key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > LIMITS.maxKeyBytes) return false;
  return (
    utf8ByteLength(key) <= LIMITS.maxKeyBytes &&
    findBadCharacter(key) === undefined &&
    key !== '.' &&
    key !== '..'
  );
}

/**
 * Checks a key prefix (listing `prefix`, watch `prefix`): like {@link validateKey} but the empty string
 * is allowed (it means "every key").
 *
 * @param prefix - the candidate prefix
 * @returns `prefix`
 * @throws {ValidationError} `details: { field: 'prefix', reason, maxBytes? }` as {@link validateKey}
 */
export function validateKeyPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string') {
    throw invalid('prefix', 'type', `Prefix must be a string, got ${typeName(prefix)}`);
  }
  if (prefix.length > LIMITS.maxKeyBytes || utf8ByteLength(prefix) > LIMITS.maxKeyBytes) {
    throw invalid('prefix', 'too_long', `Prefix must be at most ${LIMITS.maxKeyBytes} bytes of UTF-8`, {
      maxBytes: LIMITS.maxKeyBytes,
    });
  }
  const bad = findBadCharacter(prefix);
  if (bad !== undefined) throw invalid('prefix', bad, `Prefix ${CHARACTER_MESSAGES[bad]}`);
  return prefix;
}

/**
 * Checks a store name: 1-64 characters of `a-z A-Z 0-9 - _` (docs/protocol.md "Stores").
 *
 * @param name - the candidate name
 * @returns `name`
 * @throws {ValidationError} `details: { field: 'store', reason, maxLength? }` with reason `type`, `empty`,
 *   `too_long` (`maxLength: 64`) or `invalid_character`
 */
export function validateStoreName(name: unknown): string {
  if (typeof name !== 'string') {
    throw invalid('store', 'type', `Store name must be a string, got ${typeName(name)}`);
  }
  if (name.length === 0) throw invalid('store', 'empty', 'Store name must not be empty');
  if (name.length > LIMITS.maxStoreNameLength) {
    throw invalid('store', 'too_long', `Store name must be at most ${LIMITS.maxStoreNameLength} characters`, {
      maxLength: LIMITS.maxStoreNameLength,
    });
  }
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const ok =
      (c >= 0x61 && c <= 0x7a) || // a-z
      (c >= 0x41 && c <= 0x5a) || // A-Z
      (c >= 0x30 && c <= 0x39) || // 0-9
      c === 0x2d || // -
      c === 0x5f; // _
    if (!ok) {
      throw invalid('store', 'invalid_character', 'Store name may only contain a-z, A-Z, 0-9, "-" and "_"');
    }
  }
  return name;
}

/**
 * Checks one scope (AntiRaid scopes): a string of 1-64 characters, counted in Unicode code points, with
 * no control characters, whitespace or lone surrogates.
 *
 * @param scope - the candidate scope
 * @returns `scope`
 * @throws {ValidationError} `details: { field: 'scope', reason, maxLength? }` with reason `type`,
 *   `empty`, `too_long` (`maxLength: 64`), `control_character`, `whitespace` or `lone_surrogate`
 */
export function validateScope(scope: unknown): string {
  return checkScope(scope, 'scope');
}

function checkScope(scope: unknown, field: string): string {
  if (typeof scope !== 'string') {
    throw invalid(field, 'type', `Scope must be a string, got ${typeName(scope)}`);
  }
  if (scope.length === 0) throw invalid(field, 'empty', 'Scope must not be empty');
  const bad = findBadCharacter(scope);
  if (bad !== undefined) throw invalid(field, bad, `Scope ${CHARACTER_MESSAGES[bad]}`);
  // No lone surrogates past this point, so code points = units - pairs.
  if (scope.length > LIMITS.maxScopeLength && codePointLength(scope) > LIMITS.maxScopeLength) {
    throw invalid(field, 'too_long', `Scope must be at most ${LIMITS.maxScopeLength} characters`, {
      maxLength: LIMITS.maxScopeLength,
    });
  }
  return scope;
}

function codePointLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/**
 * Checks an entry's scopes (AntiRaid; up to 16, each 1-64 characters) and normalizes them:
 * duplicates removed, sorted by UTF-8 byte order ({@link compareKeys}). The limit of 16 applies to
 * distinct scopes.
 *
 * @param scopes - the candidate array
 * @returns a new array, de-duplicated and sorted
 * @throws {ValidationError} `details: { field: 'scopes', reason, ... }`: reason `type` (not an array of
 *   strings), `too_many` (`maxItems: 16`), or any reason of {@link validateScope} (with `index`)
 */
export function validateScopes(scopes: unknown): string[] {
  if (!Array.isArray(scopes)) {
    throw invalid('scopes', 'type', `Scopes must be an array of strings, got ${typeName(scopes)}`);
  }
  const seen = new Set<string>();
  for (let i = 0; i < scopes.length; i++) {
    const scope: unknown = scopes[i];
    try {
      checkScope(scope, 'scopes');
    } catch (error) {
      if (error instanceof ValidationError && error.details) {
        throw invalid('scopes', error.details.reason as ValidationReason, `${error.message} (scopes[${i}])`, {
          ...error.details,
          field: 'scopes',
          index: i,
        });
      }
      throw error;
    }
    seen.add(scope as string);
  }
  if (seen.size > LIMITS.maxScopes) {
    throw invalid('scopes', 'too_many', `An entry may have at most ${LIMITS.maxScopes} scopes`, {
      maxItems: LIMITS.maxScopes,
    });
  }
  return [...seen].sort(compareKeys);
}

/**
 * Checks entry metadata (Cloudflare per-key metadata; a JSON object of at most 1024 bytes
 * serialized). `null` and `undefined` mean "no metadata". The object must be a plain object (not an
 * array, `Date`, `Map`, class instance) holding only JSON values: `null`, booleans, finite numbers,
 * strings, arrays and plain objects. Properties whose value is `undefined` are dropped, as
 * `JSON.stringify` does.
 *
 * @param metadata - the candidate metadata
 * @returns a JSON-normalized copy of the object, or `null`
 * @throws {ValidationError} `details: { field: 'metadata', reason, maxBytes: 1024 }` with reason `type`,
 *   `not_json` or `too_long` (its `JSON.stringify` is over 1024 UTF-8 bytes)
 */
export function validateMetadata(metadata: unknown): JsonObject | null {
  if (metadata === null || metadata === undefined) return null;
  const extra = { maxBytes: LIMITS.maxMetadataBytes };
  if (!isPlainObject(metadata)) {
    throw invalid('metadata', 'type', `Metadata must be a JSON object, got ${typeName(metadata)}`, extra);
  }
  let json: string;
  try {
    json = JSON.stringify(metadata);
  } catch {
    throw invalid('metadata', 'not_json', 'Metadata must be JSON-serializable (no BigInt, no cycles)', extra);
  }
  if (json.length > LIMITS.maxMetadataBytes || utf8ByteLength(json) > LIMITS.maxMetadataBytes) {
    throw invalid(
      'metadata',
      'too_long',
      `Metadata must be at most ${LIMITS.maxMetadataBytes} bytes as JSON`,
      extra,
    );
  }
  // The serialization is small, so this walk is bounded (each nested container adds >= 2 bytes).
  const path = findNonJson(metadata, '$');
  if (path !== undefined) {
    throw invalid('metadata', 'not_json', `Metadata must only hold JSON values (at ${path})`, {
      ...extra,
      path,
    });
  }
  return JSON.parse(json) as JsonObject;
}

/** Returns the path of the first non-JSON value inside `value`, or undefined. */
function findNonJson(value: unknown, path: string): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : path;
    case 'object': {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const p = findNonJson(value[i], `${path}[${i}]`);
          if (p !== undefined) return p;
        }
        return undefined;
      }
      if (!isPlainObject(value)) return path;
      for (const [k, v] of Object.entries(value)) {
        if (v === undefined) continue;
        const p = findNonJson(v, `${path}.${k}`);
        if (p !== undefined) return p;
      }
      return undefined;
    }
    default:
      return path;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const STORE_CONFIG_DEFAULTS: StoreConfig = {
  history: LIMITS.minHistory,
  defaultTtlMs: null,
  maxValueBytes: LIMITS.defaultMaxValueBytes,
};

/**
 * Checks store settings (docs/protocol.md "Stores"): `history` an integer 1-64 (NATS KV), `defaultTtlMs` a
 * TTL as {@link validateTtlMs} (1 to `LIMITS.maxTtlMs`) or `null`, `maxValueBytes` a positive safe
 * integer of bytes. Unknown
 * properties are rejected. A property set to `undefined` counts as absent.
 *
 * @param input - the candidate settings object
 * @param partial - `true` for an update: only the given settings are returned. `false` for a create:
 *   omitted settings are filled with their defaults (`history: 1`, `defaultTtlMs: null`,
 *   `maxValueBytes: 25 MiB`), so the result is a whole {@link StoreConfig}.
 * @returns the validated settings
 * @throws {ValidationError} `details: { field, reason }` where `field` is `config` (not an object), the
 *   unknown property's name (`unknown_field`), or the setting's name (`type`, `out_of_range`)
 */
export function validateStoreConfig(input: unknown, partial: boolean): Partial<StoreConfig> {
  if (input === undefined || input === null) input = {};
  if (!isPlainObject(input)) {
    throw invalid('config', 'type', `Store settings must be an object, got ${typeName(input)}`);
  }
  const out: Partial<StoreConfig> = partial ? {} : { ...STORE_CONFIG_DEFAULTS };
  for (const [name, value] of Object.entries(input)) {
    if (name !== 'history' && name !== 'defaultTtlMs' && name !== 'maxValueBytes') {
      throw invalid(name, 'unknown_field', `Unknown store setting "${name}"`);
    }
    if (value === undefined) continue;
    if (name === 'history') {
      if (
        !Number.isInteger(value) ||
        (value as number) < LIMITS.minHistory ||
        (value as number) > LIMITS.maxHistory
      ) {
        throw invalid(
          'history',
          typeof value === 'number' ? 'out_of_range' : 'type',
          `history must be an integer from ${LIMITS.minHistory} to ${LIMITS.maxHistory}`,
          { min: LIMITS.minHistory, max: LIMITS.maxHistory },
        );
      }
      out.history = value as number;
    } else if (name === 'defaultTtlMs') {
      out.defaultTtlMs = value === null ? null : validateTtlMs(value, 'defaultTtlMs');
    } else {
      out.maxValueBytes = validatePositiveInt(value, 'maxValueBytes');
    }
  }
  return out;
}

function validatePositiveInt(value: unknown, field: string): number {
  if (typeof value !== 'number') {
    throw invalid(field, 'type', `${field} must be a positive integer, got ${typeName(value)}`);
  }
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw invalid(field, 'out_of_range', `${field} must be a positive integer`);
  }
  return value;
}

/**
 * Checks a token's rate limit (docs/security.md "Rate limits"): `null`/`undefined` for none, else an
 * object with exactly `requests` (an integer from 1 to {@link LIMITS.maxRateLimitRequests}) and
 * `perSeconds` (an integer from 1 to {@link LIMITS.maxRateLimitPerSeconds}, one day). The client checks
 * it before sending and the engine again on `POST /v1/tokens`.
 *
 * @param value - the candidate `rateLimit`
 * @returns the limit as a fresh object, or null
 * @throws {ValidationError} `details: { field: 'rateLimit' | 'rateLimit.requests' | 'rateLimit.perSeconds',
 *   reason: 'type' | 'out_of_range' | 'unknown_field' }`, with `max` for a number over its limit
 */
export function validateTokenRateLimit(value: unknown): TokenRateLimit | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalid(
      'rateLimit',
      'type',
      `rateLimit must be { requests, perSeconds } or null, got ${typeName(value)}`,
    );
  }
  for (const name of Object.keys(value)) {
    if (name !== 'requests' && name !== 'perSeconds') {
      throw invalid('rateLimit', 'unknown_field', `rateLimit has an unknown field "${name}"`);
    }
  }
  const { requests, perSeconds } = value as Record<string, unknown>;
  const bounded = (n: unknown, field: string, max: number): number => {
    const int = validatePositiveInt(n, field);
    if (int > max) throw invalid(field, 'out_of_range', `${field} must be at most ${max}`, { max });
    return int;
  };
  return {
    requests: bounded(requests, 'rateLimit.requests', LIMITS.maxRateLimitRequests),
    perSeconds: bounded(perSeconds, 'rateLimit.perSeconds', LIMITS.maxRateLimitPerSeconds),
  };
}

/**
 * Checks a time to live (Alien `ttlMs`, a store's `defaultTtlMs`): a positive integer number of
 * milliseconds, at most {@link LIMITS.maxTtlMs} (100 years), so that `now + ttlMs` is a valid date
 * (docs/security.md "Limits against hostile clients").
 *
 * @param ttlMs - the candidate TTL, in ms
 * @param field - the name reported in `details.field`
 * @returns `ttlMs`
 * @throws {ValidationError} `details: { field, reason: 'type' | 'out_of_range' }`; `max` (ms) is added
 *   when it is over the limit
 */
export function validateTtlMs(ttlMs: unknown, field = 'ttlMs'): number {
  const value = validatePositiveInt(ttlMs, field);
  if (value > LIMITS.maxTtlMs) {
    throw invalid(field, 'out_of_range', `${field} must be at most ${LIMITS.maxTtlMs} ms (100 years)`, {
      max: LIMITS.maxTtlMs,
    });
  }
  return value;
}

/**
 * The absolute expiry of a write made at `nowMs` with a checked TTL: `nowMs + ttlMs`, refused when it
 * would be later than {@link LIMITS.maxExpiresAtMs} (only a clock near the year 9900 gets there).
 *
 * @param nowMs - the time of the write, in ms from the epoch
 * @param ttlMs - the TTL, in ms; checked with {@link validateTtlMs}
 * @param field - the name reported in `details.field`
 * @returns the expiry, in ms from the epoch
 * @throws {ValidationError} `details: { field, reason: 'type' | 'out_of_range' }`
 */
export function expiresAtAfterTtl(nowMs: number, ttlMs: unknown, field = 'ttlMs'): number {
  const expiresAtMs = nowMs + validateTtlMs(ttlMs, field);
  if (!(expiresAtMs <= LIMITS.maxExpiresAtMs)) {
    throw invalid(field, 'out_of_range', `${field} ends after 9999-12-31T23:59:59.999Z`, {
      maxExpiresAt: MAX_EXPIRES_AT_ISO,
    });
  }
  return expiresAtMs;
}

/**
 * Converts an absolute expiry (AntiRaid `expires_at`, `SetOptions.expiresAt`, `Kv-Expires-At`) to epoch
 * milliseconds with {@link toEpochMs}, refusing one later than {@link LIMITS.maxExpiresAtMs}
 * (9999-12-31T23:59:59.999Z), so that every reader can format it as an ISO 8601 date with a four-digit
 * year. Whether it must be in the future is the caller's rule.
 *
 * @param value - a `Date`, an ISO 8601 string or epoch ms
 * @returns milliseconds since 1970-01-01T00:00:00Z
 * @throws {ValidationError} `details: { field: 'expiresAt', reason: 'type' | 'invalid_format' |
 *   'out_of_range' }`; `maxExpiresAt` (ISO 8601) is added when it is too late
 */
export function validateExpiresAt(value: Date | string | number): number {
  const ms = toEpochMs(value);
  if (ms > LIMITS.maxExpiresAtMs) {
    throw invalid('expiresAt', 'out_of_range', `expiresAt must be at most ${MAX_EXPIRES_AT_ISO}`, {
      maxExpiresAt: MAX_EXPIRES_AT_ISO,
    });
  }
  return ms;
}

/**
 * Brings a time read back from storage into the range every reader can format (0 to
 * {@link LIMITS.maxExpiresAtMs}): a later time (a row written before the limits, or planted in the
 * file) reads as 9999-12-31T23:59:59.999Z, an earlier one as 1970-01-01T00:00:00.000Z, `NaN` as 0, and
 * fractions are truncated. Clamping keeps an expiry on the same side of any real clock, so an entry
 * that was live stays live and an expired one stays expired. Never throws.
 *
 * @param ms - the stored time, in ms from the epoch
 * @returns a whole number of ms that `new Date(ms).toISOString()` formats with a four-digit year
 */
export function clampEpochMs(ms: number): number {
  if (Number.isNaN(ms)) return 0;
  if (ms >= LIMITS.maxExpiresAtMs) return LIMITS.maxExpiresAtMs;
  if (ms <= 0) return 0;
  return Math.trunc(ms);
}

/**
 * A stored expiry as readers show it: `null` for none, {@link clampEpochMs} of a number, and `null`
 * for anything else a storage file may hold (SQLite orders text after every number, so `expires_at <=
 * now` never holds for it: such a row never expires). For storage row mappers.
 *
 * @param value - the raw stored value (a column value)
 * @returns the expiry in ms from the epoch, or `null` for "never expires"
 */
export function storedExpiresAtMs(value: unknown): number | null {
  if (typeof value !== 'number' || Number.isNaN(value)) return null;
  return clampEpochMs(value);
}

const MAX_EXPIRES_AT_ISO = '9999-12-31T23:59:59.999Z';

/** Largest absolute time a JavaScript `Date` holds, in ms from the epoch (ECMA-262 21.4.1.1). */
const MAX_EPOCH_MS = 8.64e15;

const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?([Zz]|([+-])(\d{2}):?(\d{2}))?)?$/;

/**
 * Converts an absolute time to epoch milliseconds (AntiRaid `expires_at`, Cloudflare `expiration`,
 * `SetOptions.expiresAt`).
 *
 * - a `Date`: its time value
 * - a number: epoch milliseconds (fractions truncated)
 * - a string: ISO 8601 / RFC 3339, `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS[.fff...]][Z|±HH:MM]`; a time
 *   without an offset is read as UTC (not local time, so every machine agrees); calendar fields are
 *   checked (no February 30th, no hour 25)
 *
 * @param value - the time
 * @returns milliseconds since 1970-01-01T00:00:00Z
 * @throws {ValidationError} `details: { field: 'expiresAt', reason: 'type' | 'invalid_format' |
 *   'out_of_range' }` for other types, unparsable strings, invalid dates or non-finite numbers
 */
export function toEpochMs(value: Date | string | number): number {
  const field = 'expiresAt';
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw invalid(field, 'out_of_range', 'Invalid Date');
    return ms;
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || Math.abs(value) > MAX_EPOCH_MS) {
      throw invalid(field, 'out_of_range', 'Time must be a finite number of epoch milliseconds');
    }
    return Math.trunc(value) + 0; // + 0 turns -0 into 0
  }
  if (typeof value !== 'string') {
    throw invalid(
      field,
      'type',
      `Time must be a Date, an ISO 8601 string or epoch ms, got ${typeName(value)}`,
    );
  }
  const m = ISO_8601.exec(value);
  if (!m)
    throw invalid(field, 'invalid_format', 'Time must be an ISO 8601 string, e.g. 2025-01-31T12:00:00Z');
  const num = (i: number): number => (m[i] === undefined ? 0 : Number(m[i]));
  const year = num(1);
  const month = num(2);
  const day = num(3);
  const hour = num(4);
  const minute = num(5);
  const second = num(6);
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  // setUTCFullYear, unlike Date.UTC, does not read years 0-99 as 1900-1999.
  const check = new Date(0);
  check.setUTCFullYear(year, month - 1, day);
  check.setUTCHours(hour, minute, second, ms);
  const base = check.getTime();
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    check.getUTCHours() !== hour ||
    check.getUTCMinutes() !== minute ||
    check.getUTCSeconds() !== second
  ) {
    throw invalid(field, 'invalid_format', `Invalid date or time: ${value.slice(0, 40)}`);
  }
  let offsetMs = 0;
  if (m[9] !== undefined) {
    const oh = num(10);
    const om = num(11);
    if (oh > 23 || om > 59) throw invalid(field, 'invalid_format', 'Invalid UTC offset');
    offsetMs = (m[9] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  return base - offsetMs;
}

/**
 * Orders two strings by their UTF-8 bytes, which is Unicode code point order (docs/protocol.md "Conventions" ("keys are
 * ordered by their UTF-8 bytes in every listing"). This differs from JavaScript's default UTF-16 order
 * for characters above U+FFFF: `'\uFFFF' < '😀'` here, but not with `<`. Runs on code units with no
 * allocation; ASCII and BMP characters compare directly, surrogate pairs are lifted above U+FFFF. Lone
 * surrogates (never in valid keys) sort as if they were supplementary characters.
 *
 * @returns a negative number when `a` sorts first, positive when `b` does, `0` when equal; usable
 *   directly as an `Array.prototype.sort` comparator
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    if (ca < 0xd800 && cb < 0xd800) return ca - cb;
    // Map code units so that BMP characters above the surrogates (U+E000-U+FFFF) sort before surrogates,
    // which encode code points >= U+10000.
    ca = ca >= 0xe000 ? ca - 0x800 : ca >= 0xd800 ? ca + 0x2000 : ca;
    cb = cb >= 0xe000 ? cb - 0x800 : cb >= 0xd800 ? cb + 0x2000 : cb;
    return ca - cb;
  }
  return a.length - b.length;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

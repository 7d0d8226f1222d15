/**
 * Authentication and token management (docs/security.md). Tokens are random 256-bit
 * secrets shown once; only their SHA-256 hash is stored, and lookups compare hashes in constant time.
 * Tokens live in a {@link TokenStore}, separate from entry `Storage`, so a deployment can keep them in the
 * same database (SqliteTokenStore in apps/server) or elsewhere.
 *
 * @module
 */
import {
  bytesToBase64Url,
  type CreatedToken,
  type ParsedCapability,
  parseCapabilities,
  parseCapability,
  type TokenInfo,
  type TokenRateLimit,
  toEpochMs,
  UnauthenticatedError,
  ValidationError,
  validateTokenRateLimit,
} from '@kv/core/protocol';
import { sha256HexSync } from './sha256.js';
import { timingSafeEqual } from './signing.js';

/** A stored token: everything but the secret, which is kept only as `hash`. */
export interface TokenRecord {
  /** Public id (`tok_...`), used to list and revoke. */
  id: string;
  /** Hex SHA-256 of the secret. */
  hash: string;
  /** Capability strings, validated at creation. */
  capabilities: string[];
  /** Free text, or null. */
  description: string | null;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms, or null for no expiry. */
  expiresAt: number | null;
  /** Epoch ms of revocation, or null. */
  revokedAt: number | null;
  /**
   * Requests allowed per window (docs/security.md "Rate limits"); null or absent: no limit (records
   * written before rate limits existed have none).
   */
  rateLimit?: TokenRateLimit | null;
}

/** Where tokens are kept. */
export interface TokenStore {
  /** Saves a new token. */
  insert(record: TokenRecord): Promise<void>;
  /** The token whose hash is `hash`, if any (revoked and expired ones included: the caller decides). */
  findByHash(hash: string): Promise<TokenRecord | undefined>;
  /** All tokens, oldest first. */
  list(): Promise<TokenRecord[]>;
  /** Marks a token revoked at `nowMs`. Returns false when no such (unrevoked) token exists. */
  revoke(id: string, nowMs: number): Promise<boolean>;
  /**
   * Counts one request of a rate-limited token in the fixed window `[windowStartMs, windowStartMs +
   * windowMs)` and answers the window's count with this request included (docs/security.md "Rate
   * limits"). Called only for tokens with a `rateLimit`, once per request, before its body is read.
   * Implement it where the count must be shared by several processes (`PostgresTokenStore`: one upsert
   * in the shared database); without it the engine counts in its own memory, which is exact for one
   * process. An implementation keeps its counts bounded: windows that ended may be dropped.
   *
   * @param tokenId - the token's id
   * @param windowStartMs - start of the window, epoch ms, a multiple of `windowMs`
   * @param windowMs - the window's length, in ms (`perSeconds * 1000`)
   */
  countRequest?(tokenId: string, windowStartMs: number, windowMs: number): Promise<number>;
}

/** In-memory {@link TokenStore} (the mock, tests, `--storage memory`). */
export class MemoryTokenStore implements TokenStore {
  readonly #byId = new Map<string, TokenRecord>();

  /** {@inheritDoc TokenStore.insert} */
  async insert(record: TokenRecord): Promise<void> {
    this.#byId.set(record.id, copyRecord(record));
  }
  /** {@inheritDoc TokenStore.findByHash} */
  async findByHash(hash: string): Promise<TokenRecord | undefined> {
    let found: TokenRecord | undefined;
    // Visit every record and compare in constant time, so timing does not reveal a partial match.
    for (const r of this.#byId.values()) if (timingSafeEqual(r.hash, hash)) found = r;
    return found ? copyRecord(found) : undefined;
  }
  /** {@inheritDoc TokenStore.list} */
  async list(): Promise<TokenRecord[]> {
    return [...this.#byId.values()].map(copyRecord);
  }
  /** {@inheritDoc TokenStore.revoke} */
  async revoke(id: string, nowMs: number): Promise<boolean> {
    const r = this.#byId.get(id);
    if (!r || r.revokedAt !== null) return false;
    r.revokedAt = nowMs;
    return true;
  }
}

/** A copy of `r` that shares no array or object with it. */
function copyRecord(r: TokenRecord): TokenRecord {
  const copy: TokenRecord = { ...r, capabilities: [...r.capabilities] };
  if (r.rateLimit) copy.rateLimit = { ...r.rateLimit };
  return copy;
}

/**
 * Hex SHA-256 of a token secret (UTF-8). Computed synchronously in JavaScript (`sha256.ts`): every
 * authenticated request hashes its token, and `crypto.subtle.digest` costs ~50 µs of CPU per call on
 * Node 20. Same digest as `crypto.subtle`.
 */
export async function hashToken(secret: string): Promise<string> {
  return sha256HexSync(secret);
}

/** A new random token secret: `kv_` + 256 random bits, base64url. */
export function generateTokenSecret(): string {
  return `kv_${bytesToBase64Url(crypto.getRandomValues(new Uint8Array(32)))}`;
}

/** The authenticated caller of a request: a token, or a signed URL (which carries its own grant). */
export interface Principal {
  /** How the request was authenticated. */
  via: 'token' | 'signed-url';
  /** Token id (`tok_...`); undefined for a signed URL. */
  tokenId: string | undefined;
  /** Parsed capabilities. A signed URL has `get`/`exists` on its record or `list` on its store. */
  capabilities: ParsedCapability[];
  /** The token's rate limit, when it has one (docs/security.md "Rate limits"); never on a signed URL. */
  rateLimit?: TokenRateLimit;
}

/** Input of {@link createToken}. */
export interface CreateTokenInput {
  /** Capability strings (validated strictly). */
  capabilities: unknown;
  /** Expiry: Date, ISO string or epoch ms; null or absent for none. */
  expiresAt?: unknown;
  /** Free text, at most 256 characters. */
  description?: unknown;
  /** `{ requests, perSeconds }`, or null or absent for no limit (docs/security.md "Rate limits"). */
  rateLimit?: unknown;
}

/**
 * Creates a token: validates capabilities strictly, stores the hash, returns the secret once.
 *
 * @throws {ValidationError} malformed capability, expiry in the past, over-long description, a
 *   `rateLimit` out of range (`validateTokenRateLimit`)
 */
export async function createToken(
  tokens: TokenStore,
  input: CreateTokenInput,
  nowMs: number,
): Promise<CreatedToken> {
  const parsed = parseCapabilities(input.capabilities);
  let expiresAt: number | null = null;
  if (input.expiresAt !== undefined && input.expiresAt !== null) {
    expiresAt = toEpochMs(input.expiresAt as string | number);
    if (expiresAt <= nowMs) {
      throw new ValidationError('expiresAt must be in the future', { details: { field: 'expiresAt' } });
    }
  }
  if (input.description !== undefined && input.description !== null) {
    if (typeof input.description !== 'string' || input.description.length > 256) {
      throw new ValidationError('description must be a string of at most 256 characters', {
        details: { field: 'description' },
      });
    }
  }
  const rateLimit = validateTokenRateLimit(input.rateLimit);
  const secret = generateTokenSecret();
  const record: TokenRecord = {
    id: `tok_${crypto.randomUUID().replace(/-/g, '')}`,
    hash: await hashToken(secret),
    capabilities: parsed.map((c) => c.source),
    description: typeof input.description === 'string' ? input.description : null,
    createdAt: nowMs,
    expiresAt,
    revokedAt: null,
    rateLimit,
  };
  await tokens.insert(record);
  return { ...toTokenInfo(record), token: secret };
}

/** The public view of a token record (no hash). */
export function toTokenInfo(r: TokenRecord): TokenInfo {
  return {
    id: r.id,
    capabilities: [...r.capabilities],
    description: r.description,
    createdAt: new Date(r.createdAt).toISOString(),
    expiresAt: r.expiresAt === null ? null : new Date(r.expiresAt).toISOString(),
    revokedAt: r.revokedAt === null ? null : new Date(r.revokedAt).toISOString(),
    rateLimit: r.rateLimit ? { ...r.rateLimit } : null,
  };
}

/**
 * Hashes of recently presented `Authorization` headers (at most {@link HASH_CACHE_LIMIT}, emptied when
 * full; headers of at most 600 characters): a client sends the same token on every request, and
 * hashing it costs about 2 µs of a ~50 µs read. Only the hash is cached, never the lookup: the token store is asked on every request, so
 * revocation and expiry still take effect on the next one (docs/security.md "Tokens").
 */
const hashByHeader = new Map<string, string>();

/** Most entries of the header-to-hash cache of {@link authenticate}. */
const HASH_CACHE_LIMIT = 1024;

/**
 * Authenticates `Authorization: Bearer <token>`: the token must exist, not be revoked and not be expired
 * at `nowMs`. Revocation and expiry take effect on the next request: the token store is asked every
 * time (only the SHA-256 of a recently seen header is remembered).
 *
 * @throws {UnauthenticatedError} missing header, malformed header, unknown, revoked or expired token —
 *   all with the same message, so the response does not tell which
 */
export async function authenticate(
  tokens: TokenStore,
  authorization: string | null,
  nowMs: number,
): Promise<Principal> {
  let hash = authorization ? hashByHeader.get(authorization) : undefined;
  if (hash === undefined) {
    const m = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
    if (!m)
      throw new UnauthenticatedError('A valid bearer token is required', { details: { reason: 'missing' } });
    hash = await hashToken(m[1]!);
    // Token secrets are at most 512 characters: a longer header is hashed, never kept.
    if ((authorization as string).length <= 600) {
      if (hashByHeader.size >= HASH_CACHE_LIMIT) hashByHeader.clear();
      hashByHeader.set(authorization as string, hash);
    }
  }
  const record = await tokens.findByHash(hash);
  if (!record || record.revokedAt !== null || (record.expiresAt !== null && record.expiresAt <= nowMs)) {
    throw new UnauthenticatedError('A valid bearer token is required', { details: { reason: 'invalid' } });
  }
  const principal: Principal = { via: 'token', tokenId: record.id, capabilities: parsedCapabilities(record) };
  if (record.rateLimit) principal.rateLimit = record.rateLimit;
  return principal;
}

/** Parsed capabilities by record object: a token store that caches its records parses each once. */
const parsedByRecord = new WeakMap<TokenRecord, readonly ParsedCapability[]>();

function parsedCapabilities(record: TokenRecord): ParsedCapability[] {
  const known = parsedByRecord.get(record);
  if (known !== undefined) return [...known];
  // Stored capabilities were validated at creation; one that no longer parses grants nothing.
  const capabilities: ParsedCapability[] = [];
  for (const text of record.capabilities) {
    try {
      capabilities.push(parseCapability(text));
    } catch {
      // fail closed
    }
  }
  parsedByRecord.set(record, capabilities);
  return [...capabilities];
}

/** Input of {@link ensureToken}. */
export interface EnsureTokenInput {
  /** The secret the operator chose (e.g. `KV_ADMIN_TOKEN`): 16-512 visible ASCII characters. */
  secret: string;
  /** Capability strings (validated strictly), e.g. `['*']` for an admin token. */
  capabilities: string[];
  /** Free text. @default null */
  description?: string | null;
}

/**
 * Registers a token whose secret is given rather than generated (the server's `KV_ADMIN_TOKEN`, the mock's
 * `token` option). Idempotent: when a token with this secret's hash exists (even revoked: a revocation is
 * respected), it is returned unchanged and nothing is inserted.
 *
 * @returns the token (never the secret) and whether it was inserted now
 * @throws {ValidationError} a secret that is too short, too long or not visible ASCII; a malformed capability
 */
export async function ensureToken(
  tokens: TokenStore,
  input: EnsureTokenInput,
  nowMs: number,
): Promise<{ token: TokenInfo; created: boolean }> {
  if (typeof input.secret !== 'string' || !/^[\x21-\x7e]{16,512}$/.test(input.secret)) {
    throw new ValidationError('A token secret must be 16-512 visible ASCII characters', {
      details: { field: 'token' },
    });
  }
  const parsed = parseCapabilities(input.capabilities);
  const hash = await hashToken(input.secret);
  const existing = await tokens.findByHash(hash);
  if (existing) return { token: toTokenInfo(existing), created: false };
  const record: TokenRecord = {
    id: `tok_${crypto.randomUUID().replace(/-/g, '')}`,
    hash,
    capabilities: parsed.map((c) => c.source),
    description: input.description ?? null,
    createdAt: nowMs,
    expiresAt: null,
    revokedAt: null,
    rateLimit: null,
  };
  await tokens.insert(record);
  return { token: toTokenInfo(record), created: true };
}

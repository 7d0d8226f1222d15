/**
 * Idempotent retries (docs/protocol.md "Idempotency"; the IETF `Idempotency-Key` header draft, Stripe's
 * semantics). A write carrying `Idempotency-Key` is run once: its result (status, headers, body) is
 * stored through `Storage.putIdempotency` for 10 minutes ({@link LIMITS.idempotencyTtlMs}) under a key
 * scoped by the bearer token's hash, the store and the idempotency key. A repeat with the same request
 * fingerprint gets the stored response again with `Kv-Idempotent-Replayed: true` and writes nothing; a
 * repeat with a different fingerprint is a 400 `idempotency_key_reused`. Concurrent duplicates are
 * serialized inside the engine (a promise chain per scope key), so the second waits for the first and
 * then replays it.
 *
 * An entry write saves its record in the transaction of the commit that decides its outcome (through
 * the {@link ResponseRecorder} it is handed, whose hook its commit carries); that commit first reads the
 * record and, finding one (another engine on the same storage answered the key), applies nothing and
 * throws `IdempotencyRecordFound`, answered here from the record. Outcomes no commit decided (refused
 * before the commit, store-level writes) are saved after the fact, through `Storage.putIdempotency`.
 *
 * Responses with status >= 500 (the write may not have happened), 401, 403 and 429 are not stored: a
 * retry runs again.
 *
 * @module
 */
import { HEADERS, isKvError, KvError, LIMITS, ValidationError } from '@kv/core/protocol';
import { hashToken } from './auth.js';
import { IdempotencyRecordFound } from './commit.js';
import { bearerToken, errorResult, sha256Hex } from './http.js';
import type { EngineRequest, EngineResult } from './pipeline.js';
import type { CommitIdempotency, CommitResult, IdempotencyRecord, StorageReads } from './storage.js';

/** Request headers that change a write's meaning; they are part of its fingerprint. */
const FINGERPRINT_HEADERS = [
  'content-type',
  HEADERS.ttlMs,
  HEADERS.expiresAt,
  HEADERS.metadata,
  HEADERS.scopes,
  HEADERS.resume,
  HEADERS.ifNotExists,
  'if-match',
  'if-none-match',
] as const;

/** Response headers never replayed (they belong to the new request). */
const NOT_REPLAYED = new Set([HEADERS.requestId, 'content-length', HEADERS.idempotentReplayed]);

/**
 * Validates an `Idempotency-Key` header: 1-255 visible ASCII characters.
 *
 * @throws {ValidationError} 400 `details: { field: 'Idempotency-Key' }`
 */
export function validateIdempotencyKey(value: string): string {
  if (value.length === 0 || value.length > LIMITS.maxIdempotencyKeyLength || !/^[\x21-\x7e]+$/.test(value)) {
    throw new ValidationError(
      `Idempotency-Key must be 1-${LIMITS.maxIdempotencyKeyLength} visible ASCII characters`,
      { details: { field: 'Idempotency-Key', maxLength: LIMITS.maxIdempotencyKeyLength } },
    );
  }
  return value;
}

/**
 * The fingerprint of a write: SHA-256 over method, path, query (as `URL` normalizes them), the
 * meaning-bearing headers and the SHA-256 of the body.
 */
export async function requestFingerprint(req: EngineRequest, body: Uint8Array): Promise<string> {
  const url = new URL(req.url, 'http://kv.invalid');
  const parts = [req.method, url.pathname, url.search];
  for (const name of FINGERPRINT_HEADERS) parts.push(`${name}:${req.header(name) ?? ''}`);
  parts.push(await sha256Hex(body));
  return sha256Hex(parts.join('\n'));
}

/**
 * The idempotency of one write in flight, handed by {@link IdempotencyGuard.run} to the write: turns the
 * write's response into its record, and gives the write's commit the hook that saves that record in the
 * commit's own transaction ({@link ResponseRecorder.hook}).
 */
export class ResponseRecorder {
  readonly #fingerprint: string;
  readonly #clock: () => number;
  #recorded = false;

  /**
   * @param scopeKey - token hash, store and idempotency key: where the record is saved
   * @param fingerprint - the request's {@link requestFingerprint}
   * @param clock - epoch ms (the record lives {@link LIMITS.idempotencyTtlMs} from its write)
   */
  constructor(
    readonly scopeKey: string,
    fingerprint: string,
    clock: () => number,
  ) {
    this.#fingerprint = fingerprint;
    this.#clock = clock;
  }

  /** Whether a commit's hook answered the write's final outcome (its record, if storable, went with it). */
  get recorded(): boolean {
    return this.#recorded;
  }

  /**
   * The record of `result`: its status, replayable headers and body bytes; undefined when the status is
   * not stored (>= 500, 401, 403, 429) or the body is a stream.
   */
  record(result: EngineResult): IdempotencyRecord | undefined {
    if (!storable(result.status)) return undefined;
    const body = result.body;
    // Writes answer with JSON text; a stream is never stored (no write streams its answer).
    if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array)) return undefined;
    const bytes =
      body === undefined
        ? new Uint8Array(0)
        : typeof body === 'string'
          ? new TextEncoder().encode(body)
          : body;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(result.headers)) {
      const lower = name.toLowerCase();
      if (!NOT_REPLAYED.has(lower as never)) headers[lower] = value;
    }
    return {
      fingerprint: this.#fingerprint,
      status: result.status,
      headers,
      body: bytes,
      expiresAt: this.#clock() + LIMITS.idempotencyTtlMs,
    };
  }

  /**
   * The idempotency hook of a commit (`CommitRequest.idempotency`): `render` turns the commit's result
   * into the response the client gets (a thrown `KvError` is that error's response), or answers
   * undefined when this commit is not the write's final outcome (a guarded write about to try again),
   * which saves no record. Once `render` answered, the write is {@link ResponseRecorder.recorded}.
   */
  hook(render: (result: CommitResult) => EngineResult | undefined): CommitIdempotency {
    return {
      scopeKey: this.scopeKey,
      record: (result) => {
        let response: EngineResult | undefined;
        try {
          response = render(result);
        } catch (error) {
          if (!isKvError(error)) throw error;
          response = errorResult(error);
        }
        if (response === undefined) return undefined;
        return this.answer(response);
      },
    };
  }

  /**
   * The record of `response` as the write's final outcome, to save in the transaction that decides it
   * (a queue enqueue's): once called, the write is {@link ResponseRecorder.recorded}.
   */
  answer(response: EngineResult): IdempotencyRecord | undefined {
    this.#recorded = true;
    return this.record(response);
  }
}

/** Runs writes at most once per idempotency key; see the module docs. */
export class IdempotencyGuard {
  readonly #storage: StorageReads;
  readonly #clock: () => number;
  readonly #tails = new Map<string, Promise<void>>();

  /** @param storage - where records live; @param clock - epoch ms */
  constructor(storage: StorageReads, clock: () => number) {
    this.#storage = storage;
    this.#clock = clock;
  }

  /**
   * Runs `execute` for a write, or replays its first result. `execute` gets a {@link ResponseRecorder}
   * when the request carries `Idempotency-Key` (undefined otherwise): an entry write passes its
   * {@link ResponseRecorder.hook} to its commit, which saves the record with the write; a write whose
   * outcome no commit recorded (refused before its commit, or a store-level write) has its record saved
   * here afterwards.
   *
   * @param input.req - the request (for the header and the fingerprint)
   * @param input.store - the store the write addresses (`''` for the stores collection)
   * @param input.body - the request body bytes (already read within limits)
   * @param input.execute - performs the write and returns its result
   * @throws {ValidationError} 400 `idempotency_key_reused` when the key was used for another request
   */
  async run(input: {
    req: EngineRequest;
    store: string;
    body: Uint8Array;
    execute: (recorder: ResponseRecorder | undefined) => Promise<EngineResult>;
  }): Promise<EngineResult> {
    const header = input.req.header(HEADERS.idempotencyKey);
    if (header === undefined) return input.execute(undefined);
    const idemKey = validateIdempotencyKey(header);
    const token = bearerToken(input.req.header('authorization'));
    const tokenHash = token === undefined ? '-' : await hashToken(token);
    const scopeKey = `${tokenHash}|${input.store}|${idemKey}`;
    const fingerprint = await requestFingerprint(input.req, input.body);
    const release = await this.#lock(scopeKey);
    try {
      const existing = await this.#storage.getIdempotency(scopeKey, this.#clock());
      if (existing !== undefined) return replay(existing, fingerprint);
      const recorder = new ResponseRecorder(scopeKey, fingerprint, this.#clock);
      let result: EngineResult;
      try {
        result = await input.execute(recorder);
      } catch (error) {
        // Another server answered this key between the read above and the commit: its answer stands.
        if (error instanceof IdempotencyRecordFound && error.scopeKey === scopeKey) {
          return replay(error.record, fingerprint);
        }
        // A refused write (412, 404...) is an outcome too: store it so a retry sees the same answer.
        if (!isKvError(error) || !storable(error.status)) throw error;
        result = errorResult(error);
      }
      if (recorder.recorded) return result;
      const record = recorder.record(result);
      if (record !== undefined) await this.#storage.putIdempotency(scopeKey, record);
      return result;
    } finally {
      release();
    }
  }

  /** Waits for earlier holders of `key`, then returns the function that lets the next one in. */
  async #lock(key: string): Promise<() => void> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    await previous;
    return () => {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
  }
}

/**
 * The stored response `existing` replayed (with `Kv-Idempotent-Replayed: true`).
 *
 * @throws {KvError} 400 `idempotency_key_reused` when it answered a request with another fingerprint
 */
function replay(existing: IdempotencyRecord, fingerprint: string): EngineResult {
  if (existing.fingerprint !== fingerprint) {
    throw new KvError('Idempotency-Key was already used for a different request', {
      code: 'idempotency_key_reused',
      details: { field: 'Idempotency-Key' },
    });
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(existing.headers)) headers[name.toLowerCase()] = value;
  headers[HEADERS.idempotentReplayed] = 'true';
  return {
    status: existing.status,
    headers,
    body: existing.body.byteLength === 0 ? undefined : existing.body,
  };
}

function storable(status: number): boolean {
  return status < 500 && status !== 401 && status !== 403 && status !== 429;
}

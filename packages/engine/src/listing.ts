/**
 * Listing (docs/protocol.md "Listing"): one page of a store's live entries in key byte order, filtered by
 * prefix, NATS `match` or SQL `like`, and scope. The engine range-scans from the pattern's literal prefix
 * (intersected with `prefix`) after the cursor's last key, filters with the compiled matcher, and fetches
 * batches until the page is full or the range is exhausted. It examines at most `10 x limit + 1000` rows
 * per request; if it stops early, it returns the items so far with a cursor at the last key it examined.
 *
 * The cursor holds "the last key examined", so across writes between pages no key that existed
 * throughout is repeated or skipped, and a page that examined only hidden rows still moves on (the
 * listing terminates however many entries a scoped token cannot read follow); a key written after the
 * listing started may or may not appear. `complete: true` only when the scanned range is exhausted. The
 * last key examined may be an entry hidden from the caller, so the position goes out sealed
 * ({@link ListCursorCodec}; the engine's is `cursor.ts`), never readable.
 *
 * @module
 */
import {
  type CursorPayload,
  compileLikePattern,
  compileNatsPattern,
  type KeyMatcher,
  ValidationError,
} from '@kv/core/protocol';
import type { StorageReads, StoredEntry } from './storage.js';

/** A parsed listing request. */
export interface ListRequest {
  /** Only keys starting with this. */
  prefix: string;
  /** NATS pattern. */
  match?: string;
  /** LIKE pattern. */
  like?: string;
  /** Only this scope. */
  scope?: string;
  /** Exclusive start key. */
  startAfter?: string;
  /** Page size, 1-1000. */
  limit: number;
  /** Opaque cursor. */
  cursor?: string;
  /** Descending. */
  reverse: boolean;
  /** Load values. */
  values: boolean;
  /**
   * Access control: entries it rejects are skipped like non-matching keys (a scoped token's listing is
   * filtered, not failed). They count as examined, so the cursor moves past them.
   */
  canRead?: (entry: StoredEntry) => boolean;
}

/**
 * Turns a listing position into the opaque `cursor` string and back. The engine's seals it
 * (`CursorSealer`, cursor.ts), so a cursor never shows a key to the caller.
 */
export interface ListCursorCodec {
  /** The cursor for a position. */
  encode(payload: CursorPayload): Promise<string>;
  /**
   * The position of a cursor.
   *
   * @throws {ValidationError} 400 `details.field: 'cursor'` for a cursor it did not make
   */
  decode(cursor: string): Promise<CursorPayload>;
}

/** One page. */
export interface ListResult {
  /** Entries in order. */
  items: StoredEntry[];
  /** Where the next page starts; absent when complete. */
  cursor?: string;
  /** True when the range is exhausted. */
  complete: boolean;
}

/**
 * Intersects two prefixes: the longer one when one starts with the other, else `undefined` (no key can
 * start with both).
 */
export function intersectPrefixes(a: string, b: string): string | undefined {
  if (a.startsWith(b)) return a;
  if (b.startsWith(a)) return b;
  return undefined;
}

/**
 * Compiles the request's pattern, or undefined when it has none.
 *
 * @throws {ValidationError} when both `match` and `like` are given, or a pattern is invalid
 */
export function compileListPattern(req: Pick<ListRequest, 'match' | 'like'>): KeyMatcher | undefined {
  if (req.match !== undefined && req.like !== undefined) {
    throw new ValidationError('Give either match or like, not both', { details: { field: 'match' } });
  }
  if (req.match !== undefined) return compileNatsPattern(req.match);
  if (req.like !== undefined) return compileLikePattern(req.like);
  return undefined;
}

/**
 * Lists one page.
 *
 * @param storage - the storage
 * @param store - store name (must exist)
 * @param req - the validated request
 * @param nowMs - "now", for expiry
 * @param cursors - the cursor codec
 * @throws {ValidationError} for a cursor the codec refuses or one issued for the other direction
 */
export async function listPage(
  storage: StorageReads,
  store: string,
  req: ListRequest,
  nowMs: number,
  cursors: ListCursorCodec,
): Promise<ListResult> {
  const matcher = compileListPattern(req);
  let after = req.startAfter;
  if (req.cursor !== undefined) {
    const decoded = await cursors.decode(req.cursor);
    if (decoded.reverse !== req.reverse) {
      throw new ValidationError('The cursor was issued for the other listing direction', {
        details: { field: 'cursor', reason: 'direction_mismatch' },
      });
    }
    after = decoded.lastKey;
  }
  const keyFilter = matcher !== undefined && !matcher.matchesAll ? matcher : undefined;
  const canRead = req.canRead;
  const filter: ((row: StoredEntry) => boolean) | undefined =
    canRead === undefined
      ? keyFilter === undefined
        ? undefined
        : (row) => keyFilter.test(row.key)
      : (row) => (keyFilter === undefined || keyFilter.test(row.key)) && canRead(row);
  const prefix = matcher === undefined ? req.prefix : intersectPrefixes(req.prefix, matcher.literalPrefix);
  if (prefix === undefined) return { items: [], complete: true };

  const budget = 10 * req.limit + 1000;
  const items: StoredEntry[] = [];
  let examined = 0;
  let lastExamined: string | undefined;
  for (;;) {
    const remaining = budget - examined;
    // Without a filter every row is a match: ask for one more than needed to learn whether the range
    // goes on. With a filter, read generous batches.
    const want =
      filter === undefined ? req.limit - items.length + 1 : Math.max(2 * (req.limit - items.length), 256);
    const batchSize = Math.min(want, remaining);
    const batch = await storage.scan(store, {
      prefix,
      ...(after === undefined ? {} : { after }),
      ...(req.scope === undefined ? {} : { scope: req.scope }),
      reverse: req.reverse,
      limit: batchSize,
      values: req.values,
      nowMs,
    });
    for (let i = 0; i < batch.length; i++) {
      const row = batch[i] as StoredEntry;
      if (items.length === req.limit) {
        // The page is full and the range has at least this row left.
        return {
          items,
          cursor: await cursors.encode({ lastKey: lastExamined as string, reverse: req.reverse }),
          complete: false,
        };
      }
      examined++;
      lastExamined = row.key;
      if (filter === undefined || filter(row)) items.push(row);
    }
    if (batch.length < batchSize) return { items, complete: true };
    after = lastExamined;
    if (examined >= budget) {
      return {
        items,
        cursor: await cursors.encode({ lastKey: lastExamined as string, reverse: req.reverse }),
        complete: false,
      };
    }
    if (items.length === req.limit) {
      // Full page exactly at a batch boundary: peek one row to learn whether the range goes on.
      const peek = await storage.scan(store, {
        prefix,
        after: lastExamined as string,
        ...(req.scope === undefined ? {} : { scope: req.scope }),
        reverse: req.reverse,
        limit: 1,
        values: false,
        nowMs,
      });
      if (peek.length === 0) return { items, complete: true };
      return {
        items,
        cursor: await cursors.encode({ lastKey: lastExamined as string, reverse: req.reverse }),
        complete: false,
      };
    }
  }
}

/**
 * `SortedKeys`: an ordered set of strings for `MemoryStorage`, kept as a list of sorted chunks (the
 * leaves of a B-tree without the inner nodes). Lookups are two binary searches (chunk, then position);
 * an insert or delete moves at most one chunk's elements, so it stays cheap at hundreds of thousands of
 * keys where one flat array's `splice` does not. Internal to `@kv/engine`.
 *
 * @module
 */

/** A position between keys: chunk index and index inside it; the end is `{ chunk: chunks.length, index: 0 }`. */
export interface KeyPosition {
  /** Chunk index. */
  chunk: number;
  /** Index inside the chunk. */
  index: number;
}

/** Orders two positions: negative when `a` comes first. */
export function comparePositions(a: KeyPosition, b: KeyPosition): number {
  return a.chunk - b.chunk || a.index - b.index;
}

/** An ordered set of strings under a comparator (see the module documentation). */
export class SortedKeys {
  readonly #compare: (a: string, b: string) => number;
  readonly #maxChunk: number;
  #chunks: string[][] = [];
  #size = 0;

  /**
   * @param compare - the order (for keys: `compareKeys` from `@kv/core`, UTF-8 byte order)
   * @param maxChunk - largest chunk before it splits in two; small values are for tests
   * @default maxChunk 512
   */
  constructor(compare: (a: string, b: string) => number, maxChunk = 512) {
    this.#compare = compare;
    this.#maxChunk = Math.max(2, maxChunk);
  }

  /** Number of keys. */
  get size(): number {
    return this.#size;
  }

  /** The first position whose key satisfies `pred`, which must be false then true along the order. */
  #search(pred: (key: string) => boolean): KeyPosition {
    const chunks = this.#chunks;
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = chunks[mid]!;
      if (pred(chunk[chunk.length - 1]!)) hi = mid;
      else lo = mid + 1;
    }
    if (lo === chunks.length) return { chunk: lo, index: 0 };
    const chunk = chunks[lo]!;
    let a = 0;
    let b = chunk.length - 1;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (pred(chunk[mid]!)) b = mid;
      else a = mid + 1;
    }
    return { chunk: lo, index: a };
  }

  /** Position of the first key >= `key`. */
  lowerBound(key: string): KeyPosition {
    return this.#search((k) => this.#compare(k, key) >= 0);
  }

  /** Position of the first key > `key`. */
  upperBound(key: string): KeyPosition {
    return this.#search((k) => this.#compare(k, key) > 0);
  }

  /**
   * Position just past the keys that start with `prefix` (keys with a prefix are contiguous in byte
   * order, which is code point order, so a string prefix is a byte prefix).
   */
  prefixEnd(prefix: string): KeyPosition {
    return this.#search((k) => this.#compare(k, prefix) >= 0 && !k.startsWith(prefix));
  }

  /** The start position. */
  start(): KeyPosition {
    return this.#chunks.length === 0 ? this.end() : { chunk: 0, index: 0 };
  }

  /** The end position. */
  end(): KeyPosition {
    return { chunk: this.#chunks.length, index: 0 };
  }

  /** Whether the set holds `key`. */
  has(key: string): boolean {
    const at = this.lowerBound(key);
    return this.#chunks[at.chunk]?.[at.index] === key;
  }

  /** Adds `key`; returns false when it was there. */
  add(key: string): boolean {
    const chunks = this.#chunks;
    if (chunks.length === 0) {
      chunks.push([key]);
      this.#size = 1;
      return true;
    }
    let at = this.lowerBound(key);
    if (chunks[at.chunk]?.[at.index] === key) return false;
    if (at.chunk === chunks.length) at = { chunk: at.chunk - 1, index: chunks[at.chunk - 1]!.length };
    const chunk = chunks[at.chunk]!;
    chunk.splice(at.index, 0, key);
    if (chunk.length > this.#maxChunk) chunks.splice(at.chunk + 1, 0, chunk.splice(chunk.length >>> 1));
    this.#size += 1;
    return true;
  }

  /** Removes `key`; returns false when it was not there. */
  delete(key: string): boolean {
    const at = this.lowerBound(key);
    const chunk = this.#chunks[at.chunk];
    if (chunk?.[at.index] !== key) return false;
    chunk.splice(at.index, 1);
    if (chunk.length === 0) this.#chunks.splice(at.chunk, 1);
    this.#size -= 1;
    return true;
  }

  /** Keys from `from` (inclusive) to `to` (exclusive), ascending, or descending with `reverse`. */
  *range(from: KeyPosition, to: KeyPosition, reverse = false): Generator<string> {
    const chunks = this.#chunks;
    const before = (a: KeyPosition, b: KeyPosition) => comparePositions(a, b) < 0;
    if (!reverse) {
      let { chunk, index } = from;
      while (before({ chunk, index }, to)) {
        const keys = chunks[chunk]!;
        yield keys[index]!;
        index += 1;
        if (index === keys.length) {
          chunk += 1;
          index = 0;
        }
      }
      return;
    }
    let { chunk, index } = to;
    for (;;) {
      if (index > 0) index -= 1;
      else if (chunk > 0) {
        chunk -= 1;
        index = chunks[chunk]!.length - 1;
      } else return;
      if (before({ chunk, index }, from)) return;
      yield chunks[chunk]![index]!;
    }
  }

  /** Every key, ascending. */
  keys(): string[] {
    return this.#chunks.flat();
  }
}

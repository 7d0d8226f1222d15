/**
 * Key-range helpers for SQL scans. kv orders keys by their UTF-8 bytes (docs/protocol.md "Conventions"), which is
 * Unicode code point order (`compareKeys` in `@kv/core`); SQLite's `BINARY` collation compares the same
 * bytes, so "starts with a prefix" can be a half-open index range.
 *
 * @module
 */

/**
 * The smallest string that sorts (in UTF-8 byte order) after every string starting with `prefix`, so
 * that "starts with `prefix`" is the half-open range `[prefix, successor)`: an index range scan.
 * Increments the last code point (skipping the surrogate block); a trailing U+10FFFF is dropped and the
 * previous code point incremented. Returns `undefined` when no such string exists (empty prefix, or a
 * prefix made only of U+10FFFF): the range is then unbounded above.
 */
export function prefixSuccessor(prefix: string): string | undefined {
  const points = Array.from(prefix, (c) => c.codePointAt(0)!);
  while (points.length > 0) {
    const last = points.pop()!;
    if (last < 0x10ffff) {
      const next = last === 0xd7ff ? 0xe000 : last + 1;
      points.push(next);
      return String.fromCodePoint(...points);
    }
  }
  return undefined;
}

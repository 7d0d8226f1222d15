/**
 * Key-order helpers for SQL range scans. kv orders keys by their UTF-8 bytes (PRODUCT.md "Keys"),
 * which is the same as Unicode code point order; JavaScript's `<` compares UTF-16 code units and
 * disagrees for characters above U+FFFF, so bounds computed in JavaScript use these helpers.
 *
 * @module
 */

/**
 * Compares two strings by UTF-8 byte order (= code point order), like SQLite's `BINARY` collation on
 * UTF-8 text and PostgreSQL's `COLLATE "C"`.
 *
 * @returns negative when `a` sorts first, 0 when equal, positive when `b` sorts first
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (D800-DFFF) encode code points above U+FFFF, which sort after every BMP code unit.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs === ys) return x - y;
    return xs ? 1 : -1;
  }
  return a.length - b.length;
}

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

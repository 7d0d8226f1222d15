import { describe, expect, it } from 'vitest';
import { isKvError } from '../errors.js';
import { HEADERS } from '../protocol.js';
import type { EntryMeta, JsonObject } from '../types.js';
import { entryFromHeaders, entryToHeaders } from './entry-headers.js';

const BASE: EntryMeta = {
  key: 'user.42',
  id: '6f1c7c8e-2d0b-4c55-9a53-0d8f6f0a1b2c',
  revision: 17,
  contentType: 'application/json',
  metadata: { owner: 'alice' },
  scopes: ['billing'],
  createdAt: '2030-01-01T00:00:00.000Z',
  updatedAt: '2030-01-01T00:05:00.000Z',
  expiresAt: null,
  resume: false,
  size: 15,
};

/** entry -> headers (as a `Headers`, the way a response carries them) -> entry. */
function roundTrip(entry: EntryMeta, byId: boolean): EntryMeta {
  const { key, ...fields } = entry;
  const headers = new Headers(entryToHeaders(byId ? entry : fields));
  return entryFromHeaders(byId ? undefined : key, headers, undefined);
}

/** A small deterministic generator (mulberry32), so the property runs on the same cases every time. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = [
  'a',
  'Z',
  '0',
  ' ',
  ',',
  '%',
  '%25',
  '/',
  '?',
  '#',
  '"',
  ';',
  '=',
  'ü',
  '日本',
  '😀',
  '\\',
  '+',
  '~',
];

function text(next: () => number, max: number): string {
  let s = '';
  const n = 1 + Math.floor(next() * max);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return s;
}

function randomEntry(next: () => number): EntryMeta {
  const metadata: JsonObject | null =
    next() < 0.25
      ? null
      : { [text(next, 4)]: text(next, 8), n: Math.floor(next() * 1e6), nested: { ok: next() < 0.5 } };
  return {
    key: text(next, 12),
    id: crypto.randomUUID(),
    revision: 1 + Math.floor(next() * 1e12),
    contentType: next() < 0.5 ? 'application/json' : 'text/plain; charset=utf-8',
    metadata,
    scopes: Array.from({ length: Math.floor(next() * 4) }, () => text(next, 6)),
    createdAt: new Date(Math.floor(next() * 4e12)).toISOString(),
    updatedAt: new Date(Math.floor(next() * 4e12)).toISOString(),
    expiresAt: next() < 0.5 ? null : new Date(Math.floor(next() * 4e12)).toISOString(),
    resume: next() < 0.5,
    size: Math.floor(next() * 1e6),
  };
}

function invalidResponse(fn: () => unknown): { code: string; details: unknown } {
  try {
    fn();
  } catch (error) {
    expect(isKvError(error)).toBe(true);
    return error as { code: string; details: unknown };
  }
  throw new Error('expected a throw');
}

describe('entryToHeaders / entryFromHeaders', () => {
  it('round-trip every field: entry -> headers -> entry is the identity', () => {
    const cases: EntryMeta[] = [
      BASE,
      { ...BASE, metadata: null, scopes: [], resume: true },
      { ...BASE, metadata: { 'clé ü': 'värde 日本 😀', quote: '"%,;', list: [1, 'two', null] } },
      {
        ...BASE,
        scopes: ['a,b', 'c%2C', 'spa ce', 'ü', '😀', '%', ''].filter((s) => s !== ''),
        resume: true,
      },
      { ...BASE, expiresAt: '2031-02-03T04:05:06.789Z', resume: false },
      { ...BASE, key: 'a b/c?d#e%25ü日本😀', size: 0 },
    ];
    const next = rng(42);
    for (let i = 0; i < 300; i++) cases.push(randomEntry(next));
    for (const entry of cases) {
      expect(roundTrip(entry, false)).toEqual(entry);
      expect(roundTrip(entry, true)).toEqual(entry);
    }
  });

  it('write the headers of docs/protocol.md "Entry headers"', () => {
    const headers = entryToHeaders({ ...BASE, key: 'a b', size: 15 });
    expect(headers).toEqual({
      'content-type': 'application/json',
      'content-length': '15',
      etag: '"17"',
      'kv-id': BASE.id,
      'kv-revision': '17',
      'kv-metadata': encodeURIComponent('{"owner":"alice"}'),
      'kv-scopes': 'billing',
      'kv-created-at': BASE.createdAt,
      'kv-updated-at': BASE.updatedAt,
      'kv-resume': 'false',
      'kv-key': 'a%20b',
      'cache-control': 'private, no-cache',
    });
    const { key: _key, size: _size, ...fields } = BASE;
    const bare = entryToHeaders({ ...fields, metadata: null, scopes: [], expiresAt: null });
    expect(bare).not.toHaveProperty(HEADERS.metadata);
    expect(bare).not.toHaveProperty(HEADERS.scopes);
    expect(bare).not.toHaveProperty(HEADERS.expiresAt);
    expect(bare).not.toHaveProperty(HEADERS.key);
    expect(bare).not.toHaveProperty('content-length');
  });

  // Each case below is a rule the copies of this codec disagreed on; the protocol's table decides.
  describe('one set of rules', () => {
    const good = (): Headers => new Headers(entryToHeaders(BASE));

    it('revision: Kv-Revision wins over the ETag, which is read only without it', () => {
      const h = good();
      h.set('etag', '"99"');
      expect(entryFromHeaders('k', h, 0).revision).toBe(17);
      h.delete(HEADERS.revision);
      expect(entryFromHeaders('k', h, 0).revision).toBe(99);
      h.set('etag', 'W/"98"');
      expect(entryFromHeaders('k', h, 0).revision).toBe(98);
    });

    it('revision: a response with none is invalid_response, not revision 0', () => {
      const h = good();
      h.delete(HEADERS.revision);
      h.delete('etag');
      const error = invalidResponse(() => entryFromHeaders('k', h, 0));
      expect(error.code).toBe('invalid_response');
      expect(error.details).toEqual({ header: HEADERS.revision });
    });

    it('metadata: an undecodable Kv-Metadata is invalid_response, not null', () => {
      for (const bad of ['%7B%22a%22', '%E0%A4%A', 'not-json']) {
        const h = good();
        h.set(HEADERS.metadata, bad);
        const error = invalidResponse(() => entryFromHeaders('k', h, 0));
        expect(error.code).toBe('invalid_response');
        expect(error.details).toEqual({ header: HEADERS.metadata });
      }
    });

    it('metadata: JSON that is not an object is invalid_response', () => {
      for (const bad of ['[1,2]', '42', '"s"', 'null']) {
        const h = good();
        h.set(HEADERS.metadata, encodeURIComponent(bad));
        expect(invalidResponse(() => entryFromHeaders('k', h, 0)).details).toEqual({
          header: HEADERS.metadata,
        });
      }
    });

    it('metadata: an absent or empty Kv-Metadata is null', () => {
      const h = good();
      h.set(HEADERS.metadata, '');
      expect(entryFromHeaders('k', h, 0).metadata).toBeNull();
      h.delete(HEADERS.metadata);
      expect(entryFromHeaders('k', h, 0).metadata).toBeNull();
    });

    it('scopes: a bad escape is invalid_response (a KvError, not a URIError)', () => {
      const h = good();
      h.set(HEADERS.scopes, 'ok,%E0%A4%A');
      const error = invalidResponse(() => entryFromHeaders('k', h, 0));
      expect(error.code).toBe('invalid_response');
      expect(error.details).toEqual({ header: HEADERS.scopes });
    });

    it('createdAt: an absent Kv-Created-At is empty, not updatedAt', () => {
      const h = good();
      h.delete(HEADERS.createdAt);
      expect(entryFromHeaders('k', h, 0).createdAt).toBe('');
      expect(entryFromHeaders('k', h, 0).updatedAt).toBe(BASE.updatedAt);
    });

    it('key: Kv-Key is percent-decoded on a read by id; the named key wins on a read by key', () => {
      const h = new Headers(entryToHeaders({ ...BASE, key: 'a b/ü,%' }));
      expect(h.get(HEADERS.key)).toBe('a%20b%2F%C3%BC%2C%25');
      expect(entryFromHeaders(undefined, h, 0).key).toBe('a b/ü,%');
      expect(entryFromHeaders('named', h, 0).key).toBe('named');
      h.set(HEADERS.key, '%E0%A4%A');
      expect(invalidResponse(() => entryFromHeaders(undefined, h, 0)).details).toEqual({
        header: HEADERS.key,
      });
    });

    it('size: the body length when given, else Content-Length (HEAD), else 0', () => {
      const h = new Headers(entryToHeaders({ ...BASE, size: 15 }));
      expect(entryFromHeaders('k', h, 3).size).toBe(3);
      expect(entryFromHeaders('k', h, undefined).size).toBe(15);
      h.delete('content-length');
      expect(entryFromHeaders('k', h, undefined).size).toBe(0);
    });
  });
});

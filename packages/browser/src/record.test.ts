import { type EntryMeta, entryToHeaders, HEADERS } from '@kv/core/protocol';
import { describe, expect, it } from 'vitest';
import {
  type CacheRecord,
  recordFromDecoded,
  recordFromResponse,
  refreshFields,
  responseHeadersFor,
} from './record.js';

const META: EntryMeta = {
  key: 'a b/ü',
  id: 'id-1',
  revision: 7,
  contentType: 'text/plain; charset=utf-8',
  metadata: { owner: 'ü 日本' },
  scopes: ['a,b', '%'],
  createdAt: '2030-01-01T00:00:00.000Z',
  updatedAt: '2030-01-01T00:05:00.000Z',
  expiresAt: '2031-01-01T00:00:00.000Z',
  resume: true,
  size: 2,
};
const BYTES = new TextEncoder().encode('hi');

function full(): CacheRecord {
  const made = recordFromResponse('s', undefined, new Headers(entryToHeaders(META)), BYTES);
  if (made === undefined) throw new Error('expected a record');
  return { ...made, cachedAt: 0, lastAccess: 0 };
}

describe('records and entry headers (one codec with the client)', () => {
  it('a record answers with the headers it is read back from', () => {
    const record = full();
    expect(record).toMatchObject({ ...META, store: 's', etag: '"7"', present: true, exact: true });
    const again = recordFromResponse('s', undefined, responseHeadersFor(record), record.bytes);
    const { cachedAt: _c, lastAccess: _l, ...fields } = record;
    expect(again).toEqual(fields);
  });

  it('Content-Length of a rebuilt record is its bytes, not the server size', () => {
    const rebuilt = recordFromDecoded('s', { ...META, contentType: 'application/json', size: 40 }, { a: 1 });
    if (rebuilt === undefined) throw new Error('expected a record');
    const headers = responseHeadersFor({ ...rebuilt, cachedAt: 0, lastAccess: 0 });
    expect(headers.get('content-length')).toBe(String(rebuilt.bytes.byteLength));
  });

  it('revision comes from Kv-Revision before the ETag', () => {
    const headers = new Headers(entryToHeaders(META));
    headers.set('etag', '"9"');
    expect(recordFromResponse('s', 'k', headers, BYTES)?.revision).toBe(7);
  });

  it('an absent Kv-Created-At is empty, as the client reads it', () => {
    const headers = new Headers(entryToHeaders(META));
    headers.delete(HEADERS.createdAt);
    expect(recordFromResponse('s', 'k', headers, BYTES)?.createdAt).toBe('');
  });

  it('unreadable Kv-Metadata makes no record (the client rejects the response too)', () => {
    const headers = new Headers(entryToHeaders(META));
    headers.set(HEADERS.metadata, '%7B%22owner');
    expect(recordFromResponse('s', 'k', headers, BYTES)).toBeUndefined();
  });

  it('a 304 with unreadable entry headers changes nothing; a readable one refreshes the fields', () => {
    const record = full();
    const before = structuredClone(record);
    const bad = new Headers(entryToHeaders({ ...META, metadata: { v: 2 } }));
    bad.set(HEADERS.scopes, '%E0%A4%A');
    refreshFields(record, bad);
    expect(record).toEqual(before);
    refreshFields(record, new Headers(entryToHeaders({ ...META, metadata: { v: 2 }, scopes: [] })));
    expect(record).toMatchObject({ metadata: { v: 2 }, scopes: [] });
  });
});

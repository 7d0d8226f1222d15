import { describe, expect, it } from 'vitest';
import {
  grantCovers,
  grantFor,
  grantsAnythingOn,
  parseCapabilities,
  parseCapability,
  unionGrants,
} from './capabilities.js';
import { ValidationError } from './errors.js';

describe('parseCapability', () => {
  it.each([
    ['kv:get', { kind: 'kv', store: '*', scope: undefined, action: 'get' }],
    ['kv[orders]:set', { kind: 'kv', store: 'orders', scope: undefined, action: 'set' }],
    ['kv[orders:billing]:get', { kind: 'kv', store: 'orders', scope: 'billing', action: 'get' }],
    ['kv[*:billing]:*', { kind: 'kv', store: '*', scope: 'billing', action: '*' }],
    ['kv[orders:*]:list', { kind: 'kv', store: 'orders', scope: '*', action: 'list' }],
    ['kv.meta:list_scopes', { kind: 'meta', store: '*', scope: undefined, action: 'list_scopes' }],
    ['kv.meta[orders]:keys', { kind: 'meta', store: 'orders', scope: undefined, action: 'keys' }],
    ['kv.meta[orders:billing]:keys', { kind: 'meta', store: 'orders', scope: 'billing', action: 'keys' }],
    ['kv[orders:a.b/c-d]:get', { kind: 'kv', store: 'orders', scope: 'a.b/c-d', action: 'get' }],
    ['kv.meta:id_ops', { kind: 'meta', store: '*', scope: undefined, action: 'id_ops' }],
    ['kv.admin:stores', { kind: 'admin', store: '*', scope: undefined, action: 'stores' }],
    ['kv.admin:*', { kind: 'admin', store: '*', scope: undefined, action: '*' }],
    ['*', { kind: 'all', store: '*', scope: undefined, action: '*' }],
  ])('parses %s', (text, expected) => {
    expect(parseCapability(text)).toEqual({ ...expected, source: text });
  });

  it.each([
    '',
    'kv',
    'kv:',
    'kv:read',
    'kv:GET',
    'kv[]:get',
    'kv[bad name]:get',
    'kv[orders:]:get',
    'kv[orders:a:b]:get',
    'kv.meta[orders:billing]:id_ops',
    'kv.meta[orders:billing]:*',
    'kv[orders:bad scope]:get',
    'kv[orders:a\u0001]:get',
    'kv.meta:get',
    'kv.admin[orders]:stores',
    'kv.admin:root',
    'db:get',
    ' kv:get',
    'kv:get ',
    'kv[orders]get',
  ])('rejects %j with ValidationError', (text) => {
    expect(() => parseCapability(text)).toThrow(ValidationError);
  });

  it('parseCapabilities rejects empty lists and non-strings', () => {
    expect(() => parseCapabilities([])).toThrow(ValidationError);
    expect(() => parseCapabilities('kv:get')).toThrow(ValidationError);
    expect(() => parseCapabilities([42])).toThrow(ValidationError);
    expect(parseCapabilities(['kv:get', 'kv.admin:tokens'])).toHaveLength(2);
  });
});

describe('grantFor / grantCovers', () => {
  const caps = (...c: string[]) => parseCapabilities(c);

  it('unscoped grants cover every entry; store-bound grants only their store', () => {
    const g = grantFor(caps('kv[orders]:get'), { kind: 'kv', action: 'get', store: 'orders' });
    expect(g).toEqual({ all: true });
    expect(grantFor(caps('kv[orders]:get'), { kind: 'kv', action: 'get', store: 'users' })).toBeNull();
    expect(grantFor(caps('kv[orders]:get'), { kind: 'kv', action: 'set', store: 'orders' })).toBeNull();
    expect(grantFor(caps('kv:*'), { kind: 'kv', action: 'purge', store: 'any' })).toEqual({ all: true });
    expect(grantFor(caps('*'), { kind: 'admin', action: 'tokens' })).toEqual({ all: true });
  });

  it('scoped grants: reads need one allowed scope, writes need all, unscoped entries are out', () => {
    const g = grantFor(caps('kv[orders:billing]:get', 'kv[orders:ops]:get'), {
      kind: 'kv',
      action: 'get',
      store: 'orders',
    });
    expect(g).toEqual({ all: false, scopes: new Set(['billing', 'ops']), anyScope: false });
    expect(grantCovers(g, ['billing'], 'read')).toBe(true);
    expect(grantCovers(g, ['billing', 'hr'], 'read')).toBe(true);
    expect(grantCovers(g, ['billing', 'hr'], 'write')).toBe(false);
    expect(grantCovers(g, ['billing', 'ops'], 'write')).toBe(true);
    expect(grantCovers(g, [], 'read')).toBe(false);
    const any = grantFor(caps('kv[orders:*]:get'), { kind: 'kv', action: 'get', store: 'orders' });
    expect(grantCovers(any, ['x'], 'write')).toBe(true);
    expect(grantCovers(any, [], 'read')).toBe(false);
    expect(grantCovers(null, ['x'], 'read')).toBe(false);
  });

  it('admin and meta requests', () => {
    expect(grantFor(caps('kv.admin:stores'), { kind: 'admin', action: 'stores' })).toEqual({ all: true });
    expect(grantFor(caps('kv.admin:stores'), { kind: 'admin', action: 'tokens' })).toBeNull();
    expect(grantFor(caps('kv.meta[orders]:keys'), { kind: 'meta', action: 'keys', store: 'orders' })).toEqual(
      { all: true },
    );
    expect(grantFor(caps('kv.meta[orders]:keys'), { kind: 'meta', action: 'keys', store: 'x' })).toBeNull();
    expect(grantFor(caps('kv:get'), { kind: 'meta', action: 'id_ops', store: 'x' })).toBeNull();
  });
});

describe('unionGrants / grantsAnythingOn', () => {
  const caps = (...c: string[]) => parseCapabilities(c);

  it('unions scoped grants; any unscoped grant wins; nothing is null', () => {
    const a = grantFor(caps('kv[s:x]:get'), { kind: 'kv', action: 'get', store: 's' });
    const b = grantFor(caps('kv[s:y]:exists'), { kind: 'kv', action: 'exists', store: 's' });
    expect(unionGrants(a, b)).toEqual({ all: false, scopes: new Set(['x', 'y']), anyScope: false });
    expect(unionGrants(a, { all: true })).toEqual({ all: true });
    expect(unionGrants(null, null)).toBeNull();
    expect(unionGrants(a, { all: false, scopes: new Set(), anyScope: true })).toMatchObject({
      anyScope: true,
    });
  });

  it('scoped kv.meta keys grants are scoped', () => {
    const g = grantFor(caps('kv.meta[s:x]:keys'), { kind: 'meta', action: 'keys', store: 's' });
    expect(g).toEqual({ all: false, scopes: new Set(['x']), anyScope: false });
  });

  it('grantsAnythingOn: any kv or meta capability on the store, kv.admin:stores, or *', () => {
    expect(grantsAnythingOn(caps('kv[s:x]:get'), 's')).toBe(true);
    expect(grantsAnythingOn(caps('kv.meta[s]:id_ops'), 's')).toBe(true);
    expect(grantsAnythingOn(caps('kv:watch'), 's')).toBe(true);
    expect(grantsAnythingOn(caps('kv.admin:stores'), 's')).toBe(true);
    expect(grantsAnythingOn(caps('*'), 's')).toBe(true);
    expect(grantsAnythingOn(caps('kv[t]:get', 'kv.admin:tokens'), 's')).toBe(false);
  });
});

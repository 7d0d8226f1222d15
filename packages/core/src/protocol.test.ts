import { describe, expect, it } from 'vitest';
import {
  API_BASE,
  formatEtag,
  formatScopesHeader,
  HEADERS,
  parseEtag,
  parseScopesHeader,
  routes,
} from './protocol.js';

describe('ETags', () => {
  it('formats a revision as a strong ETag', () => {
    expect(formatEtag(42)).toBe('"42"');
    expect(formatEtag(0)).toBe('"0"');
  });

  it('parses single revision ETags, weak ones and the wildcard', () => {
    expect(parseEtag('"42"')).toBe(42);
    expect(parseEtag('W/"42"')).toBe(42);
    expect(parseEtag('  "7"  ')).toBe(7);
    expect(parseEtag('*')).toBe('*');
    expect(parseEtag(' * ')).toBe('*');
  });

  it('round-trips revisions', () => {
    for (const revision of [0, 1, 99, 123456789, 999_999_999_999_999]) {
      expect(parseEtag(formatEtag(revision))).toBe(revision);
    }
  });

  it('returns undefined for anything that is not one revision ETag', () => {
    for (const value of [
      null,
      undefined,
      '',
      '42',
      '"abc"',
      '"-1"',
      '"1.5"',
      '"1", "2"',
      'W/42',
      '"1234567890123456"',
      '""',
    ]) {
      expect(parseEtag(value), String(value)).toBeUndefined();
    }
  });
});

describe('Kv-Scopes header', () => {
  it('round-trips scopes containing commas, percent signs and non-ASCII text', () => {
    const scopes = ['a,b', '100%', '%2C', 'billing', 'é😀', 'x=y;z', ' '];
    const header = formatScopesHeader(scopes);
    expect(header.split(',')).toHaveLength(scopes.length);
    expect(header).not.toContain(' ');
    expect(parseScopesHeader(header)).toEqual(scopes);
  });

  it('maps empty and missing headers to []', () => {
    expect(formatScopesHeader([])).toBe('');
    expect(parseScopesHeader('')).toEqual([]);
    expect(parseScopesHeader(null)).toEqual([]);
    expect(parseScopesHeader(undefined)).toEqual([]);
  });

  it('tolerates whitespace after commas and throws URIError on bad escapes', () => {
    expect(parseScopesHeader('a, b')).toEqual(['a', 'b']);
    expect(() => parseScopesHeader('%E0%A4%A')).toThrow(URIError);
  });
});

describe('routes', () => {
  it('builds the fixed routes under /v1', () => {
    expect(API_BASE).toBe('/v1');
    expect(routes.stores()).toBe('/v1/stores');
    expect(routes.store('orders')).toBe('/v1/stores/orders');
    expect(routes.entries('orders')).toBe('/v1/stores/orders/entries');
    expect(routes.scopes('orders')).toBe('/v1/stores/orders/scopes');
    expect(routes.bulkGet('orders')).toBe('/v1/stores/orders/bulk/get');
    expect(routes.bulkSet('orders')).toBe('/v1/stores/orders/bulk/set');
    expect(routes.bulkDelete('orders')).toBe('/v1/stores/orders/bulk/delete');
    expect(routes.atomic('orders')).toBe('/v1/stores/orders/atomic');
    expect(routes.watch('orders')).toBe('/v1/stores/orders/watch');
    expect(routes.signedUrls('orders')).toBe('/v1/stores/orders/signed-urls');
    expect(routes.signingSecret('orders')).toBe('/v1/stores/orders/signing-secret');
    expect(routes.tokens()).toBe('/v1/tokens');
    expect(routes.token('tok/1')).toBe('/v1/tokens/tok%2F1');
  });

  it('percent-encodes keys with reserved characters into one path segment', () => {
    const key = 'a/b?c#d%e+f&g=h~i';
    const path = routes.entry('orders', key);
    expect(path).toBe('/v1/stores/orders/entries/a%2Fb%3Fc%23d%25e%2Bf%26g%3Dh~i');
    const segments = path.split('/');
    expect(segments).toHaveLength(6);
    expect(decodeURIComponent(segments[5] as string)).toBe(key);
    // The URL parser keeps it one segment, with no query or fragment.
    const url = new URL(path, 'http://127.0.0.1');
    expect(url.search).toBe('');
    expect(url.hash).toBe('');
    expect(url.pathname).toBe(path);
  });

  it('percent-encodes non-ASCII keys as UTF-8', () => {
    expect(routes.entry('s', 'é😀')).toBe('/v1/stores/s/entries/%C3%A9%F0%9F%98%80');
  });

  it('keeps every valid key one path segment through the URL parser', () => {
    // '.' and '..' would be removed as dot segments, which is why validateKey rejects them.
    for (const key of ['...', '.a', 'a.', 'a..b', '%2e%2e', 'a/../b', '?', '#', '\\', 'a;b', "@:!$'()*,"]) {
      const path = routes.entry('s', key);
      const url = new URL(path, 'http://127.0.0.1');
      expect(url.pathname, key).toBe(path);
      expect(decodeURIComponent(url.pathname.split('/')[5] as string)).toBe(key);
    }
  });

  it('builds per-key sub-resources', () => {
    expect(routes.history('s', 'a/b')).toBe('/v1/stores/s/entries/a%2Fb/history');
    expect(routes.expiry('s', 'a?b')).toBe('/v1/stores/s/entries/a%3Fb/expiry');
    expect(routes.byId('s', 'id#1')).toBe('/v1/stores/s/ids/id%231');
  });
});

describe('HEADERS', () => {
  it('are lower-case header names', () => {
    for (const name of Object.values(HEADERS)) expect(name).toMatch(/^[a-z][a-z-]*$/);
    expect(HEADERS.idempotencyKey).toBe('idempotency-key');
  });

  it('name the error-code header the engine writes and the client reads', () => {
    expect(HEADERS.errorCode).toBe('kv-error-code');
  });
});

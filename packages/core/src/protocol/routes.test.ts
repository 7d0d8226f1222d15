import { describe, expect, it } from 'vitest';
import { routes } from '../protocol.js';
import { buildPath, matchRoute, ROUTES, type RouteDef } from './routes.js';

const all: RouteDef[] = Object.values(ROUTES);

/** A sample path for a template: every `{param}` filled with a value that needs encoding. */
const sample = (template: string) => template.replace(/\{[^}]+\}/g, 'a%2Fb');

describe('the route table', () => {
  it('names every route once and every (method, template) pair once', () => {
    expect(new Set(all.map((r) => r.name)).size).toBe(all.length);
    expect(new Set(all.map((r) => `${r.method} ${r.template}`)).size).toBe(all.length);
    for (const [name, r] of Object.entries(ROUTES)) expect(r.name).toBe(name);
  });

  it('no path fits two templates (matching needs no precedence rules)', () => {
    for (const r of all) {
      const segments = sample(r.template).split('/');
      const fits = new Set(
        all
          .filter((o) => {
            const other = o.template.split('/');
            return (
              other.length === segments.length &&
              other.every((s, i) => (s.startsWith('{') ? segments[i] !== '' : s === segments[i]))
            );
          })
          .map((o) => o.template),
      );
      expect([...fits]).toEqual([r.template]);
    }
  });

  it('matches every route with its method, decoding each parameter as one segment', () => {
    for (const r of all) {
      const found = matchRoute(r.method, sample(r.template));
      expect(found).toMatchObject({ kind: 'match', route: r });
      if (found.kind === 'match') for (const v of Object.values(found.params)) expect(v).toBe('a/b');
    }
  });

  it('answers HEAD where GET is served, 405 with the allowed methods otherwise', () => {
    expect(matchRoute('HEAD', '/v1/stores/s/entries/k')).toMatchObject({
      kind: 'match',
      route: ROUTES.getEntry,
    });
    expect(matchRoute('POST', '/v1/stores/s/entries/k')).toEqual({
      kind: 'method_not_allowed',
      template: '/v1/stores/{store}/entries/{key}',
      allow: ['GET', 'HEAD', 'PUT', 'DELETE'],
    });
    expect(matchRoute('HEAD', '/v1/tokens/t')).toMatchObject({
      kind: 'method_not_allowed',
      allow: ['DELETE'],
    });
  });

  it('finds no route for unknown paths, empty segments, trailing slashes or a missing leading slash', () => {
    for (const path of [
      '/v2/stores',
      '/v1/stores/',
      '/v1/stores//entries',
      '/v1/stores/s/entries/k/',
      'v1/stores',
      '',
    ]) {
      expect(matchRoute('GET', path)).toEqual({ kind: 'not_found' });
    }
  });

  it('reports a parameter that is not valid percent-encoding', () => {
    expect(matchRoute('GET', '/v1/stores/s/entries/%E0%A4%A')).toEqual({
      kind: 'bad_encoding',
      template: '/v1/stores/{store}/entries/{key}',
      param: 'key',
    });
  });

  it('builds paths the matcher reads back, and the same paths as the route builders', () => {
    const key = 'a/b?c#d%e é';
    const path = buildPath('getEntry', { store: 'orders', key });
    expect(path).toBe(routes.entry('orders', key));
    expect(matchRoute('GET', path)).toMatchObject({ kind: 'match', params: { store: 'orders', key } });
    expect(buildPath('revokeToken', { id: 'tok_1' })).toBe(routes.token('tok_1'));
    expect(buildPath('listStores', {})).toBe(routes.stores());
  });
});

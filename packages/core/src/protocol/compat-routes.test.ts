import { describe, expect, it } from 'vitest';
import { APIFY_ROUTES, CLOUDFLARE_ROUTES, matchServerRoute, SERVER_ROUTES } from './compat-routes.js';
import { matchRoute, ROUTES, type RouteDef } from './routes.js';

const all: RouteDef[] = Object.values(SERVER_ROUTES);
const compat: RouteDef[] = [...Object.values(CLOUDFLARE_ROUTES), ...Object.values(APIFY_ROUTES)];

/** A sample path for a template: every `{param}` filled with a value that needs encoding. */
const sample = (template: string) => template.replace(/\{[^}]+\}/g, 'a%2Fb');

describe('the server route table (kv routes and the compatibility APIs)', () => {
  it('holds every kv route and every compat route once, names and (method, template) pairs unique', () => {
    expect(all.length).toBe(Object.keys(ROUTES).length + compat.length);
    expect(new Set(all.map((r) => r.name)).size).toBe(all.length);
    expect(new Set(all.map((r) => `${r.method} ${r.template}`)).size).toBe(all.length);
    for (const [name, r] of Object.entries(SERVER_ROUTES)) expect(r.name).toBe(name);
    for (const r of compat) expect(r.name).toMatch(/^(cf|apify)[A-Z]/);
  });

  it('no path fits two templates (a greedy template is checked with its shortest path)', () => {
    for (const r of all) {
      const segments = sample(r.template).split('/');
      const fits = new Set(
        all
          .filter((o) => {
            const other = o.template.split('/');
            return (
              (o.greedy === true ? segments.length >= other.length : other.length === segments.length) &&
              other.every((s, i) => (s.startsWith('{') ? segments[i] !== '' : s === segments[i]))
            );
          })
          .map((o) => o.template),
      );
      expect([...fits]).toEqual([r.template]);
    }
  });

  it('matches every route with its method; kv routes as matchRoute does; compat routes only here', () => {
    for (const r of all) {
      const found = matchServerRoute(r.method, sample(r.template));
      expect(found).toMatchObject({ kind: 'match', route: r });
      if (found.kind === 'match') for (const v of Object.values(found.params)) expect(v).toBe('a/b');
    }
    for (const r of Object.values(ROUTES) as RouteDef[]) {
      expect(matchServerRoute(r.method, sample(r.template))).toEqual(
        matchRoute(r.method, sample(r.template)),
      );
    }
    // Clients (and their bundles) know only kv's own routes.
    for (const r of compat) expect(matchRoute(r.method, sample(r.template))).toEqual({ kind: 'not_found' });
    expect(matchServerRoute('POST', sample(CLOUDFLARE_ROUTES.cfGetValue.template))).toEqual({
      kind: 'method_not_allowed',
      template: CLOUDFLARE_ROUTES.cfGetValue.template,
      allow: ['GET', 'HEAD', 'PUT', 'DELETE'],
    });
  });

  it('a greedy last parameter (Apify record keys) takes the rest of the path, segment by segment', () => {
    const found = matchServerRoute('GET', '/v2/key-value-stores/s/records/dir/sub%20x/file');
    expect(found).toMatchObject({
      kind: 'match',
      route: APIFY_ROUTES.apifyGetRecord,
      params: { storeId: 's', recordKey: 'dir/sub x/file' },
    });
    // One %2F-encoded segment reads the same key; inner empty segments stay part of it.
    expect(matchServerRoute('PUT', '/v2/key-value-stores/s/records/dir%2Ffile')).toMatchObject({
      params: { recordKey: 'dir/file' },
    });
    expect(matchServerRoute('DELETE', '/v2/key-value-stores/s/records/a//b')).toMatchObject({
      params: { recordKey: 'a//b' },
    });
    // Its first segment must not be empty; a bad escape in any later segment is reported.
    expect(matchServerRoute('GET', '/v2/key-value-stores/s/records/')).toEqual({ kind: 'not_found' });
    expect(matchServerRoute('GET', '/v2/key-value-stores/s/records/a/%E0%A4%A')).toEqual({
      kind: 'bad_encoding',
      template: '/v2/key-value-stores/{storeId}/records/{recordKey}',
      param: 'recordKey',
    });
    // Other templates stay exact: an extra segment is no route.
    expect(matchServerRoute('GET', '/v2/key-value-stores/s/keys/more')).toEqual({ kind: 'not_found' });
  });
});

/**
 * Signed URLs (docs/security.md "Signed URLs"; Apify `getRecordPublicUrl` / `createKeysPublicUrl`):
 * create a signed read-only URL for a record or a key listing, and rotate the store's signing secret.
 *
 * @module
 */
import { createRoute } from '@hono/zod-openapi';
import { buildPath, validateKey, validateKeyPrefix } from '@kv/core/protocol';
import { authorize, canRead, defaultGrant, forbidden, grantScopesParam, intersectGrants } from '../access.js';
import type { EngineContext } from '../context.js';
import { jsonResponse } from '../http.js';
import { requireStore, storePath } from '../requests.js';
import {
  RotateSigningSecretResultSchema,
  SignedUrlBody,
  SignedUrlResultSchema,
  StoreParams,
} from '../schemas.js';
import { SIGNED_SCOPES_PARAM, signUrl } from '../signing.js';
import {
  type App,
  bodyLimits,
  errors,
  json,
  jsonRequest,
  randomSecret,
  registerRoute,
  tableRoute,
  valid,
} from './common.js';

const TAG = 'access';

const createSignedUrlRoute = createRoute({
  ...tableRoute('createSignedUrl'),
  tags: [TAG],
  summary:
    'Create a signed read-only URL for a record or a key listing (Apify getRecordPublicUrl / createKeysPublicUrl)',
  request: { params: StoreParams, body: jsonRequest(SignedUrlBody) },
  responses: {
    200: json(SignedUrlResultSchema, 'The signed URL; it works with no token until expiresAt'),
    ...errors(400, 401, 403, 404, 413, 415),
  },
});

const rotateSigningSecretRoute = createRoute({
  ...tableRoute('rotateSigningSecret'),
  tags: [TAG],
  summary: "Rotate the store's URL-signing secret: every URL signed before stops working",
  request: { params: StoreParams },
  responses: {
    200: json(RotateSigningSecretResultSchema, 'Rotated'),
    ...errors(400, 401, 403, 404),
  },
});

/** Registers the signed-URL routes: `createSignedUrl` (`sign`), `rotateSigningSecret` (`kv.admin:stores`). */
export function register(app: App, ctx: EngineContext): void {
  const { storage } = ctx;
  const { small } = bodyLimits(ctx);

  registerRoute(
    app,
    createSignedUrlRoute,
    async (c) => {
      const store = storePath(c);
      const body = valid<typeof SignedUrlBody>(c, 'json');
      const signGrant = await authorize(ctx, c, 'sign', {
        store,
        ...(body.kind === 'record' ? { key: body.key } : {}),
      });
      // A signed URL reaches what its signer may both sign and read: get for a record, list for a
      // listing (docs/security.md "Signed URLs").
      const readAction = body.kind === 'record' ? 'get' : 'list';
      const grant = intersectGrants(signGrant, defaultGrant(c.get('principal'), readAction, store));
      if (grant === null) throw forbidden(readAction);
      const nowMs = ctx.clock();
      // Only the path and query are signed; the returned URL's origin is the configured public URL.
      const path = new URL('http://kv.invalid/');
      if (body.kind === 'record') {
        const key = validateKey(body.key);
        // A scoped signer may only publish a record it could read (missing is the same 403).
        if (!grant.all) {
          const entry = await storage.get(store, key, nowMs);
          if (entry === undefined || !canRead(grant, entry.scopes)) throw forbidden(readAction);
        }
        path.pathname = buildPath('getEntry', { store, key });
      } else {
        path.pathname = buildPath('listEntries', { store });
        if (body.prefix !== undefined) path.searchParams.set('prefix', validateKeyPrefix(body.prefix));
        if (body.limit !== undefined) path.searchParams.set('limit', String(body.limit));
      }
      // The URL carries the scopes it may reach, so it never reaches more than the signer could read.
      const scopes = grantScopesParam(grant);
      if (scopes !== undefined) path.searchParams.set(SIGNED_SCOPES_PARAM, scopes);
      const record = await requireStore(ctx, store);
      const expiresAtSecs = Math.floor(nowMs / 1000) + body.expiresInSecs;
      const signed = await signUrl(path, record.signingSecret, expiresAtSecs);
      const signedPath = signed.pathname + signed.search;
      return jsonResponse({
        url: ctx.publicUrl() + signedPath,
        path: signedPath,
        expiresAt: new Date(expiresAtSecs * 1000).toISOString(),
      });
    },
    small(['sign']),
  );

  registerRoute(app, rotateSigningSecretRoute, async (c) => {
    const store = storePath(c);
    await authorize(ctx, c, 'stores', { store });
    await storage.rotateSigningSecret(store, randomSecret(), ctx.clock());
    return jsonResponse({ rotated: true });
  });
}

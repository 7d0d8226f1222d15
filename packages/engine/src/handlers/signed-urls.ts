/**
 * Signed URLs (docs/security.md "Signed URLs"; Apify `getRecordPublicUrl` / `createKeysPublicUrl`):
 * create a signed read-only URL for a record or a key listing, and rotate the store's signing secret.
 *
 * @module
 */

import { buildPath, validateKey, validateKeyPrefix } from '@kv/core/protocol';
import type { z } from 'zod';
import { authorize, canRead, defaultGrant, forbidden, grantScopesParam, intersectGrants } from '../access.js';
import type { EngineContext } from '../context.js';
import { jsonResult } from '../http.js';
import { defineRoute, type HandlerTable, type RouteDoc } from '../pipeline.js';
import { requireStore, storePath } from '../requests.js';
import {
  RotateSigningSecretResultSchema,
  SignedUrlBody,
  SignedUrlResultSchema,
  StoreParams,
} from '../schemas.js';
import { SIGNED_SCOPES_PARAM, signUrl } from '../signing.js';
import { bodyLimits, errors, json, jsonRequest, randomSecret } from './common.js';

const TAG = 'access';

const createSignedUrlDoc: RouteDoc = {
  tags: [TAG],
  summary:
    'Create a signed read-only URL for a record or a key listing (Apify getRecordPublicUrl / createKeysPublicUrl)',
  request: { params: StoreParams, body: jsonRequest(SignedUrlBody) },
  responses: {
    200: json(SignedUrlResultSchema, 'The signed URL; it works with no token until expiresAt'),
    ...errors(400, 401, 403, 404, 413, 415),
  },
};

const rotateSigningSecretDoc: RouteDoc = {
  tags: [TAG],
  summary: "Rotate the store's URL-signing secret: every URL signed before stops working",
  request: { params: StoreParams },
  responses: {
    200: json(RotateSigningSecretResultSchema, 'Rotated'),
    ...errors(400, 401, 403, 404),
  },
};

/** The signed-URL routes: `createSignedUrl` (`sign`), `rotateSigningSecret` (`kv.admin:stores`). */
export function routes(ctx: EngineContext): Pick<HandlerTable, 'createSignedUrl' | 'rotateSigningSecret'> {
  const { storage } = ctx;
  const { small } = bodyLimits(ctx);

  const createSignedUrl = defineRoute(
    createSignedUrlDoc,
    async (c) => {
      const store = storePath(c);
      const body = c.body as z.output<typeof SignedUrlBody>;
      const signGrant = await authorize(ctx, c, 'sign', {
        store,
        ...(body.kind === 'record' ? { key: body.key } : {}),
      });
      // A signed URL reaches what its signer may both sign and read: get for a record, list for a
      // listing (docs/security.md "Signed URLs").
      const readAction = body.kind === 'record' ? 'get' : 'list';
      const grant = intersectGrants(signGrant, defaultGrant(c.principal, readAction, store));
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
      return jsonResult({
        url: ctx.publicUrl() + signedPath,
        path: signedPath,
        expiresAt: new Date(expiresAtSecs * 1000).toISOString(),
      });
    },
    small(['sign']),
  );

  const rotateSigningSecret = defineRoute(rotateSigningSecretDoc, async (c) => {
    const store = storePath(c);
    await authorize(ctx, c, 'stores', { store });
    await storage.rotateSigningSecret(store, randomSecret(), ctx.clock());
    return jsonResult({ rotated: true });
  });
  return { createSignedUrl, rotateSigningSecret };
}

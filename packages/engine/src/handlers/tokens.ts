/**
 * Tokens (docs/security.md "Tokens"), `kv.admin:tokens`: create (the secret is in that answer only),
 * list (never secrets) and revoke. 501 `not_implemented` when the engine has no token store.
 *
 * @module
 */
import { createRoute } from '@hono/zod-openapi';
import { KvError } from '@kv/core/protocol';
import { authorize } from '../access.js';
import { createToken, type TokenStore, toTokenInfo } from '../auth.js';
import type { EngineContext } from '../context.js';
import { decodeSegment, jsonResponse, rawPathSegments } from '../http.js';
import {
  CreatedTokenSchema,
  CreateTokenBody,
  RevokeTokenResultSchema,
  TokenListSchema,
  TokenParams,
} from '../schemas.js';
import {
  type App,
  bodyLimits,
  errors,
  json,
  jsonRequest,
  registerRoute,
  tableRoute,
  valid,
} from './common.js';

const TAG = 'access';

const createTokenRoute = createRoute({
  ...tableRoute('createToken'),
  tags: [TAG],
  summary: 'Create a token; its secret is in this response only',
  request: { body: jsonRequest(CreateTokenBody) },
  responses: {
    201: json(CreatedTokenSchema, 'Created; store the secret now'),
    ...errors(400, 401, 403, 413, 415, 501),
  },
});

const listTokensRoute = createRoute({
  ...tableRoute('listTokens'),
  tags: [TAG],
  summary: 'List tokens (never their secrets), oldest first',
  responses: {
    200: json(TokenListSchema, 'Every token, revoked and expired ones included'),
    ...errors(401, 403, 501),
  },
});

const revokeTokenRoute = createRoute({
  ...tableRoute('revokeToken'),
  tags: [TAG],
  summary: 'Revoke a token; effective on the next request',
  request: { params: TokenParams },
  responses: {
    200: json(RevokeTokenResultSchema, 'Whether a token was revoked'),
    ...errors(400, 401, 403, 501),
  },
});

/** Registers the token routes: `createToken`, `listTokens`, `revokeToken`. */
export function register(app: App, ctx: EngineContext): void {
  const { small } = bodyLimits(ctx);

  const tokenStore = (): TokenStore => {
    if (ctx.tokens === undefined) {
      throw new KvError('Access control is off on this server (the engine has no token store)', {
        code: 'not_implemented',
        status: 501,
      });
    }
    return ctx.tokens;
  };

  registerRoute(
    app,
    createTokenRoute,
    async (c) => {
      const body = valid<typeof CreateTokenBody>(c, 'json');
      await authorize(ctx, c, 'tokens');
      const created = await createToken(tokenStore(), body, ctx.clock());
      return jsonResponse(created, 201, { 'cache-control': 'no-store' });
    },
    small(['tokens'], false),
  );

  registerRoute(app, listTokensRoute, async (c) => {
    await authorize(ctx, c, 'tokens');
    const records = await tokenStore().list();
    return jsonResponse({ items: records.map(toTokenInfo) });
  });

  registerRoute(app, revokeTokenRoute, async (c) => {
    const segs = rawPathSegments(c.req.url);
    // ['v1', 'tokens', id]
    const id = decodeSegment(segs[2] ?? '', 'id');
    await authorize(ctx, c, 'tokens');
    const revoked = await tokenStore().revoke(id, ctx.clock());
    return jsonResponse({ revoked });
  });
}

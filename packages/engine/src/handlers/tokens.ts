/**
 * Tokens (docs/security.md "Tokens"), `kv.admin:tokens`: create (the secret is in that answer only),
 * list (never secrets) and revoke. 501 `not_implemented` when the engine has no token store.
 *
 * @module
 */

import { KvError } from '@kv/core/protocol';
import type { z } from 'zod';
import { authorize } from '../access.js';
import { createToken as issueToken, type TokenStore, toTokenInfo } from '../auth.js';
import type { EngineContext } from '../context.js';
import { jsonResult } from '../http.js';
import { defineRoute, type HandlerTable, type RouteDoc } from '../pipeline.js';
import {
  CreatedTokenSchema,
  CreateTokenBody,
  RevokeTokenResultSchema,
  TokenListSchema,
  TokenParams,
} from '../schemas.js';
import { bodyLimits, errors, json, jsonRequest } from './common.js';

const TAG = 'access';

const createTokenDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Create a token; its secret is in this response only',
  request: { body: jsonRequest(CreateTokenBody) },
  responses: {
    201: json(CreatedTokenSchema, 'Created; store the secret now'),
    ...errors(400, 401, 403, 413, 415, 501),
  },
};

const listTokensDoc: RouteDoc = {
  tags: [TAG],
  summary: 'List tokens (never their secrets), oldest first',
  responses: {
    200: json(TokenListSchema, 'Every token, revoked and expired ones included'),
    ...errors(401, 403, 501),
  },
};

const revokeTokenDoc: RouteDoc = {
  tags: [TAG],
  summary: 'Revoke a token; effective on the next request',
  request: { params: TokenParams },
  responses: {
    200: json(RevokeTokenResultSchema, 'Whether a token was revoked'),
    ...errors(400, 401, 403, 501),
  },
};

/** The token routes: `createToken`, `listTokens`, `revokeToken`. */
export function routes(ctx: EngineContext): Pick<HandlerTable, 'createToken' | 'listTokens' | 'revokeToken'> {
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

  const createToken = defineRoute(
    createTokenDoc,
    async (c) => {
      const body = c.body as z.output<typeof CreateTokenBody>;
      await authorize(ctx, c, 'tokens');
      const created = await issueToken(tokenStore(), body, ctx.clock());
      return jsonResult(created, 201, { 'cache-control': 'no-store' });
    },
    small(['tokens'], false),
  );

  const listTokens = defineRoute(listTokensDoc, async (c) => {
    await authorize(ctx, c, 'tokens');
    const records = await tokenStore().list();
    return jsonResult({ items: records.map(toTokenInfo) });
  });

  const revokeToken = defineRoute(revokeTokenDoc, async (c) => {
    const id = c.params.id ?? '';
    await authorize(ctx, c, 'tokens');
    const revoked = await tokenStore().revoke(id, ctx.clock());
    return jsonResult({ revoked });
  });
  return { createToken, listTokens, revokeToken };
}

/**
 * `client.tokens` of the shared client (docs/security.md): create, list and revoke
 * tokens through `/v1/tokens`. Internal; the public shape is {@link TokensApi} in `./types.ts`.
 *
 * @module
 */

import { parseCapabilities } from '../capabilities.js';
import { ValidationError } from '../errors.js';
import { routes, type WireCreateTokenBody, type WireRevokeTokenResponse } from '../protocol.js';
import type { CreatedToken, CreateTokenOptions, TokenInfo } from '../types.js';
import { toEpochMs, validateTokenRateLimit } from '../validation.js';
import type { Transport } from './transport.js';
import type { TokensApi } from './types.js';

/** Builds `client.tokens`. */
export function createTokensApi(transport: Transport): TokensApi {
  const { send, guard } = transport;
  return {
    create: (options: CreateTokenOptions) =>
      guard(async () => {
        if (typeof options !== 'object' || options === null) {
          throw new ValidationError(
            '`tokens.create` takes { capabilities, expiresAt?, description?, rateLimit? }',
            {
              details: { field: 'options', reason: 'type' },
            },
          );
        }
        // Checked here with the server's parser, so a typo fails before anything is sent.
        parseCapabilities(options.capabilities);
        const body: WireCreateTokenBody = { capabilities: [...options.capabilities] };
        if (options.expiresAt !== undefined) {
          body.expiresAt =
            options.expiresAt === null ? null : new Date(toEpochMs(options.expiresAt)).toISOString();
        }
        if (options.description !== undefined) body.description = options.description;
        if (options.rateLimit !== undefined) body.rateLimit = validateTokenRateLimit(options.rateLimit);
        // Never retried: without an idempotency record (the secret must not be stored), a retry would
        // create a second token.
        const response = await send({ method: 'POST', path: routes.tokens(), json: body, retry: 'never' });
        return (await response.json()) as CreatedToken;
      }),

    list: () =>
      guard(async () => {
        const response = await send({ method: 'GET', path: routes.tokens(), retry: 'read' });
        return ((await response.json()) as { items: TokenInfo[] }).items;
      }),

    revoke: (id: string) =>
      guard(async () => {
        if (typeof id !== 'string' || id.length === 0 || id.length > 256) {
          throw new ValidationError('`id` must be a token id', { details: { field: 'id', reason: 'type' } });
        }
        // Sent once: the engine keeps no idempotency record for token routes, and a blind repeat after a
        // lost response would report `false` for a token this call revoked.
        const response = await send({ method: 'DELETE', path: routes.token(id), retry: 'never' });
        return ((await response.json()) as WireRevokeTokenResponse).revoked;
      }),
  };
}

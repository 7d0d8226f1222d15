/** `createKvMock({ token })`: access control on, with `token` as the admin token (issue 7). */
import { UnauthenticatedError, UnauthorizedError } from '@kv/core';
import { createClient } from '@kv/node';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKvMock } from '../src/index.js';

const BASE = 'http://kv.token.test';
const mock = createKvMock({ baseUrl: BASE, token: 'test-admin', seed: { app: { greeting: 'hello' } } });
const open = createKvMock({ baseUrl: 'http://kv.open.test' });
const server = setupServer(...mock.handlers, ...open.handlers);

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterAll(() => server.close());

describe('@kv/mock with a token', () => {
  it('seeds through the admin token and serves it; no token or a wrong one is 401', async () => {
    const admin = createClient({ url: BASE, env: {}, token: 'test-admin' });
    expect(await admin.store('app').get('greeting')).toBe('hello');
    await expect(createClient({ url: BASE, env: {} }).store('app').get('greeting')).rejects.toBeInstanceOf(
      UnauthenticatedError,
    );
    await expect(createClient({ url: BASE, env: {}, token: 'nope' }).stores.list()).rejects.toBeInstanceOf(
      UnauthenticatedError,
    );
    expect((await mock.tokens?.list())?.[0]).toMatchObject({ capabilities: ['*'] });
    expect(JSON.stringify(await mock.tokens?.list())).not.toContain('test-admin');
  });

  it('narrower tokens made with client.tokens.create are enforced; reset keeps the admin token', async () => {
    const admin = createClient({ url: BASE, env: {}, token: 'test-admin' });
    const { token } = await admin.tokens.create({ capabilities: ['kv[app]:get'] });
    const reader = createClient({ url: BASE, env: {}, token });
    expect(await reader.store('app').get('greeting')).toBe('hello');
    await expect(reader.store('app').set('greeting', 'x')).rejects.toBeInstanceOf(UnauthorizedError);
    await mock.reset();
    await expect(reader.store('app').get('x')).rejects.toBeInstanceOf(UnauthenticatedError);
    expect(await admin.stores.list()).toEqual([]);
  });

  it('without a token every request is allowed, as before', async () => {
    const kv = createClient({ url: 'http://kv.open.test', env: {} });
    await kv.stores.create('s');
    expect(open.tokens).toBeUndefined();
    await expect(kv.tokens.list()).rejects.toMatchObject({ status: 501 });
  });
});

import { createKvMock } from '@kv/mock';
import { createClient } from '@kv/node';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';

const mock = createKvMock({ baseUrl: 'http://kv.test', seed: { app: { hello: 'world' } } });
const server = setupServer(...mock.handlers);
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }));
afterEach(() => mock.reset().then(() => mock.seed({ app: { hello: 'world' } })));
afterAll(() => server.close());
it('get', async () => expect(await createClient({ url: mock.url }).store('app').get('hello')).toBe('world'));

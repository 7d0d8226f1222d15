import { UnauthenticatedError } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { isSignedUrl, signUrl, timingSafeEqual, verifySignedUrl } from './signing.js';

const now = 1_700_000_000_000;
const base = new URL('http://kv.test/v1/stores/orders/entries/a%2Fb?x=1');

describe('signed URLs', () => {
  it('verifies an untouched URL until it expires', async () => {
    const url = await signUrl(base, 'secret-1', now / 1000 + 60);
    expect(isSignedUrl(url)).toBe(true);
    await expect(verifySignedUrl('GET', url, 'secret-1', now)).resolves.toBeUndefined();
    await expect(verifySignedUrl('HEAD', url, 'secret-1', now)).resolves.toBeUndefined();
    await expect(verifySignedUrl('GET', url, 'secret-1', now + 61_000)).rejects.toMatchObject({
      details: { reason: 'signature_expired' },
    });
  });

  it('rejects any altered byte, another secret (rotation / other store), and writes', async () => {
    const url = await signUrl(base, 'secret-1', now / 1000 + 60);
    const variants: URL[] = [];
    const path = new URL(url);
    path.pathname = '/v1/stores/orders/entries/a%2Fc';
    variants.push(path);
    const store = new URL(url);
    store.pathname = '/v1/stores/other/entries/a%2Fb';
    variants.push(store);
    const query = new URL(url);
    query.searchParams.set('x', '2');
    variants.push(query);
    const added = new URL(url);
    added.searchParams.set('limit', '1000');
    variants.push(added);
    const extended = new URL(url);
    extended.searchParams.set('expires', String(now / 1000 + 6000));
    variants.push(extended);
    const sig = new URL(url);
    const s = sig.searchParams.get('signature')!;
    sig.searchParams.set('signature', (s[0] === 'A' ? 'B' : 'A') + s.slice(1));
    variants.push(sig);
    for (const v of variants) {
      await expect(verifySignedUrl('GET', v, 'secret-1', now)).rejects.toBeInstanceOf(UnauthenticatedError);
    }
    await expect(verifySignedUrl('GET', url, 'secret-2', now)).rejects.toBeInstanceOf(UnauthenticatedError);
    await expect(verifySignedUrl('PUT', url, 'secret-1', now)).rejects.toBeInstanceOf(UnauthenticatedError);
  });

  it('timingSafeEqual', () => {
    expect(timingSafeEqual('abc', 'abc')).toBe(true);
    expect(timingSafeEqual('abc', 'abd')).toBe(false);
    expect(timingSafeEqual('abc', 'ab')).toBe(false);
  });
});

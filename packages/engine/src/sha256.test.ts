import { describe, expect, it } from 'vitest';
import { sha256HexSync } from './sha256.js';

async function subtleHex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

describe('sha256HexSync', () => {
  it('matches the FIPS 180-4 test vectors', () => {
    expect(sha256HexSync('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256HexSync('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256HexSync('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('equals crypto.subtle for every length across block boundaries, strings as UTF-8', async () => {
    const bytes = new Uint8Array(300);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
    for (let n = 0; n <= bytes.length; n++) {
      const slice = bytes.subarray(0, n);
      expect(sha256HexSync(slice)).toBe(await subtleHex(slice));
    }
    const text = 'kv_ключ-🔑-token';
    expect(sha256HexSync(text)).toBe(await subtleHex(new TextEncoder().encode(text)));
  });
});

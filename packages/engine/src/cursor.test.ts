import { ValidationError } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { CursorSealer } from './cursor.js';

describe('CursorSealer', () => {
  it('round-trips any key and direction, with a fresh IV each time, never showing the key', async () => {
    const sealer = new CursorSealer();
    const lengths = new Set<number>();
    for (const lastKey of [
      'a',
      'secret/key?#%&=+~',
      'caf\u00e9 \u{1f511}',
      'x'.repeat(512),
      '\u{1f511}'.repeat(128),
    ]) {
      for (const reverse of [false, true]) {
        const one = await sealer.seal('s1', 'orders', { lastKey, reverse });
        const two = await sealer.seal('s1', 'orders', { lastKey, reverse });
        expect(one).toMatch(/^[A-Za-z0-9_-]+$/);
        lengths.add(one.length);
        expect(one).not.toBe(two);
        // (A 1-byte key may turn up in random bytes by chance; longer ones would not.)
        if (lastKey.length >= 6) {
          expect(atob(one.replace(/-/g, '+').replace(/_/g, '/'))).not.toContain(lastKey.slice(0, 6));
        }
        await expect(sealer.open('s1', 'orders', one)).resolves.toEqual({ lastKey, reverse });
        // Another engine over the same storage (same store secret) opens it too.
        await expect(new CursorSealer().open('s1', 'orders', two)).resolves.toEqual({ lastKey, reverse });
      }
    }
    // Padded: a cursor's length says nothing about the key's length.
    expect([...lengths]).toEqual([726]);
    // A key longer than any valid key is not sealed.
    await expect(
      sealer.seal('s1', 'orders', { lastKey: 'x'.repeat(513), reverse: false }),
    ).rejects.toBeInstanceOf(ValidationError);
  });

  it('refuses another store, another secret, and any altered byte', async () => {
    const sealer = new CursorSealer();
    const cursor = await sealer.seal('s1', 'orders', { lastKey: 'k', reverse: false });
    await expect(sealer.open('s1', 'orders', cursor)).resolves.toEqual({ lastKey: 'k', reverse: false });
    const refused: Array<[string, string, string]> = [
      ['s1', 'users', cursor],
      ['s2', 'orders', cursor],
      ['s1', 'orders', ''],
      ['s1', 'orders', 'not base64!'],
      ['s1', 'orders', cursor.slice(0, 20)],
    ];
    for (let i = 0; i < cursor.length; i++) {
      const c = cursor[i] === 'A' ? 'B' : 'A';
      refused.push(['s1', 'orders', cursor.slice(0, i) + c + cursor.slice(i + 1)]);
    }
    for (const [secret, store, c] of refused) {
      await expect(sealer.open(secret, store, c), c).rejects.toBeInstanceOf(ValidationError);
    }
  });
});

import { compareKeys } from '@kv/core';
import { describe, expect, it } from 'vitest';
import { SortedKeys } from './sorted-keys.js';
import { createPrng } from './testing/index.js';

describe('SortedKeys', () => {
  it('starts empty', () => {
    const keys = new SortedKeys(compareKeys, 4);
    expect(keys.size).toBe(0);
    expect(keys.keys()).toEqual([]);
    expect([...keys.range(keys.start(), keys.end())]).toEqual([]);
    expect([...keys.range(keys.start(), keys.end(), true)]).toEqual([]);
    expect(keys.delete('a')).toBe(false);
    expect(keys.has('a')).toBe(false);
  });

  it('agrees with a sorted array through random adds, deletes and range queries (chunks of 4)', () => {
    const rng = createPrng(11);
    const alphabet = ['a', 'b', 'c', '/', 'é', '\uFFFF', '😀'];
    const randomKey = () => Array.from({ length: rng.int(1, 3) }, () => rng.pick(alphabet)).join('');
    const keys = new SortedKeys(compareKeys, 4);
    let reference: string[] = [];
    for (let step = 0; step < 3000; step++) {
      const key = randomKey();
      if (rng.chance(0.6)) {
        expect(keys.add(key)).toBe(!reference.includes(key));
        if (!reference.includes(key)) reference = [...reference, key].sort(compareKeys);
      } else {
        expect(keys.delete(key)).toBe(reference.includes(key));
        reference = reference.filter((k) => k !== key);
      }
      expect(keys.size).toBe(reference.length);
      if (step % 10 !== 0) continue;
      expect(keys.keys()).toEqual(reference);
      const bound = randomKey();
      const prefix = randomKey().slice(0, rng.int(1, 2));
      const ge = reference.filter((k) => compareKeys(k, bound) >= 0);
      const gt = reference.filter((k) => compareKeys(k, bound) > 0);
      const lt = reference.filter((k) => compareKeys(k, bound) < 0);
      const withPrefix = reference.filter((k) => k.startsWith(prefix));
      expect([...keys.range(keys.lowerBound(bound), keys.end())]).toEqual(ge);
      expect([...keys.range(keys.upperBound(bound), keys.end())]).toEqual(gt);
      expect([...keys.range(keys.start(), keys.lowerBound(bound), true)]).toEqual([...lt].reverse());
      expect([...keys.range(keys.lowerBound(prefix), keys.prefixEnd(prefix))]).toEqual(withPrefix);
      expect([...keys.range(keys.lowerBound(prefix), keys.prefixEnd(prefix), true)]).toEqual(
        [...withPrefix].reverse(),
      );
      expect(keys.has(bound)).toBe(reference.includes(bound));
    }
  });
});

import { describe, expect, it } from 'vitest';
import { MemoryStorage } from './memory-storage.js';
import { describeStorageSuite } from './testing/index.js';

describeStorageSuite('MemoryStorage', (options) => new MemoryStorage(options));

describe('MemoryStorage options', () => {
  it('rejects a changeLogLimit below 1', () => {
    expect(() => new MemoryStorage({ changeLogLimit: 0 })).toThrow(RangeError);
    expect(() => new MemoryStorage({ changeLogLimit: 1.5 })).toThrow(RangeError);
  });

  it('answers ping false once closed', async () => {
    const storage = new MemoryStorage();
    expect(await storage.ping()).toBe(true);
    await storage.close();
    await storage.close();
    expect(await storage.ping()).toBe(false);
  });
});

/**
 * `exportStore` on sources: one consistent snapshot while another connection commits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { commit as commitTo, type PutOp } from '@kv/engine';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStorage } from './sqlite-storage.js';
import { exportStore } from './tools.js';

const dir = mkdtempSync(join(tmpdir(), 'kv-tools-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const T0 = Date.now();
const put = (key: string, value: string): PutOp => ({
  type: 'put',
  key,
  value: new TextEncoder().encode(value),
  contentType: 'text/plain',
  metadata: null,
  scopes: [],
  expiresAt: null,
  resume: false,
  newId: `id-${key}-${value}`,
});
const keys = (n: number, prefix = 'k') =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`);

describe('exportStore', () => {
  it('exports one snapshot while another connection rewrites every key and adds keys on both ends', async () => {
    const path = join(dir, 'snapshot.sqlite');
    const writer = SqliteStorage.open({ path });
    try {
      await writer.createStore('st', { history: 1, defaultTtlMs: null, maxValueBytes: 1 << 20 }, T0, 's');
      await commitTo(writer, 'st', {
        mode: 'each',
        mutations: keys(2500).map((k) => put(k, 'old')),
        nowMs: T0,
      });
      let wrote = false;
      const lines: string[] = [];
      // A slow destination: the first write waits for a commit from the other connection, which
      // changes every key and adds keys before and after them, while the export is on its first page.
      const out = new Writable({
        highWaterMark: 1,
        write(chunk: Buffer, _enc, cb) {
          lines.push(chunk.toString());
          if (wrote) return cb();
          wrote = true;
          commitTo(writer, 'st', {
            mode: 'each',
            mutations: [...keys(2500).map((k) => put(k, 'new')), put('a-first', 'new'), put('z-last', 'new')],
            nowMs: T0,
          }).then(() => cb(), cb);
        },
      });
      const count = await exportStore(path, 'st', out);
      expect(wrote).toBe(true);
      expect((await writer.getStore('st'))?.keyCount).toBe(2502);
      const parsed = lines
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { key: string; value: string });
      expect(count).toBe(2500);
      expect(parsed.map((l) => l.key)).toEqual(keys(2500));
      expect(new Set(parsed.map((l) => l.value))).toEqual(new Set(['old']));
    } finally {
      await writer.close();
    }
  });
});

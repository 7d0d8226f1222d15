/**
 * The cases only the `@kv/node` client can run: its Node-only API (`getBuffer`, Node `Readable` uploads,
 * `Buffer` values) and the client-side checks a bridged client cannot express (a cyclic object cannot
 * cross to a browser page). The Node targets register them through
 * `additionalTests` (see {@link ConformanceContext}); everything any `KvClient` can do is in the shared suite.
 * Semantics: docs/protocol.md ("Values", "Limits") and the Node client's README.
 *
 * @module
 */

import { Readable } from 'node:stream';
import { type NodeKvClient, PayloadTooLargeError, ValidationError } from '@kv/node';
import { expect, it } from 'vitest';
import { type ConformanceContext, expectKvError } from './suite.js';

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * Registers the `@kv/node` cases; pass it as `additionalTests` of `describeConformance` on a target whose
 * `createClient` makes `@kv/node` clients.
 *
 * @param context - the suite's context (see {@link ConformanceContext})
 * @example describeConformance('server', setup, { additionalTests: nodeClientCases })
 */
export function nodeClientCases(context: ConformanceContext<NodeKvClient>): void {
  const { freshStore } = context;

  it('@kv/node: typed reads of any content type; getBuffer is a Node Buffer, getStream a web stream', async () => {
    const store = await freshStore('node-reads');
    await store.set('json', { name: 'Alice', roles: ['admin'] });
    await store.set('text', 'héllo');
    await store.set('bytes', new Uint8Array([0, 1, 255]));
    expect(await store.getText('json')).toBe('{"name":"Alice","roles":["admin"]}');
    expect(await store.getBytes('text')).toEqual(new Uint8Array(Buffer.from('héllo')));
    const buffer = await store.getBuffer('bytes');
    expect(Buffer.isBuffer(buffer)).toBe(true);
    expect(buffer).toEqual(Buffer.from([0, 1, 255]));
    const stream = await store.getStream('text');
    expect(stream).toBeInstanceOf(ReadableStream);
    expect((await readAll(stream as ReadableStream<Uint8Array>)).toString()).toBe('héllo');
    expect(await store.getBuffer('nope')).toBeUndefined();
  });

  it('@kv/node: set accepts strings, JSON, Uint8Array, Buffer, ArrayBuffer, Blob, web and Node streams', async () => {
    const store = await freshStore('node-values');
    await store.set('buffer', Buffer.from('buf'));
    await store.set('arraybuffer', new Uint8Array([7, 8]).buffer);
    await store.set('blob', new Blob(['blob text'], { type: 'text/markdown' }));
    await store.set(
      'web',
      new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new Uint8Array([1, 2]));
          c.enqueue(new Uint8Array([3]));
          c.close();
        },
      }),
    );
    await store.set('node', Readable.from([Buffer.from('no'), Buffer.from('de')]), {
      contentType: 'text/plain',
    });
    await store.set('typed', '{"a":1}', { contentType: 'application/json' });
    await store.set('array', [1, 'two', null]);
    await store.set('null', null);
    expect(await store.getBytes('buffer')).toEqual(new Uint8Array(Buffer.from('buf')));
    expect(await store.getEntry('arraybuffer')).toMatchObject({
      contentType: 'application/octet-stream',
      value: new Uint8Array([7, 8]),
    });
    expect(await store.getEntry('blob')).toMatchObject({ contentType: 'text/markdown', value: 'blob text' });
    expect(await store.getBytes('web')).toEqual(new Uint8Array([1, 2, 3]));
    expect(await store.get('node')).toBe('node');
    expect(await store.get('typed')).toEqual({ a: 1 });
    expect(await store.get('array')).toEqual([1, 'two', null]);
    expect(await store.get('null')).toBeNull();
  });

  it('@kv/node: streams a 5 MiB Node Readable upload and download without corrupting it', async () => {
    const store = await freshStore('node-big');
    const chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251;
    const chunks = 80; // 5 MiB
    async function* generate(): AsyncGenerator<Buffer> {
      for (let i = 0; i < chunks; i++) yield chunk;
    }
    await store.set('big', Readable.from(generate()));
    expect((await store.getEntry('big'))?.size).toBe(chunk.length * chunks);
    const back = await readAll((await store.getStream('big')) as ReadableStream<Uint8Array>);
    expect(back.length).toBe(chunk.length * chunks);
    expect(back.subarray(chunk.length * 7, chunk.length * 8).equals(chunk)).toBe(true);
  });

  it('@kv/node: a Node Readable over the store maxValueBytes is PayloadTooLargeError and writes nothing', async () => {
    const store = await freshStore('node-small', { maxValueBytes: 16 });
    await store.set('fits', Readable.from([Buffer.alloc(16)]));
    const error = await expectKvError(
      store.set('big', Readable.from([Buffer.alloc(40)])),
      PayloadTooLargeError,
      'payload_too_large',
    );
    expect(error.status).toBe(413);
    expect(await store.exists('big')).toBe(false);
    expect((await store.getEntry('fits'))?.size).toBe(16);
  });

  it('@kv/node: values JSON cannot represent (a cyclic object) are ValidationErrors in set and setMany', async () => {
    const store = await freshStore('node-json');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expectKvError(store.set('k', cyclic), ValidationError);
    await expectKvError(store.setMany([{ key: 'k', value: cyclic }]), ValidationError);
    expect(await store.exists('k')).toBe(false);
  });
}

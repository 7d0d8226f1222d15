import { describe, expect, it } from 'vitest';
import { bytesToBase64, decodeValue, utf8Decode, utf8Encode } from './encoding.js';
import { ValidationError } from './errors.js';
import {
  entryToJsonLine,
  formatJsonLine,
  type JsonLineEntry,
  type JsonLineWrite,
  parseJsonLine,
} from './jsonl.js';

const entry = (
  over: Partial<JsonLineEntry> & Pick<JsonLineEntry, 'value' | 'contentType'>,
): JsonLineEntry => ({
  key: 'k',
  metadata: null,
  scopes: [],
  expiresAt: null,
  resume: false,
  ...over,
});

/** Export then import: the write that an export line gives back. */
const roundTrip = (e: JsonLineEntry): JsonLineWrite => parseJsonLine(formatJsonLine(e).trimEnd(), 1);

describe('entryToJsonLine (from stored bytes)', () => {
  it('carries compact JSON as JSON, other UTF-8 of a text or JSON type as text, anything else as base64', () => {
    const json = 'application/json';
    expect(entryToJsonLine(entry({ value: utf8Encode('{"a":[1,{"b":null}]}'), contentType: json }))).toEqual({
      key: 'k',
      value: { a: [1, { b: null }] },
      encoding: 'json',
      contentType: json,
    });
    // Re-serialising would drop the spaces: kept as text so the bytes survive.
    expect(entryToJsonLine(entry({ value: utf8Encode('{ "a": 1 }'), contentType: json }))).toMatchObject({
      value: '{ "a": 1 }',
      encoding: 'text',
    });
    expect(entryToJsonLine(entry({ value: utf8Encode('not json'), contentType: json }))).toMatchObject({
      value: 'not json',
      encoding: 'text',
    });
    expect(
      entryToJsonLine(entry({ value: utf8Encode('héllo\nwörld'), contentType: 'text/plain; charset=utf-8' })),
    ).toMatchObject({ value: 'héllo\nwörld', encoding: 'text' });
    // Invalid UTF-8 under a text type, and binary types, are base64.
    const bad = new Uint8Array([0x68, 0xff, 0x69]);
    expect(entryToJsonLine(entry({ value: bad, contentType: 'text/plain' }))).toMatchObject({
      value: bytesToBase64(bad),
      encoding: 'base64',
    });
    expect(
      entryToJsonLine(entry({ value: new Uint8Array([0, 255]), contentType: 'application/octet-stream' })),
    ).toEqual({ key: 'k', value: 'AP8=', encoding: 'base64', contentType: 'application/octet-stream' });
  });

  it('adds metadata, scopes, expiry (epoch ms or ISO) and resume only when set', () => {
    const line = entryToJsonLine(
      entry({
        value: utf8Encode('x'),
        contentType: 'text/plain',
        metadata: { m: 1 },
        scopes: ['a', 'b'],
        expiresAt: Date.UTC(2030, 0, 1),
        resume: true,
      }),
    );
    expect(line).toEqual({
      key: 'k',
      value: 'x',
      encoding: 'text',
      contentType: 'text/plain',
      metadata: { m: 1 },
      scopes: ['a', 'b'],
      expiresAt: '2030-01-01T00:00:00.000Z',
      resume: true,
    });
    expect(
      entryToJsonLine(
        entry({ value: utf8Encode('x'), contentType: 'text/plain', expiresAt: '2031-02-03T00:00:00.000Z' }),
      ).expiresAt,
    ).toBe('2031-02-03T00:00:00.000Z');
    expect(
      Object.keys(entryToJsonLine(entry({ value: utf8Encode('x'), contentType: 'text/plain' }))),
    ).toEqual(['key', 'value', 'encoding', 'contentType']);
  });
});

describe('entryToJsonLine (from decoded values, as clients read them)', () => {
  const decoded = (bytes: Uint8Array, contentType: string): JsonLineEntry =>
    entry({ value: decodeValue(bytes, contentType), contentType, size: bytes.byteLength });

  it('gives the same line as the bytes for compact JSON, JSON string literals, non-JSON text and binary', () => {
    for (const [text, ct] of [
      ['{"a":[1,{"b":null}]}', 'application/json'],
      ['"quoted"', 'application/json'],
      ['42', 'application/json'],
      ['just a string', 'application/json'],
      ['plain text', 'text/plain; charset=utf-8'],
      ['<a/>', 'application/xml'],
    ] as const) {
      const bytes = utf8Encode(text);
      expect(entryToJsonLine(decoded(bytes, ct)), text).toEqual(
        entryToJsonLine(entry({ value: bytes, contentType: ct })),
      );
    }
    const bin = new Uint8Array([1, 2, 3]);
    expect(entryToJsonLine(decoded(bin, 'image/png'))).toMatchObject({ encoding: 'base64', value: 'AQID' });
  });

  it('re-serialises decoded JSON compactly (whitespace is not kept), and refuses what JSON cannot hold', () => {
    expect(entryToJsonLine(decoded(utf8Encode('{ "a": 1 }'), 'application/json'))).toMatchObject({
      value: { a: 1 },
      encoding: 'json',
    });
    expect(() => entryToJsonLine(entry({ value: undefined, contentType: 'application/json' }))).toThrow(
      ValidationError,
    );
  });
});

describe('parseJsonLine', () => {
  it('reads each encoding into bytes with the default content type', () => {
    expect(parseJsonLine('{"key":"a","value":{"x":[1]},"encoding":"json"}', 1)).toEqual({
      key: 'a',
      value: utf8Encode('{"x":[1]}'),
      contentType: 'application/json',
    });
    expect(parseJsonLine('{"key":"a","value":"hé","encoding":"text"}', 1)).toEqual({
      key: 'a',
      value: utf8Encode('hé'),
      contentType: 'text/plain; charset=utf-8',
    });
    expect(parseJsonLine('{"key":"a","value":"AP8=","encoding":"base64"}', 1)).toEqual({
      key: 'a',
      value: new Uint8Array([0, 255]),
      contentType: 'application/octet-stream',
    });
  });

  it('infers the encoding when absent: text for strings of non-JSON types, else JSON', () => {
    expect(utf8Decode(parseJsonLine('{"key":"a","value":"s"}', 1).value)).toBe('s');
    expect(
      utf8Decode(parseJsonLine('{"key":"a","value":"s","contentType":"application/json"}', 1).value),
    ).toBe('"s"');
    expect(utf8Decode(parseJsonLine('{"key":"a","value":[1,2]}', 1).value)).toBe('[1,2]');
  });

  it('keeps contentType, metadata, scopes, expiresAt and resume; null metadata/expiry mean none', () => {
    expect(
      parseJsonLine(
        '{"key":"a","value":"x","encoding":"text","contentType":"text/csv","metadata":{"m":1},"scopes":["s"],"expiresAt":"2030-01-01T00:00:00.000Z","resume":true}',
        1,
      ),
    ).toEqual({
      key: 'a',
      value: utf8Encode('x'),
      contentType: 'text/csv',
      metadata: { m: 1 },
      scopes: ['s'],
      expiresAt: '2030-01-01T00:00:00.000Z',
      resume: true,
    });
    expect(parseJsonLine('{"key":"a","value":1,"metadata":null,"expiresAt":null,"resume":false}', 1)).toEqual(
      {
        key: 'a',
        value: utf8Encode('1'),
        contentType: 'application/json',
      },
    );
  });

  it('refuses malformed lines with the line number and the field', () => {
    const cases: Array<[string, string]> = [
      ['not json', 'line'],
      ['[1,2]', 'line'],
      ['{"value":1}', 'line'],
      ['{"key":"a"}', 'line'],
      ['{"key":"a","value":1,"encoding":"hex"}', 'encoding'],
      ['{"key":"a","value":1,"encoding":"text"}', 'value'],
      ['{"key":"a","value":1,"encoding":"base64"}', 'value'],
      ['{"key":"a","value":"!!!","encoding":"base64"}', 'value'],
      ['{"key":"a","value":1,"metadata":[1]}', 'metadata'],
      ['{"key":"a","value":1,"scopes":"s"}', 'scopes'],
      ['{"key":"a","value":1,"scopes":[1]}', 'scopes'],
      ['{"key":"a","value":1,"expiresAt":123}', 'expiresAt'],
      ['{"key":"a","value":1,"resume":"yes"}', 'resume'],
      ['{"key":"a","value":1,"contentType":5}', 'contentType'],
    ];
    for (const [text, field] of cases) {
      let error: unknown;
      try {
        parseJsonLine(text, 7);
      } catch (e) {
        error = e;
      }
      expect(error, text).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).message, text).toMatch(/^line 7: /);
      expect((error as ValidationError).details, text).toMatchObject({ line: 7, field });
    }
  });
});

describe('export then import', () => {
  it('gives back the stored bytes, content type and fields', () => {
    const cases: JsonLineEntry[] = [
      entry({ value: utf8Encode('{"a":1}'), contentType: 'application/json' }),
      entry({ value: utf8Encode('{ "a" : 1 }'), contentType: 'application/json; charset=utf-8' }),
      entry({ value: utf8Encode('"s"'), contentType: 'application/json' }),
      entry({ value: utf8Encode('oops{'), contentType: 'application/json' }),
      entry({ value: utf8Encode('line1\r\nline2 \u2028'), contentType: 'text/plain' }),
      entry({ value: new Uint8Array([0x80, 0, 0xff]), contentType: 'text/plain' }),
      entry({ value: new Uint8Array(256).map((_, i) => i), contentType: 'application/octet-stream' }),
      entry({
        value: utf8Encode('x'),
        contentType: 'text/plain',
        metadata: { deep: { list: [1, 'two'] } },
        scopes: ['a', 'b'],
        expiresAt: Date.UTC(2030, 5, 1),
        resume: true,
      }),
    ];
    for (const e of cases) {
      const w = roundTrip(e);
      expect(w.value, e.contentType).toEqual(e.value);
      expect(w.contentType).toBe(e.contentType);
      expect(w.metadata ?? null).toEqual(e.metadata);
      expect(w.scopes ?? []).toEqual(e.scopes);
      expect(w.expiresAt ?? null).toBe(e.expiresAt === null ? null : new Date(e.expiresAt).toISOString());
      expect(w.resume ?? false).toBe(e.resume);
    }
  });
});

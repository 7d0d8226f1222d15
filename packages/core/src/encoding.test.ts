import { describe, expect, it } from 'vitest';
import {
  base64ToBytes,
  bytesToBase64,
  bytesToBase64Url,
  decodeValue,
  encodeValue,
  isJsonContentType,
  isTextContentType,
  utf8Decode,
  utf8Encode,
} from './encoding.js';
import { ValidationError } from './errors.js';

function expectValidation(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('utf8Encode / utf8Decode', () => {
  it('round-trips text in every plane', () => {
    for (const text of ['', 'abc', 'clé', '鍵', '😀 and 🎉', '\u0000\uffff']) {
      expect(utf8Decode(utf8Encode(text))).toBe(text);
    }
    expect([...utf8Encode('é')]).toEqual([0xc3, 0xa9]);
  });
  it('replaces invalid sequences instead of throwing', () => {
    expect(utf8Decode(new Uint8Array([0x61, 0xff, 0x62]))).toBe('a\ufffdb');
    expect([...utf8Encode('\ud800')]).toEqual([0xef, 0xbf, 0xbd]);
  });
});

describe('content type predicates', () => {
  it('recognizes JSON types with suffixes and parameters', () => {
    for (const ct of [
      'application/json',
      'Application/JSON',
      'application/json; charset=utf-8',
      'application/ld+json',
      'application/vnd.api+json ; x=1',
    ]) {
      expect(isJsonContentType(ct), ct).toBe(true);
    }
    for (const ct of ['text/plain', 'application/octet-stream', 'application/jsonx', '+json', 'text/json5']) {
      expect(isJsonContentType(ct), ct).toBe(false);
    }
  });
  it('recognizes text types', () => {
    for (const ct of [
      'text/plain',
      'text/html; charset=utf-8',
      'TEXT/CSV',
      'application/xml',
      'application/javascript',
      'image/svg+xml',
      'application/json',
    ]) {
      expect(isTextContentType(ct), ct).toBe(true);
    }
    for (const ct of ['application/octet-stream', 'image/png', 'application/pdf', '']) {
      expect(isTextContentType(ct), ct).toBe(false);
    }
  });
});

describe('encodeValue', () => {
  it('passes bytes through as application/octet-stream', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const out = encodeValue(bytes);
    expect(out.contentType).toBe('application/octet-stream');
    expect(out.bytes).toBe(bytes);
    expect([...encodeValue(bytes.buffer).bytes]).toEqual([1, 2, 3]);
    const view = new DataView(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2);
    expect([...encodeValue(view).bytes]).toEqual([8, 7]);
    expect([...encodeValue(new Uint16Array([0x0102])).bytes]).toHaveLength(2);
  });

  it('encodes strings as UTF-8 text', () => {
    const out = encodeValue('héllo 😀');
    expect(out.contentType).toBe('text/plain; charset=utf-8');
    expect(utf8Decode(out.bytes)).toBe('héllo 😀');
  });

  it('encodes everything else as JSON', () => {
    for (const value of [{ a: 1, b: [true, null] }, [1, 2], 42, true, null, 'x'.length]) {
      const out = encodeValue(value);
      expect(out.contentType).toBe('application/json');
      expect(JSON.parse(utf8Decode(out.bytes))).toEqual(value);
    }
  });

  it('lets an explicit content type override the inferred one without re-encoding', () => {
    const json = encodeValue('{"a":1}', 'application/json');
    expect(json.contentType).toBe('application/json');
    expect(utf8Decode(json.bytes)).toBe('{"a":1}');
    expect(encodeValue(new Uint8Array([1]), 'image/png').contentType).toBe('image/png');
    const obj = encodeValue({ a: 1 }, 'application/vnd.kv+json');
    expect(obj.contentType).toBe('application/vnd.kv+json');
    expect(utf8Decode(obj.bytes)).toBe('{"a":1}');
  });

  it('rejects values JSON cannot represent', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const value of [
      undefined,
      () => 1,
      Symbol('s'),
      10n,
      cyclic,
      { big: 1n },
      new Blob(['x']),
      new ReadableStream(),
    ]) {
      const error = expectValidation(() => encodeValue(value));
      expect(error.details).toMatchObject({ field: 'value', reason: 'not_json' });
    }
  });
});

describe('decodeValue', () => {
  it('parses JSON types', () => {
    expect(decodeValue(utf8Encode('{"a":[1,"é"]}'), 'application/json')).toEqual({ a: [1, 'é'] });
    expect(decodeValue(utf8Encode('42'), 'application/json; charset=utf-8')).toBe(42);
    expect(decodeValue(utf8Encode('"s"'), 'application/ld+json')).toBe('s');
    expect(decodeValue(utf8Encode('null'), 'application/json')).toBeNull();
  });

  it('returns the text when JSON is invalid', () => {
    expect(decodeValue(utf8Encode('{not json'), 'application/json')).toBe('{not json');
    expect(decodeValue(new Uint8Array(), 'application/json')).toBe('');
  });

  it('decodes text types, honouring charset', () => {
    expect(decodeValue(utf8Encode('héllo'), 'text/plain; charset=utf-8')).toBe('héllo');
    expect(decodeValue(utf8Encode('<a/>'), 'application/xml')).toBe('<a/>');
    expect(decodeValue(utf8Encode('x()'), 'application/javascript')).toBe('x()');
    expect(decodeValue(new Uint8Array([0xe9]), 'text/plain; charset=iso-8859-1')).toBe('é');
    expect(decodeValue(utf8Encode('ok'), 'text/plain; charset=no-such-charset')).toBe('ok');
  });

  it('returns bytes for everything else', () => {
    const bytes = new Uint8Array([0, 1, 255]);
    expect(decodeValue(bytes, 'application/octet-stream')).toBe(bytes);
    expect(decodeValue(bytes, 'image/png')).toBe(bytes);
  });

  it('round-trips encodeValue', () => {
    const values: unknown[] = [
      { nested: { list: [1, 'two', null] } },
      'text 😀',
      new Uint8Array([5, 6]),
      0,
      false,
    ];
    for (const value of values) {
      const { bytes, contentType } = encodeValue(value);
      expect(decodeValue(bytes, contentType)).toEqual(value);
    }
  });
});

describe('bytesToBase64Url', () => {
  it('is RFC 4648 section 5 without padding', () => {
    expect(bytesToBase64Url(new Uint8Array([0xfb, 0xff, 0xbf]))).toBe('-_-_');
    expect(bytesToBase64Url(new Uint8Array([0xfb, 0xff]))).toBe('-_8');
    expect(bytesToBase64Url(new Uint8Array([]))).toBe('');
    const bytes = Uint8Array.from({ length: 300 }, (_, i) => (i * 37) % 256);
    const url = bytesToBase64Url(bytes);
    expect(url).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(base64ToBytes(url.replace(/-/g, '+').replace(/_/g, '/'))).toEqual(bytes);
  });
});

describe('base64', () => {
  it('matches RFC 4648 test vectors', () => {
    const vectors: Array<[string, string]> = [
      ['', ''],
      ['f', 'Zg=='],
      ['fo', 'Zm8='],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg=='],
      ['fooba', 'Zm9vYmE='],
      ['foobar', 'Zm9vYmFy'],
    ];
    for (const [plain, encoded] of vectors) {
      expect(bytesToBase64(utf8Encode(plain))).toBe(encoded);
      expect(utf8Decode(base64ToBytes(encoded))).toBe(plain);
    }
  });

  it('accepts unpadded input', () => {
    expect(utf8Decode(base64ToBytes('Zg'))).toBe('f');
    expect(utf8Decode(base64ToBytes('Zm8'))).toBe('fo');
  });

  it('round-trips every byte value and 3 MB of data', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(base64ToBytes(bytesToBase64(all))).toEqual(all);
    const big = new Uint8Array(3 * 1024 * 1024);
    let x = 12345;
    for (let i = 0; i < big.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      big[i] = x >>> 24;
    }
    const text = bytesToBase64(big);
    expect(text.length).toBe(Math.ceil(big.length / 3) * 4);
    let binary = '';
    for (let i = 0; i < big.length; i++) binary += String.fromCharCode(big[i] as number);
    expect(text === btoa(binary)).toBe(true);
    const back = base64ToBytes(text);
    expect(back.length).toBe(big.length);
    let firstDifference = -1;
    for (let i = 0; i < big.length && firstDifference === -1; i++)
      if (back[i] !== big[i]) firstDifference = i;
    expect(firstDifference).toBe(-1);
  });

  it('rejects invalid base64 strictly', () => {
    for (const bad of [
      'Z',
      'Zg=',
      'Zg===',
      'Z===',
      '=Zg=',
      'Zm9v\n',
      'Zm 9v',
      'Zm9-',
      'Zm9_',
      'Zh==',
      'Zm9=x',
      'Zm8=Zm8=',
      'é123',
    ]) {
      const error = expectValidation(() => base64ToBytes(bad));
      expect(error.details, bad).toEqual({ field: 'value', reason: 'invalid_base64' });
    }
  });
});

/**
 * The JSON Lines import/export format of kv, shared by `kv export`/`kv import` (`@kv/node`) and
 * `kv-server export`/`import` (apps/server): one JSON object per line,
 *
 * ```json
 * {"key":"user.1","value":{"name":"Ada"},"encoding":"json","contentType":"application/json","metadata":{"v":2},"scopes":["eu"],"expiresAt":"2030-01-01T00:00:00.000Z","resume":true}
 * ```
 *
 * Pure functions (no I/O): the tools read and write the lines. The value is carried as JSON
 * (`encoding: "json"`, for JSON content types), as a string (`text`, for valid UTF-8 of a text or JSON
 * type) or as base64 (`base64`, anything else), chosen so that an export followed by an import gives the
 * stored bytes back. Semantics of the fields: docs/protocol.md "Entries" (contentType, metadata, scopes, expiresAt,
 * resume: AntiRaid), docs/protocol.md "Entry JSON".
 *
 * @module
 */
import {
  base64ToBytes,
  bytesToBase64,
  isJsonContentType,
  isTextContentType,
  utf8Encode,
} from './encoding.js';
import { ValidationError } from './errors.js';
import { BYTES_CONTENT_TYPE, JSON_CONTENT_TYPE, TEXT_CONTENT_TYPE } from './protocol.js';
import type { JsonObject } from './types.js';
import { clampEpochMs, utf8ByteLength } from './validation.js';

/** How a JSON Lines record carries its value: a JSON value, a string, or base64 of the bytes. */
export type JsonLineEncoding = 'json' | 'text' | 'base64';

/**
 * One record of the JSON Lines format. {@link entryToJsonLine} always sets `encoding` and `contentType`
 * and omits the optional fields an entry does not have; {@link parseJsonLine} accepts any of them absent.
 */
export interface JsonLine {
  /** The key. */
  key: string;
  /** The value: a JSON value (`json`), a string (`text`) or base64 (`base64`). */
  value: unknown;
  /**
   * How `value` carries the bytes. When absent on import: `text` for a string value whose content type
   * is not JSON, else `json`.
   */
  encoding?: JsonLineEncoding;
  /**
   * The entry's content type. When absent on import: `application/json`, `text/plain; charset=utf-8` or
   * `application/octet-stream` after the encoding.
   */
  contentType?: string;
  /** Metadata (Cloudflare KV metadata), when the entry has some. */
  metadata?: JsonObject | null;
  /** Scopes (AntiRaid), when the entry has some. */
  scopes?: string[];
  /** Expiry, ISO 8601, when the entry expires. */
  expiresAt?: string | null;
  /** `true` when the entry has the resume flag (AntiRaid KeyResume). */
  resume?: boolean;
}

/** The fields of an entry that {@link entryToJsonLine} exports. */
export interface JsonLineEntry {
  /** The key. */
  key: string;
  /**
   * The value: the stored bytes (a `Uint8Array`; exported byte-exact), or the value as client reads
   * decode it (`decodeValue`: a JSON value, or a string). A decoded value is turned back into bytes:
   * JSON values are re-serialised compactly, so a stored JSON text with insignificant whitespace
   * exports without it; pass the bytes to keep them.
   */
  value: unknown;
  /** The entry's content type. */
  contentType: string;
  /**
   * The stored size in bytes. Needed only for a decoded string of a JSON content type, to tell a JSON
   * string literal (`"abc"`, stored with its quotes) from bytes that were not JSON (returned as text).
   */
  size?: number;
  /** Metadata, or null. */
  metadata: JsonObject | null;
  /** Scopes (may be empty). */
  scopes: readonly string[];
  /** Expiry as epoch ms or ISO 8601, or null. */
  expiresAt: number | string | null;
  /** The resume flag. */
  resume: boolean;
}

/** A parsed import line: a write with the value as bytes, ready for `setMany` or a `bulk/set` item. */
export interface JsonLineWrite {
  /** The key (validated by the write, not here). */
  key: string;
  /** The bytes to store. */
  value: Uint8Array;
  /** The content type to store. */
  contentType: string;
  /** Metadata, when the line has some. */
  metadata?: JsonObject;
  /** Scopes, when the line has some. */
  scopes?: string[];
  /** Expiry, ISO 8601, when the line has one. */
  expiresAt?: string;
  /** Present (true) when the line sets the resume flag. */
  resume?: true;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The stored bytes of an entry value given as bytes or as decoded by `decodeValue`. */
function storedBytes(entry: JsonLineEntry): Uint8Array {
  const { value } = entry;
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string') {
    if (!isJsonContentType(entry.contentType)) return utf8Encode(value);
    // A JSON type decodes to a string either from a JSON string literal (stored with its quotes, so
    // longer than the text) or from bytes that are not JSON (returned as their text, same length).
    if (entry.size !== undefined && utf8ByteLength(value) === entry.size) return utf8Encode(value);
  }
  const json = JSON.stringify(value);
  if (json === undefined) {
    throw new ValidationError(`The value of ${entry.key} cannot be exported as JSON`, {
      details: { field: 'value', reason: 'not_json', key: entry.key },
    });
  }
  return utf8Encode(json);
}

/**
 * The export record of an entry. The encoding keeps the bytes: `json` when the content type is JSON and
 * re-serialising the parsed value gives the same bytes; `text` for other valid UTF-8 of a JSON or text
 * content type; `base64` otherwise. Metadata, scopes, expiry and resume appear only when set.
 *
 * @param entry - the entry, its value as bytes or decoded (see {@link JsonLineEntry.value})
 * @returns the record (serialise it with `JSON.stringify`, or use {@link formatJsonLine})
 * @throws {ValidationError} a decoded value that JSON cannot represent
 * @example
 * entryToJsonLine({ key: 'k', value: utf8Encode('{"a":1}'), contentType: 'application/json',
 *   metadata: null, scopes: [], expiresAt: null, resume: false });
 * // { key: 'k', value: { a: 1 }, encoding: 'json', contentType: 'application/json' }
 */
export function entryToJsonLine(entry: JsonLineEntry): JsonLine {
  const bytes = storedBytes(entry);
  const { key, contentType } = entry;
  let line: JsonLine | undefined;
  if (isTextContentType(contentType)) {
    let text: string | undefined;
    try {
      text = strictUtf8.decode(bytes);
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      if (isJsonContentType(contentType)) {
        try {
          const parsed: unknown = JSON.parse(text);
          if (JSON.stringify(parsed) === text) line = { key, value: parsed, encoding: 'json', contentType };
        } catch {
          // not JSON: kept as text
        }
      }
      line ??= { key, value: text, encoding: 'text', contentType };
    }
  }
  line ??= { key, value: bytesToBase64(bytes), encoding: 'base64', contentType };
  if (entry.metadata !== null) line.metadata = entry.metadata;
  if (entry.scopes.length > 0) line.scopes = [...entry.scopes];
  if (entry.expiresAt !== null) {
    line.expiresAt =
      typeof entry.expiresAt === 'number'
        ? new Date(clampEpochMs(entry.expiresAt)).toISOString()
        : entry.expiresAt;
  }
  if (entry.resume) line.resume = true;
  return line;
}

/**
 * One line of an export: `JSON.stringify(entryToJsonLine(entry))` and a newline.
 *
 * @throws {ValidationError} as {@link entryToJsonLine}
 */
export function formatJsonLine(entry: JsonLineEntry): string {
  return `${JSON.stringify(entryToJsonLine(entry))}\n`;
}

function lineError(lineNumber: number, message: string, field: string, reason: string): ValidationError {
  return new ValidationError(`line ${lineNumber}: ${message}`, {
    details: { line: lineNumber, field, reason },
  });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses one import line into a write. The shape is checked here (an object with a string `key` and a
 * `value` matching `encoding`; `metadata` an object, `scopes` an array of strings, `expiresAt` a string,
 * `resume` a boolean); key rules, limits and the expiry's format are checked by the write itself, like
 * any `bulk/set` item. `null` metadata or expiry means none.
 *
 * @param text - the line, without its newline
 * @param lineNumber - 1-based line number, for messages
 * @returns the write, its value as bytes
 * @throws {ValidationError} `line <n>: ...`, `details: { line, field, reason }`: not JSON, not an object,
 *   no `key`/`value`, an unknown encoding, a value that does not match its encoding, invalid base64, a
 *   field of the wrong type
 * @example
 * parseJsonLine('{"key":"k","value":"aGk=","encoding":"base64"}', 1);
 * // { key: 'k', value: Uint8Array [104, 105], contentType: 'application/octet-stream' }
 */
export function parseJsonLine(text: string, lineNumber: number): JsonLineWrite {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw lineError(lineNumber, 'not valid JSON', 'line', 'not_json');
  }
  if (!isPlainObject(parsed) || typeof parsed.key !== 'string' || !('value' in parsed)) {
    throw lineError(lineNumber, 'expected an object with "key" and "value"', 'line', 'shape');
  }
  const line = parsed as Partial<JsonLine> & { key: string };
  if (line.contentType !== undefined && typeof line.contentType !== 'string') {
    throw lineError(lineNumber, 'contentType must be a string', 'contentType', 'type');
  }
  const encoding =
    line.encoding ??
    (typeof line.value === 'string' && !isJsonContentType(line.contentType ?? '') ? 'text' : 'json');
  let value: Uint8Array;
  if (encoding === 'base64') {
    if (typeof line.value !== 'string') {
      throw lineError(lineNumber, 'a base64 value must be a string', 'value', 'type');
    }
    try {
      value = base64ToBytes(line.value);
    } catch {
      throw lineError(lineNumber, 'value is not valid base64', 'value', 'invalid_base64');
    }
  } else if (encoding === 'text') {
    if (typeof line.value !== 'string') {
      throw lineError(lineNumber, 'a text value must be a string', 'value', 'type');
    }
    value = utf8Encode(line.value);
  } else if (encoding === 'json') {
    // JSON values are stored as their JSON text (a string value keeps its quotes).
    value = utf8Encode(JSON.stringify(line.value));
  } else {
    throw lineError(lineNumber, `unknown encoding "${String(encoding)}"`, 'encoding', 'unknown');
  }
  const write: JsonLineWrite = {
    key: line.key,
    value,
    contentType:
      line.contentType ??
      (encoding === 'json'
        ? JSON_CONTENT_TYPE
        : encoding === 'text'
          ? TEXT_CONTENT_TYPE
          : BYTES_CONTENT_TYPE),
  };
  if (line.metadata !== undefined && line.metadata !== null) {
    if (!isPlainObject(line.metadata)) {
      throw lineError(lineNumber, 'metadata must be a JSON object', 'metadata', 'type');
    }
    write.metadata = line.metadata as JsonObject;
  }
  if (line.scopes !== undefined) {
    if (!Array.isArray(line.scopes) || !line.scopes.every((s) => typeof s === 'string')) {
      throw lineError(lineNumber, 'scopes must be an array of strings', 'scopes', 'type');
    }
    write.scopes = line.scopes;
  }
  if (line.expiresAt !== undefined && line.expiresAt !== null) {
    if (typeof line.expiresAt !== 'string') {
      throw lineError(lineNumber, 'expiresAt must be an ISO 8601 string', 'expiresAt', 'type');
    }
    write.expiresAt = line.expiresAt;
  }
  if (line.resume !== undefined && typeof line.resume !== 'boolean') {
    throw lineError(lineNumber, 'resume must be a boolean', 'resume', 'type');
  }
  if (line.resume === true) write.resume = true;
  return write;
}

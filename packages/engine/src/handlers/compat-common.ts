/**
 * What the compatibility APIs' route modules (`compat-cloudflare.ts`, `compat-apify.ts`; docs/compat.md)
 * share: request bodies decoded from their `Content-Encoding` within a byte limit, JSON bodies, and
 * {@link callNative}, which answers a compat request with a native route's handler so every compat
 * operation takes the native path (the same capability checks, validation, commit and watch wake-up).
 *
 * @module
 */
import {
  isKvError,
  KvError,
  PayloadTooLargeError,
  ROUTES,
  type RouteDef,
  type RouteName,
  ValidationError,
} from '@kv/core/protocol';
import type { EngineRequest, EngineResult, HandlerTable, RequestContext } from '../pipeline.js';
import { readBodyLimited } from '../pipeline.js';

const EMPTY: Uint8Array = new Uint8Array(0);

/** Compressed input is fed to the decoder in slices of this many bytes (bounds each decoding step). */
const INFLATE_SLICE_BYTES = 4096;

/** The Web `DecompressionStream` formats tried for a `Content-Encoding` (RFC 9110 section 8.4.1). */
const WEB_FORMATS: Readonly<Record<string, string>> = {
  gzip: 'gzip',
  'x-gzip': 'gzip',
  deflate: 'deflate',
  br: 'brotli',
};

function tooLarge(limitBytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`Request body is larger than ${limitBytes} bytes once decompressed`, {
    details: { field: 'body', limitBytes },
  });
}

/** A `DecompressionStream` of `format`, or undefined where the runtime lacks the format. */
function webDecoder(format: string): TransformStream<Uint8Array, Uint8Array> | undefined {
  const Ctor = (globalThis as { DecompressionStream?: new (format: string) => unknown }).DecompressionStream;
  if (Ctor === undefined) return undefined;
  try {
    return new Ctor(format) as TransformStream<Uint8Array, Uint8Array>;
  } catch {
    // Node 20 and browsers have no 'brotli' (TypeError): the transport decodes it.
    return undefined;
  }
}

/**
 * Decodes `bytes` with a Web `DecompressionStream`, reading the output as it comes and stopping as soon
 * as it passes `limitBytes` (a small body that inflates to gigabytes is refused after `limitBytes`, not
 * buffered). The input goes in 4 KiB slices, so no single step produces more than its inflation.
 *
 * @throws {PayloadTooLargeError} 413 past `limitBytes`
 * @throws {ValidationError} 400 when the bytes are not valid in that coding
 */
async function inflateWeb(
  decoder: TransformStream<Uint8Array, Uint8Array>,
  bytes: Uint8Array,
  limitBytes: number,
): Promise<Uint8Array> {
  let offset = 0;
  const input = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.subarray(offset, offset + INFLATE_SLICE_BYTES));
      offset += INFLATE_SLICE_BYTES;
    },
  });
  const reader = input.pipeThrough(decoder).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limitBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge(limitBytes);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (isKvError(error)) throw error;
    throw new ValidationError('Request body is not valid in its Content-Encoding', {
      details: { field: 'Content-Encoding', reason: 'invalid_format' },
    });
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/**
 * The request body, decoded from its `Content-Encoding` (`gzip`, `deflate` with the Web
 * `DecompressionStream`; `br` there where the runtime has it, else by the transport's `decompress`), both
 * the compressed and the decoded bytes within `limitBytes`. `identity` or no header: the body as sent.
 *
 * @param req - the request
 * @param limitBytes - largest body accepted, compressed and decoded, in bytes
 * @throws {PayloadTooLargeError} 413 `payload_too_large` past `limitBytes` (a zip bomb stops there)
 * @throws {KvError} 415 `unsupported_media_type` for a coding neither the runtime nor the transport decodes
 * @throws {ValidationError} 400 for bytes that are not valid in their coding
 */
export async function readDecodedBody(req: EngineRequest, limitBytes: number): Promise<Uint8Array> {
  const coding = (req.header('content-encoding') ?? '').trim().toLowerCase();
  const bytes = await readBodyLimited(req, limitBytes);
  if (coding === '' || coding === 'identity') return bytes;
  const format = WEB_FORMATS[coding];
  const decoder = format === undefined ? undefined : webDecoder(format);
  if (decoder !== undefined) return inflateWeb(decoder, bytes, limitBytes);
  const decoded = await req.decompress?.(coding, bytes, limitBytes);
  if (decoded === null) throw tooLarge(limitBytes);
  if (decoded === undefined) {
    throw new KvError(`Content-Encoding "${coding}" is not supported`, {
      code: 'unsupported_media_type',
      details: { field: 'Content-Encoding' },
    });
  }
  return decoded;
}

/**
 * A JSON request body, decoded from its `Content-Encoding`, parsed.
 *
 * @throws {ValidationError} 400 for a body that is not UTF-8 JSON
 * @throws {PayloadTooLargeError} 413 past `limitBytes`
 */
export async function readJsonBody(
  req: EngineRequest,
  limitBytes: number,
): Promise<{ value: unknown; bytes: Uint8Array }> {
  const bytes = await readDecodedBody(req, limitBytes);
  try {
    return { value: JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)), bytes };
  } catch {
    throw new ValidationError('Malformed JSON in request body', { details: { field: 'body' } });
  }
}

/** The native routes a compat route may call (every route but the compat ones and the document). */
export type NativeRouteName = Exclude<RouteName, 'openapi'>;

/** The native routes' handlers. */
export type NativeTable = Pick<HandlerTable, NativeRouteName>;

/** What a compat handler hands a native route: its parameters, query, headers and body. */
export interface NativeCall {
  /** The native route's path parameters (`store`, `key`). */
  params: Record<string, string>;
  /** Its validated query (the shape its query schema outputs). */
  query?: Record<string, string>;
  /** Its validated JSON body (JSON-body routes). */
  body?: unknown;
  /** Request headers the native handler reads (lower-case names): `content-type`, `kv-ttl-ms`... */
  headers?: Record<string, string>;
  /** The raw body of a raw write (`putEntry`). */
  raw?: Uint8Array;
  /** The method, when not the native route's (`HEAD`). */
  method?: string;
}

/**
 * Answers a compat request with native route `name`'s handler: a request context of the native route
 * with the given parameters, query, headers and body; the caller (principal, bearer token for the
 * `authorize` hook), request id and abort signal are the compat request's. The native handler checks
 * capabilities, validates and commits exactly as for a native request.
 *
 * @param table - the native handlers
 * @param c - the compat request
 * @param name - the native route
 * @param call - what the native route is given
 * @returns the native result (JSON text, or the raw value of an entry read)
 * @throws whatever the native handler throws (`KvError`s the compat API renders in its own shape)
 */
export function callNative(
  table: NativeTable,
  c: RequestContext,
  name: NativeRouteName,
  call: NativeCall,
): Promise<EngineResult> {
  return table[name].handle(new NativeContext(c, name, call));
}

/** The request a native handler sees: the compat request's caller with the native route's inputs. */
class NativeRequest implements EngineRequest {
  readonly method: string;
  readonly url: string;
  readonly #outer: RequestContext;
  readonly #headers: Record<string, string>;
  readonly #raw: Uint8Array;

  constructor(outer: RequestContext, method: string, headers: Record<string, string>, raw: Uint8Array) {
    this.method = method;
    this.url = outer.request.url;
    this.#outer = outer;
    this.#headers = headers;
    this.#raw = raw;
  }

  /** The given headers; of the compat request's own, only `authorization` (for the `authorize` hook). */
  header(name: string): string | undefined {
    return this.#headers[name] ?? (name === 'authorization' ? this.#outer.header(name) : undefined);
  }

  async readBody(limitBytes: number): Promise<Uint8Array | null> {
    return this.#raw.byteLength > limitBytes ? null : this.#raw;
  }

  /** Read only when used: the Node transport builds its abort signal (and a listener) on first read. */
  get signal(): AbortSignal {
    return this.#outer.request.signal;
  }
}

/** The {@link RequestContext} of a native route called by a compat handler (prototype getters: no per-call accessors). */
class NativeContext implements RequestContext {
  readonly request: NativeRequest;
  readonly method: string;
  readonly route: RouteDef;
  readonly params: Readonly<Record<string, string>>;
  readonly query: unknown;
  readonly body: unknown;
  readonly bodyBytes: Uint8Array = EMPTY;
  readonly principal: RequestContext['principal'];
  readonly requestId: string;
  readonly #outer: RequestContext;

  constructor(outer: RequestContext, name: NativeRouteName, call: NativeCall) {
    const method = call.method ?? (ROUTES[name] as RouteDef).method;
    this.request = new NativeRequest(outer, method, call.headers ?? NO_HEADERS, call.raw ?? EMPTY);
    this.method = method;
    this.route = ROUTES[name];
    this.params = call.params;
    this.query = call.query ?? NO_HEADERS;
    this.body = call.body;
    this.principal = outer.principal;
    this.requestId = outer.requestId;
    this.#outer = outer;
  }

  header(name: string): string | undefined {
    return this.request.header(name);
  }

  get signal(): AbortSignal {
    return this.#outer.signal;
  }
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** The JSON body of a native result (every native route but entry reads answers JSON text). */
export function resultJson<T>(result: EngineResult): T {
  return JSON.parse(typeof result.body === 'string' ? result.body : '{}') as T;
}

/** Whether `error` is the `KvError` of code `code`. */
export function hasCode(error: unknown, code: string): boolean {
  return isKvError(error) && error.code === code;
}

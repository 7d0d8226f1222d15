/**
 * Rendering a value by content type: JSON pretty-printed and foldable (native `<details>`, keyboard
 * accessible), text, an image preview (a `blob:` URL, allowed by the console's CSP), hex for bytes.
 *
 * @module
 */

import type { JsonValue } from '@kv/browser';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { hexDump, valueKind } from '../lib/format.js';
import { ScrollBox } from '../ui.js';

/** Objects and arrays deeper than this start folded. */
const OPEN_DEPTH = 2;

function JsonNode({ name, value, depth }: { name?: string; value: JsonValue; depth: number }) {
  const label = name === undefined ? null : <span class="jkey">{JSON.stringify(name)}: </span>;
  if (value !== null && typeof value === 'object') {
    const entries: Array<[string | undefined, JsonValue]> = Array.isArray(value)
      ? value.map((v) => [undefined, v])
      : Object.entries(value);
    const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
    if (entries.length === 0) {
      return (
        <div class="jrow">
          {label}
          {open}
          {close}
        </div>
      );
    }
    return (
      <details open={depth < OPEN_DEPTH} class="jnode">
        <summary>
          {label}
          {open}
          <span class="jcount">
            {' '}
            {entries.length} {Array.isArray(value) ? 'items' : 'keys'}{' '}
          </span>
        </summary>
        <div class="jchildren">
          {entries.map(([k, v], i) => (
            <JsonNode key={k ?? i} {...(k === undefined ? {} : { name: k })} value={v} depth={depth + 1} />
          ))}
        </div>
        <div class="jrow">{close}</div>
      </details>
    );
  }
  return (
    <div class="jrow">
      {label}
      <span class={`j${value === null ? 'null' : typeof value}`}>{JSON.stringify(value)}</span>
    </div>
  );
}

function ImagePreview({ bytes, contentType }: { bytes: Uint8Array; contentType: string }) {
  const [url, setUrl] = useState<string>();
  useEffect(() => {
    const made = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: contentType }));
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [bytes, contentType]);
  return url === undefined ? null : (
    <img class="preview" src={url} alt={`Preview of the ${contentType} value`} />
  );
}

/** A value as the entry view shows it. */
export function ValueView({
  value,
  contentType,
}: {
  value: unknown;
  contentType: string;
}): JSX.Element | null {
  const kind = valueKind(contentType);
  if (value instanceof Uint8Array) {
    if (kind === 'image') return <ImagePreview bytes={value} contentType={contentType} />;
    return (
      <ScrollBox class="value-box" label="Value in hex">
        <pre class="value hex">{hexDump(value)}</pre>
      </ScrollBox>
    );
  }
  if (kind === 'json') {
    return (
      <div class="value json" data-kind="json">
        <JsonNode value={value as JsonValue} depth={0} />
      </div>
    );
  }
  return (
    <ScrollBox class="value-box" label="Value">
      <pre class="value text">{typeof value === 'string' ? value : JSON.stringify(value, null, 2)}</pre>
    </ScrollBox>
  );
}

/**
 * The text a value is edited as: JSON pretty-printed, text as is, `undefined` for bytes (not editable
 * as text).
 *
 * @param value - the decoded value
 * @param contentType - its content type
 */
export function editableText(value: unknown, contentType: string): string | undefined {
  if (value instanceof Uint8Array) return undefined;
  if (valueKind(contentType) === 'json') return JSON.stringify(value, null, 2);
  return typeof value === 'string' ? value : JSON.stringify(value);
}

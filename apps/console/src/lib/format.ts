/**
 * Formatting helpers of the console: sizes, times, countdowns, hex dumps.
 *
 * @module
 */

/**
 * A size for people: `512 B`, `1.5 KiB`, `25 MiB`.
 *
 * @param bytes - the size, in bytes
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 10 ? Math.round(value) : Math.round(value * 10) / 10} ${units[unit]}`;
}

/**
 * The time left until `expiresAt`, for a countdown: `expired`, `42s`, `3m 05s`, `2h 07m`, `3d 4h`.
 *
 * @param expiresAtMs - the expiry, in ms since the epoch
 * @param nowMs - the current time, in ms since the epoch
 */
export function formatCountdown(expiresAtMs: number, nowMs: number): string {
  const left = Math.floor((expiresAtMs - nowMs) / 1000);
  if (left <= 0) return 'expired';
  const d = Math.floor(left / 86_400);
  const h = Math.floor((left % 86_400) / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = left % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

/**
 * A hex dump: 16 bytes a line, offset, hex and printable ASCII (`.` for the rest), at most `maxBytes`.
 *
 * @param bytes - the value
 * @param maxBytes - how many bytes to show
 * @default maxBytes 4096
 */
export function hexDump(bytes: Uint8Array, maxBytes = 4096): string {
  const lines: string[] = [];
  const end = Math.min(bytes.length, maxBytes);
  for (let offset = 0; offset < end; offset += 16) {
    const row = bytes.subarray(offset, Math.min(offset + 16, end));
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  if (bytes.length > end) lines.push(`… ${bytes.length - end} more bytes`);
  return lines.join('\n');
}

/**
 * A timestamp in the user's locale with seconds, or `never` for null.
 *
 * @param iso - an ISO 8601 time, or null
 */
export function formatTime(iso: string | null): string {
  if (iso === null) return 'never';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { hour12: false });
}

/** How the entry view renders a value, from its content type. */
export type ValueKind = 'json' | 'text' | 'image' | 'bytes';

/**
 * How to render a value of `contentType`: JSON (pretty-printed, foldable), text, image preview or hex.
 *
 * @param contentType - the entry's content type
 */
export function valueKind(contentType: string): ValueKind {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  if (type.startsWith('text/') || type === 'application/xml' || type === 'application/javascript')
    return 'text';
  // SVG is shown as text: rendering it as an image is safe in <img>, but its source is more useful.
  if (type.startsWith('image/') && type !== 'image/svg+xml') return 'image';
  return 'bytes';
}

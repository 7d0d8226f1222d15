/**
 * Entries of a store: prefix / NATS wildcard / LIKE / scope filters, cursor paging and a virtualised
 * list (only the rows in view are in the DOM; pages of {@link PAGE_SIZE} keys are fetched as the user
 * scrolls near the end, so a store of 100,000 keys costs one page to show). Plus the new-entry form.
 *
 * @module
 */

import type { JsonObject, ListItem, ListOptions } from '@kv/browser';
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Session } from '../app.js';
import { formatBytes, formatTime } from '../lib/format.js';
import { hrefOf } from '../lib/route.js';
import { ErrorNote, useLoad } from '../ui.js';

/** Keys fetched per page (the listing's limit). */
export const PAGE_SIZE = 200;
/** Height of one row, in CSS pixels (the list is virtualised on it). */
const ROW_PX = 36;
/** Rows rendered above and below the visible ones. */
const OVERSCAN = 10;

type Mode = 'prefix' | 'match' | 'like';

interface Filter {
  mode: Mode;
  pattern: string;
  scope: string;
}

function listOptions(filter: Filter, cursor: string | undefined): ListOptions {
  const options: ListOptions = { limit: PAGE_SIZE };
  if (filter.pattern !== '') options[filter.mode] = filter.pattern;
  if (filter.scope !== '') options.scope = filter.scope;
  if (cursor !== undefined) options.cursor = cursor;
  return options;
}

/** The virtualised list of keys with paging as the user scrolls. */
function KeyList({ session, store, filter }: { session: Session; store: string; filter: Filter }) {
  const [items, setItems] = useState<ListItem[]>([]);
  const [cursor, setCursor] = useState<string | undefined>();
  const [complete, setComplete] = useState(false);
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(false);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(480);
  const box = useRef<HTMLElement>(null);
  const generation = useRef(0);

  const loadPage = async (from: string | undefined, reset: boolean): Promise<void> => {
    const mine = generation.current;
    setLoading(true);
    try {
      const page = await session.client.store(store).list(listOptions(filter, from));
      if (mine !== generation.current) return;
      setItems((old) => (reset ? page.items : [...old, ...page.items]));
      setCursor(page.cursor);
      setComplete(page.complete);
      setError(undefined);
    } catch (err) {
      if (mine === generation.current) setError(err);
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  };
  useEffect(() => {
    generation.current += 1;
    setItems([]);
    setCursor(undefined);
    setComplete(false);
    box.current?.scrollTo(0, 0);
    setScrollTop(0);
    void loadPage(undefined, true);
  }, [store, filter]);

  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const observer = new ResizeObserver(() => setViewport(el.clientHeight));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  // Fetch the next page when the view comes within two screens of the last loaded row.
  useEffect(() => {
    if (loading || complete || cursor === undefined || error !== undefined) return;
    if ((items.length - OVERSCAN) * ROW_PX < scrollTop + viewport * 3) void loadPage(cursor, false);
  }, [scrollTop, viewport, items.length, cursor, complete, loading, error]);

  const first = Math.max(0, Math.floor(scrollTop / ROW_PX) - OVERSCAN);
  const last = Math.min(items.length, Math.ceil((scrollTop + viewport) / ROW_PX) + OVERSCAN);
  const shown = items.slice(first, last);
  return (
    <>
      <p class="status" aria-live="polite">
        {items.length.toLocaleString()} keys loaded
        {complete ? ' (all)' : loading ? ', loading…' : ', scroll for more'}
      </p>
      <ErrorNote error={error} />
      <div class="list-head" aria-hidden="true">
        <span>Key</span>
        <span>Size</span>
        <span>Revision</span>
        <span class="wide">Updated</span>
        <span class="wide">Expires</span>
      </div>
      <section
        class="vlist"
        ref={box}
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
        aria-label={`Keys of ${store}`}
      >
        <ul style={{ height: `${items.length * ROW_PX}px` }} aria-label="Keys" data-count={items.length}>
          {shown.map((item, i) => (
            <li
              key={item.key}
              style={{ top: `${(first + i) * ROW_PX}px` }}
              aria-setsize={complete ? items.length : -1}
              aria-posinset={first + i + 1}
            >
              <a href={hrefOf({ view: 'entry', store, key: item.key })} class="key">
                {item.key}
              </a>
              <span>{formatBytes(item.size)}</span>
              <span>{item.revision}</span>
              <span class="wide">{formatTime(item.updatedAt)}</span>
              <span class="wide">{item.expiresAt === null ? '' : formatTime(item.expiresAt)}</span>
            </li>
          ))}
        </ul>
      </section>
    </>
  );
}

/** The new-entry form (create only: an existing key is refused, never overwritten). */
function NewEntry({ session, store }: { session: Session; store: string }) {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const [type, setType] = useState<'application/json' | 'text/plain'>('application/json');
  const [ttl, setTtl] = useState('');
  const [scopes, setScopes] = useState('');
  const [metadata, setMetadata] = useState('');
  const [error, setError] = useState<unknown>();
  return (
    <form
      class="panel"
      aria-labelledby="new-title"
      onSubmit={async (e) => {
        e.preventDefault();
        setError(undefined);
        try {
          const parsed = type === 'application/json' ? JSON.parse(value) : value;
          let meta: unknown;
          try {
            meta = metadata.trim() === '' ? undefined : JSON.parse(metadata);
          } catch (err) {
            throw new Error(`The metadata is not valid JSON: ${(err as Error).message}`);
          }
          if (meta !== undefined && (meta === null || typeof meta !== 'object' || Array.isArray(meta))) {
            throw new Error('The metadata must be a JSON object');
          }
          const scopeList = scopes
            .split(',')
            .map((x) => x.trim())
            .filter((x) => x !== '');
          await session.client.store(store).create(key, type === 'text/plain' ? String(parsed) : parsed, {
            contentType: type,
            ...(ttl.trim() === '' ? {} : { ttlMs: Math.round(Number(ttl) * 1000) }),
            ...(scopeList.length === 0 ? {} : { scopes: scopeList }),
            ...(meta === undefined ? {} : { metadata: meta as JsonObject }),
          });
          location.hash = hrefOf({ view: 'entry', store, key });
        } catch (err) {
          setError(
            err instanceof SyntaxError ? new Error(`The value is not valid JSON: ${err.message}`) : err,
          );
        }
      }}
    >
      <h2 id="new-title">New entry</h2>
      <label>
        Key
        <input value={key} onInput={(e) => setKey(e.currentTarget.value)} autoComplete="off" required />
      </label>
      <label>
        Content type
        <select value={type} onChange={(e) => setType(e.currentTarget.value as typeof type)}>
          <option value="application/json">JSON</option>
          <option value="text/plain">Text</option>
        </select>
      </label>
      <label>
        Value
        <textarea rows={4} value={value} onInput={(e) => setValue(e.currentTarget.value)} />
      </label>
      <label>
        Scopes (comma-separated)
        <input value={scopes} onInput={(e) => setScopes(e.currentTarget.value)} autoComplete="off" />
      </label>
      <label>
        Metadata (JSON object)
        <input value={metadata} onInput={(e) => setMetadata(e.currentTarget.value)} autoComplete="off" />
      </label>
      <label>
        Expires in (seconds, empty = never)
        <input type="number" min={1} value={ttl} onInput={(e) => setTtl(e.currentTarget.value)} />
      </label>
      <button type="submit">Create entry</button>
      <ErrorNote error={error} />
    </form>
  );
}

/** A store's entries. */
export function EntriesView({ session, store }: { session: Session; store: string }): JSX.Element | null {
  const info = useLoad(() => session.client.stores.get(store), [session.client, store]);
  const [draft, setDraft] = useState<Filter>({ mode: 'prefix', pattern: '', scope: '' });
  const [filter, setFilter] = useState<Filter>(draft);
  // Changes to the store since the list was loaded (its watch); the list reloads on request only, so a
  // busy store never moves under the reader.
  const [changes, setChanges] = useState(0);
  useEffect(() => {
    const watch = session.client
      .store(store)
      .watch({ updatesOnly: true }, { onUpdate: () => setChanges((n) => n + 1) });
    return () => watch.stop();
  }, [session.client, store]);
  return (
    <section aria-labelledby="entries-title">
      <p class="crumbs">
        <a href={hrefOf({ view: 'stores' })}>Stores</a> / {store}
      </p>
      <h1 id="entries-title">{store}</h1>
      {info.data !== undefined && (
        <p class="summary">
          {info.data.keyCount.toLocaleString()} keys · {formatBytes(info.data.totalBytes)} · revision{' '}
          {info.data.revision} · <a href={hrefOf({ view: 'live', store })}>Live tail</a>
        </p>
      )}
      <ErrorNote error={info.error} />
      <form
        class="filters"
        aria-label="Filter keys"
        onSubmit={(e) => {
          e.preventDefault();
          setChanges(0);
          setFilter({ ...draft });
        }}
      >
        <label>
          Filter by
          <select
            value={draft.mode}
            onChange={(e) => setDraft({ ...draft, mode: e.currentTarget.value as Mode })}
          >
            <option value="prefix">Prefix</option>
            <option value="match">NATS wildcard (* &gt;)</option>
            <option value="like">SQL LIKE (% _)</option>
          </select>
        </label>
        <label>
          Pattern
          <input
            value={draft.pattern}
            onInput={(e) => setDraft({ ...draft, pattern: e.currentTarget.value })}
            autoComplete="off"
          />
        </label>
        <label>
          Scope
          <input
            value={draft.scope}
            onInput={(e) => setDraft({ ...draft, scope: e.currentTarget.value })}
            autoComplete="off"
          />
        </label>
        <button type="submit">Apply</button>
      </form>
      {changes > 0 && (
        <p class="note live" role="status">
          {changes === 1 ? '1 change' : `${changes.toLocaleString()} changes`} since the list was loaded.{' '}
          <button
            type="button"
            onClick={() => {
              setChanges(0);
              setFilter({ ...filter });
              info.reload();
            }}
          >
            Refresh
          </button>
        </p>
      )}
      <KeyList session={session} store={store} filter={filter} />
      <NewEntry session={session} store={store} />
    </section>
  );
}

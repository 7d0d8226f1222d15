/**
 * One entry: the value rendered by content type, metadata, scopes, id, revision, an expiry countdown
 * and the full history (tombstones included); edit with compare-and-swap (a concurrent change is shown
 * as a conflict and never overwritten), delete, purge, set expiry, download, copy a signed URL. The
 * view watches the key and updates when it changes elsewhere.
 *
 * @module
 */

import { type HistoryEntry, isKvError, type KvEntry, type KvValue, type WatchEvent } from '@kv/browser';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Session } from '../app.js';
import { formatBytes, formatCountdown, formatTime, valueKind } from '../lib/format.js';
import { hrefOf } from '../lib/route.js';
import { ErrorNote, Field, ScrollBox, TypedConfirm, useLoad } from '../ui.js';
import { editableText, ValueView } from './value.js';

function Countdown({ expiresAt }: { expiresAt: string }) {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return (
    <span>
      {formatTime(expiresAt)} (<span class="countdown">{formatCountdown(Date.parse(expiresAt), now)}</span>)
    </span>
  );
}

function History({
  session,
  store,
  entryKey,
  revision,
}: {
  session: Session;
  store: string;
  entryKey: string;
  revision: number | undefined;
}) {
  const history = useLoad<HistoryEntry[]>(
    () => session.client.store(store).history(entryKey),
    [store, entryKey, revision],
  );
  return (
    <section aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      <ErrorNote error={history.error} />
      {history.data !== undefined && (
        <ScrollBox label="History">
          <table class="grid history">
            <thead>
              <tr>
                <th scope="col">Revision</th>
                <th scope="col">Operation</th>
                <th scope="col">Time</th>
                <th scope="col">Size</th>
                <th scope="col">Value</th>
              </tr>
            </thead>
            <tbody>
              {history.data.map((h) => (
                <tr key={h.revision} class={h.operation === 'put' ? '' : 'tombstone'}>
                  <td class="num">{h.revision}</td>
                  <td>{h.operation}</td>
                  <td>{formatTime(h.updatedAt)}</td>
                  <td class="num">{formatBytes(h.size)}</td>
                  <td class="clip">
                    {h.value === undefined
                      ? ''
                      : h.value instanceof Uint8Array
                        ? `${h.value.length} bytes`
                        : typeof h.value === 'string'
                          ? h.value.slice(0, 200)
                          : JSON.stringify(h.value).slice(0, 200)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollBox>
      )}
    </section>
  );
}

/** The edit form: compare-and-swap on the revision the user started from. */
function Editor({
  session,
  store,
  entry,
  onSaved,
  onRestart,
}: {
  session: Session;
  store: string;
  entry: KvEntry<KvValue>;
  onSaved: (revision: number) => void;
  /** Starts the editor over from the revision shown now (dropping the user's text). */
  onRestart: () => void;
}) {
  const original = editableText(entry.value, entry.contentType);
  const [text, setText] = useState(original ?? '');
  const [base] = useState(entry.revision);
  const [error, setError] = useState<unknown>();
  const [conflict, setConflict] = useState(false);
  if (original === undefined)
    return <p class="hint">Binary values are not editable here; download and upload with the CLI.</p>;
  return (
    <form
      class="panel"
      aria-labelledby="edit-title"
      onSubmit={async (e) => {
        e.preventDefault();
        setError(undefined);
        setConflict(false);
        try {
          const value = valueKind(entry.contentType) === 'json' ? JSON.parse(text) : text;
          const saved = await session.client.store(store).update(entry.key, value, base, {
            contentType: entry.contentType,
            ...(entry.metadata === null ? {} : { metadata: entry.metadata }),
            ...(entry.scopes.length === 0 ? {} : { scopes: entry.scopes }),
            ...(entry.expiresAt === null ? {} : { expiresAt: entry.expiresAt }),
          });
          onSaved(saved.revision);
        } catch (err) {
          if (isKvError(err) && err.code === 'revision_mismatch') setConflict(true);
          else setError(err instanceof SyntaxError ? new Error(`Not valid JSON: ${err.message}`) : err);
        }
      }}
    >
      <h2 id="edit-title">Edit (from revision {base})</h2>
      <label>
        Value
        <textarea rows={8} value={text} onInput={(e) => setText(e.currentTarget.value)} spellcheck={false} />
      </label>
      <button type="submit">Save</button>
      {conflict && (
        <p class="note conflict" role="alert">
          <strong>Conflict:</strong> the entry changed since revision {base} (now revision {entry.revision}).
          Nothing was saved. Your text is kept here.{' '}
          <button type="button" onClick={onRestart}>
            Edit the current version instead
          </button>
        </p>
      )}
      <ErrorNote error={error} />
    </form>
  );
}

function Actions({
  session,
  store,
  entry,
  onChange,
}: {
  session: Session;
  store: string;
  entry: KvEntry<KvValue>;
  onChange: () => void;
}) {
  const [error, setError] = useState<unknown>();
  const [expiry, setExpiry] = useState('');
  const [signed, setSigned] = useState<string>();
  const kv = session.client.store(store);
  const run = (action: () => Promise<unknown>) => async () => {
    setError(undefined);
    try {
      await action();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <section class="panel" aria-labelledby="actions-title">
      <h2 id="actions-title">Actions</h2>
      <div class="row">
        <button
          type="button"
          onClick={run(async () => {
            const bytes = await kv.getBytes(entry.key);
            if (bytes === undefined) return;
            const url = URL.createObjectURL(
              new Blob([bytes as Uint8Array<ArrayBuffer>], { type: entry.contentType }),
            );
            const a = document.createElement('a');
            a.href = url;
            a.download = entry.key.replace(/[/\\]/g, '_');
            a.click();
            setTimeout(() => URL.revokeObjectURL(url), 10_000);
          })}
        >
          Download
        </button>
        <button
          type="button"
          onClick={run(async () => {
            const url = await kv.createRecordUrl(entry.key, { expiresInSecs: 3600 });
            setSigned(url.url);
            await navigator.clipboard?.writeText(url.url).catch(() => undefined);
          })}
        >
          Copy signed URL (1 h)
        </button>
        <button
          type="button"
          onClick={run(async () => {
            await kv.delete(entry.key, { ifRevision: entry.revision });
            onChange();
          })}
        >
          Delete
        </button>
        <TypedConfirm
          label="Purge"
          expected={entry.key}
          what="remove the key and its whole history"
          onConfirm={async () => {
            await kv.purge(entry.key);
            location.hash = hrefOf({ view: 'entries', store });
          }}
        />
      </div>
      {signed !== undefined && (
        <label>
          Signed URL (copied)
          <input readOnly value={signed} class="signed-url" onFocus={(e) => e.currentTarget.select()} />
        </label>
      )}
      <form
        class="row"
        aria-label="Expiry"
        onSubmit={(e) => {
          e.preventDefault();
          void run(async () => {
            await kv.setExpiry(entry.key, Date.now() + Number(expiry) * 1000);
            onChange();
          })();
        }}
      >
        <label>
          Expire in (seconds)
          <input
            type="number"
            min={1}
            value={expiry}
            onInput={(e) => setExpiry(e.currentTarget.value)}
            required
          />
        </label>
        <button type="submit">Set expiry</button>
        <button
          type="button"
          disabled={entry.expiresAt === null}
          onClick={run(async () => {
            await kv.setExpiry(entry.key, null);
            onChange();
          })}
        >
          Remove expiry
        </button>
      </form>
      <ErrorNote error={error} />
    </section>
  );
}

/** The entry view. */
export function EntryView({
  session,
  store,
  entryKey,
}: {
  session: Session;
  store: string;
  entryKey: string;
}): JSX.Element | null {
  const entry = useLoad(() => session.client.store(store).getEntry(entryKey), [store, entryKey]);
  const [changed, setChanged] = useState<WatchEvent | undefined>();
  // The editor starts from the revision shown when it mounts. After a save it remounts once the view
  // shows at least the saved revision; a change made elsewhere meanwhile leaves it on its base (so
  // saving is a conflict, never a silent overwrite) until the user reloads it.
  const [editor, setEditor] = useState<{ after: number; n: number }>({ after: 0, n: 0 });
  const current = entry.data;

  // Live: watch this key from the revision shown; reload on every change (kept while editing, so the
  // editor's compare-and-swap revision stays the one the user started from).
  useEffect(() => {
    if (entry.loading) return;
    const watch = session.client.store(store).watch(
      {
        key: entryKey,
        ...(current === undefined ? { updatesOnly: true } : { fromRevision: current.revision }),
      },
      {
        onUpdate: (event) => {
          setChanged(event);
          entry.reload();
        },
      },
    );
    return () => watch.stop();
  }, [store, entryKey, current?.revision, entry.loading]);

  return (
    <section aria-labelledby="entry-title">
      <p class="crumbs">
        <a href={hrefOf({ view: 'stores' })}>Stores</a> /{' '}
        <a href={hrefOf({ view: 'entries', store })}>{store}</a> / {entryKey}
      </p>
      <h1 id="entry-title" class="key-title">
        {entryKey}
      </h1>
      {changed !== undefined && (
        <p class="note live" role="status">
          Changed live: {changed.type} at revision {changed.revision}.
        </p>
      )}
      <ErrorNote error={entry.error} />
      {!entry.loading && current === undefined && entry.error === undefined && (
        <p class="note" role="status">
          No live entry under this key (deleted, expired or never written). Its history is below.
        </p>
      )}
      {current !== undefined && (
        <>
          <dl class="meta">
            <Field name="Revision">
              <span class="revision">{current.revision}</span>
            </Field>
            <Field name="Id">
              <code>{current.id}</code>
            </Field>
            <Field name="Content type">{current.contentType}</Field>
            <Field name="Size">{formatBytes(current.size)}</Field>
            <Field name="Created">{formatTime(current.createdAt)}</Field>
            <Field name="Updated">{formatTime(current.updatedAt)}</Field>
            <Field name="Expires">
              {current.expiresAt === null ? 'never' : <Countdown expiresAt={current.expiresAt} />}
            </Field>
            <Field name="Scopes">{current.scopes.length === 0 ? 'none' : current.scopes.join(', ')}</Field>
            <Field name="Metadata">
              {current.metadata === null ? 'none' : <code>{JSON.stringify(current.metadata)}</code>}
            </Field>
          </dl>
          <h2>Value</h2>
          <ValueView value={current.value} contentType={current.contentType} />
          {current.revision >= editor.after && (
            <Editor
              key={editor.n}
              session={session}
              store={store}
              entry={current}
              onSaved={(revision) => {
                setEditor((e) => ({ after: revision, n: e.n + 1 }));
                entry.reload();
              }}
              onRestart={() => setEditor((e) => ({ after: 0, n: e.n + 1 }))}
            />
          )}
          <Actions session={session} store={store} entry={current} onChange={entry.reload} />
        </>
      )}
      <History session={session} store={store} entryKey={entryKey} revision={current?.revision} />
    </section>
  );
}

/**
 * The live tail of a store's watch (Server-Sent Events through `@kv/browser`): filter by NATS pattern
 * or prefix, pause (the watch stops; the last revision seen is kept) and resume from that revision with
 * no gap, or start from any revision.
 *
 * @module
 */

import type { WatchEvent, WatchSubscription } from '@kv/browser';
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Session } from '../app.js';
import { formatBytes, formatTime } from '../lib/format.js';
import { hrefOf } from '../lib/route.js';
import { ErrorNote, ScrollBox } from '../ui.js';

/** Most events kept on screen (older ones drop off). */
const MAX_EVENTS = 500;

/** The live tail. */
export function LiveView({ session, store }: { session: Session; store: string }): JSX.Element | null {
  const [pattern, setPattern] = useState('');
  const [from, setFrom] = useState('');
  const [events, setEvents] = useState<WatchEvent[]>([]);
  const [running, setRunning] = useState(false);
  const [lastRevision, setLastRevision] = useState<number | undefined>();
  const [error, setError] = useState<unknown>();
  const watch = useRef<WatchSubscription | undefined>(undefined);

  const start = (fromRevision: number | undefined): void => {
    watch.current?.stop();
    setError(undefined);
    const filter = pattern.trim();
    const sub = session.client.store(store).watch(
      {
        ...(filter === '' ? {} : /[*>]/.test(filter) ? { match: filter } : { prefix: filter }),
        ...(fromRevision === undefined ? { updatesOnly: true } : { fromRevision }),
      },
      {
        onUpdate: (event) => {
          setLastRevision(event.revision);
          setEvents((old) => [event, ...old].slice(0, MAX_EVENTS));
        },
        onError: (err, info) => {
          if (!info.willRetry) setError(err);
        },
        onClose: () => {
          if (watch.current === sub) setRunning(false);
        },
      },
    );
    watch.current = sub;
    setRunning(true);
  };
  const pause = (): void => {
    const sub = watch.current;
    watch.current = undefined;
    if (sub !== undefined) {
      if (sub.lastRevision !== undefined) setLastRevision(sub.lastRevision);
      sub.stop();
    }
    setRunning(false);
  };
  useEffect(() => {
    start(undefined);
    return () => watch.current?.stop();
  }, [store]);

  return (
    <section aria-labelledby="live-title">
      <p class="crumbs">
        <a href={hrefOf({ view: 'stores' })}>Stores</a> /{' '}
        <a href={hrefOf({ view: 'entries', store })}>{store}</a> / live
      </p>
      <h1 id="live-title">Live: {store}</h1>
      <form
        class="filters"
        aria-label="Watch"
        onSubmit={(e) => {
          e.preventDefault();
          setEvents([]);
          start(from.trim() === '' ? undefined : Number(from));
        }}
      >
        <label>
          Keys (prefix, or NATS pattern with * &gt;)
          <input value={pattern} onInput={(e) => setPattern(e.currentTarget.value)} autoComplete="off" />
        </label>
        <label>
          From revision (empty = new changes only)
          <input type="number" min={0} value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
        </label>
        <button type="submit">Start</button>
        {running ? (
          <button type="button" onClick={pause}>
            Pause
          </button>
        ) : (
          <button type="button" disabled={lastRevision === undefined} onClick={() => start(lastRevision)}>
            Resume{lastRevision === undefined ? '' : ` after ${lastRevision}`}
          </button>
        )}
      </form>
      <p class="status" role="status">
        {running ? 'Watching' : 'Paused'} · {events.length} events
        {lastRevision === undefined ? '' : ` · last revision ${lastRevision}`}
      </p>
      <ErrorNote error={error} />
      <ScrollBox label="Events">
        <table class="grid tail">
          <thead>
            <tr>
              <th scope="col">Revision</th>
              <th scope="col">Event</th>
              <th scope="col">Key</th>
              <th scope="col">Size</th>
              <th scope="col">Time</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr
                key={`${e.revision}-${e.type}-${e.key}`}
                class={e.type === 'put' || e.type === 'resume' ? '' : 'tombstone'}
              >
                <td class="num">{e.revision}</td>
                <td>{e.type}</td>
                <td>
                  <a href={hrefOf({ view: 'entry', store, key: e.key })}>{e.key}</a>
                </td>
                <td class="num">{formatBytes(e.size)}</td>
                <td>{formatTime(e.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollBox>
    </section>
  );
}

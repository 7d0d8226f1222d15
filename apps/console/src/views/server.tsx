/**
 * The server view: health (`/healthz`, `/readyz`), version and storage kind (`kv_server_info`), and a
 * metrics summary (requests/s, p99, 5xx) from `/metrics`, which needs a `kv.admin:stores` token; polled
 * every {@link POLL_MS} ms while the view is open.
 *
 * @module
 */

import { UnauthorizedError } from '@kv/browser';
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Session } from '../app.js';
import { formatBytes } from '../lib/format.js';
import {
  type MetricsSnapshot,
  type MetricsSummary,
  parseMetrics,
  snapshot,
  summarize,
} from '../lib/metrics.js';
import { authorizedFetch } from '../session.js';
import { ErrorNote, Field } from '../ui.js';

/** How often the view reads the server's state, in ms. */
export const POLL_MS = 5000;

interface State {
  healthy: boolean | undefined;
  ready: boolean | undefined;
  readyReason: string | undefined;
  info: Record<string, string>;
  summary: MetricsSummary | undefined;
  rssBytes: number | undefined;
  error: unknown;
}

async function readyState(): Promise<{ ready: boolean; reason: string | undefined }> {
  const res = await fetch('/readyz', { cache: 'no-store' });
  const body = (await res.json().catch(() => ({}))) as { reason?: string };
  return { ready: res.ok, reason: body.reason };
}

/** The server view. */
export function ServerView({ session }: { session: Session }): JSX.Element | null {
  const [state, setState] = useState<State>({
    healthy: undefined,
    ready: undefined,
    readyReason: undefined,
    info: {},
    summary: undefined,
    rssBytes: undefined,
    error: undefined,
  });
  const previous = useRef<MetricsSnapshot | undefined>(undefined);
  useEffect(() => {
    let live = true;
    const poll = async (): Promise<void> => {
      const [health, ready, metrics] = await Promise.allSettled([
        fetch('/healthz', { cache: 'no-store' }).then((r) => r.ok),
        readyState(),
        authorizedFetch(session.token, '/metrics').then(async (res) => {
          if (res.status === 403 || res.status === 401) {
            throw new UnauthorizedError('reading /metrics needs kv.admin:stores', { status: res.status });
          }
          if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
          return snapshot(parseMetrics(await res.text()), Date.now());
        }),
      ]);
      if (!live) return;
      const snap = metrics.status === 'fulfilled' ? metrics.value : undefined;
      setState({
        healthy: health.status === 'fulfilled' ? health.value : false,
        ready: ready.status === 'fulfilled' ? ready.value.ready : false,
        readyReason: ready.status === 'fulfilled' ? ready.value.reason : undefined,
        info: snap?.info ?? {},
        summary: snap === undefined ? undefined : summarize(snap, previous.current),
        rssBytes: snap?.rssBytes,
        error: metrics.status === 'rejected' ? metrics.reason : undefined,
      });
      if (snap !== undefined) previous.current = snap;
    };
    void poll();
    const timer = setInterval(() => void poll(), POLL_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [session.token]);
  const s = state.summary;
  return (
    <section aria-labelledby="server-title">
      <h1 id="server-title">Server</h1>
      <dl class="meta">
        <Field name="Health">{state.healthy === undefined ? '…' : state.healthy ? 'up' : 'down'}</Field>
        <Field name="Ready">
          {state.ready === undefined
            ? '…'
            : state.ready
              ? 'ready'
              : `not ready (${state.readyReason ?? 'unknown'})`}
        </Field>
        <Field name="Version">{state.info.version ?? '—'}</Field>
        <Field name="Storage">{state.info.storage ?? '—'}</Field>
        <Field name="Requests/s">
          {s?.requestsPerSecond === undefined ? '… (next sample)' : s.requestsPerSecond.toFixed(1)}
        </Field>
        <Field name="p99 latency">{s?.p99Ms === undefined ? '—' : `${s.p99Ms.toFixed(1)} ms`}</Field>
        <Field name="Requests (since start)">{s === undefined ? '—' : s.requests.toLocaleString()}</Field>
        <Field name="Errors (5xx, since start)">{s === undefined ? '—' : s.errors.toLocaleString()}</Field>
        <Field name="Memory (RSS)">{state.rssBytes === undefined ? '—' : formatBytes(state.rssBytes)}</Field>
      </dl>
      <ErrorNote error={state.error} />
    </section>
  );
}

/**
 * Stores: the list with key count, bytes, revision and settings; create, edit settings, delete behind
 * a typed confirmation. A token without `kv.admin:stores` gets "not allowed" and can still open a
 * store by name.
 *
 * @module
 */

import type { StoreInfo } from '@kv/browser';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { Session } from '../app.js';
import { formatBytes } from '../lib/format.js';
import { hrefOf } from '../lib/route.js';
import { ErrorNote, ScrollBox, TypedConfirm, useLoad } from '../ui.js';

/** Settings as the forms edit them (seconds for people, ms on the wire). */
interface SettingsForm {
  history: string;
  defaultTtlSecs: string;
  maxValueBytes: string;
}

function toOptions(form: SettingsForm): {
  history?: number;
  defaultTtlMs?: number | null;
  maxValueBytes?: number;
} {
  const out: { history?: number; defaultTtlMs?: number | null; maxValueBytes?: number } = {};
  if (form.history.trim() !== '') out.history = Number(form.history);
  out.defaultTtlMs =
    form.defaultTtlSecs.trim() === '' ? null : Math.round(Number(form.defaultTtlSecs) * 1000);
  if (form.maxValueBytes.trim() !== '') out.maxValueBytes = Number(form.maxValueBytes);
  return out;
}

function SettingsFields({ form, set }: { form: SettingsForm; set: (f: SettingsForm) => void }) {
  return (
    <>
      <label>
        History (revisions kept, 1–64)
        <input
          type="number"
          min={1}
          max={64}
          value={form.history}
          onInput={(e) => set({ ...form, history: e.currentTarget.value })}
        />
      </label>
      <label>
        Default TTL (seconds, empty = none)
        <input
          type="number"
          min={1}
          value={form.defaultTtlSecs}
          onInput={(e) => set({ ...form, defaultTtlSecs: e.currentTarget.value })}
        />
      </label>
      <label>
        Max value bytes
        <input
          type="number"
          min={1}
          value={form.maxValueBytes}
          onInput={(e) => set({ ...form, maxValueBytes: e.currentTarget.value })}
        />
      </label>
    </>
  );
}

function formOf(s: StoreInfo): SettingsForm {
  return {
    history: String(s.history),
    defaultTtlSecs: s.defaultTtlMs === null ? '' : String(s.defaultTtlMs / 1000),
    maxValueBytes: String(s.maxValueBytes),
  };
}

function StoreRow({
  store,
  session,
  onChange,
}: {
  store: StoreInfo;
  session: Session;
  onChange: () => void;
}) {
  const [editing, setEditing] = useState(false);
  const [form, setForm] = useState(() => formOf(store));
  const [error, setError] = useState<unknown>();
  return (
    <>
      <tr>
        <th scope="row">
          <a href={hrefOf({ view: 'entries', store: store.name })}>{store.name}</a>
        </th>
        <td class="num">{store.keyCount.toLocaleString()}</td>
        <td class="num">{formatBytes(store.totalBytes)}</td>
        <td class="num">{store.revision}</td>
        <td class="num">{store.history}</td>
        <td>{store.defaultTtlMs === null ? 'none' : `${store.defaultTtlMs / 1000} s`}</td>
        <td>{formatBytes(store.maxValueBytes)}</td>
        <td class="actions">
          <a href={hrefOf({ view: 'live', store: store.name })}>Live</a>
          <button type="button" onClick={() => setEditing(!editing)} aria-expanded={editing}>
            Settings
          </button>
        </td>
      </tr>
      {editing && (
        <tr class="detail">
          <td colSpan={8}>
            <form
              class="inline"
              aria-label={`Settings of ${store.name}`}
              onSubmit={async (e) => {
                e.preventDefault();
                try {
                  await session.client.stores.update(store.name, toOptions(form));
                  setEditing(false);
                  onChange();
                } catch (err) {
                  setError(err);
                }
              }}
            >
              <SettingsFields form={form} set={setForm} />
              <button type="submit">Save settings</button>
              <TypedConfirm
                label="Delete store"
                expected={store.name}
                what={`delete the store and all its data`}
                onConfirm={async () => {
                  await session.client.stores.delete(store.name);
                  onChange();
                }}
              />
              <ErrorNote error={error} />
            </form>
          </td>
        </tr>
      )}
    </>
  );
}

/** The store list. */
export function StoresView({ session }: { session: Session }): JSX.Element | null {
  const stores = useLoad(() => session.client.stores.list(), [session.client]);
  const [name, setName] = useState('');
  const [form, setForm] = useState<SettingsForm>({ history: '1', defaultTtlSecs: '', maxValueBytes: '' });
  const [createError, setCreateError] = useState<unknown>();
  const [open, setOpen] = useState('');
  return (
    <section aria-labelledby="stores-title">
      <h1 id="stores-title">Stores</h1>
      <ErrorNote error={stores.error} />
      {stores.data !== undefined && (
        <ScrollBox label="Stores">
          <table class="grid">
            <caption class="sr-only">Stores</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Keys</th>
                <th scope="col">Bytes</th>
                <th scope="col">Revision</th>
                <th scope="col">History</th>
                <th scope="col">Default TTL</th>
                <th scope="col">Max value</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {stores.data.map((s) => (
                <StoreRow key={s.name} store={s} session={session} onChange={stores.reload} />
              ))}
              {stores.data.length === 0 && (
                <tr>
                  <td colSpan={8}>No stores yet.</td>
                </tr>
              )}
            </tbody>
          </table>
        </ScrollBox>
      )}
      <div class="panels">
        <form
          class="panel"
          aria-labelledby="open-title"
          onSubmit={(e) => {
            e.preventDefault();
            if (open.trim() !== '') location.hash = hrefOf({ view: 'entries', store: open.trim() });
          }}
        >
          <h2 id="open-title">Open a store</h2>
          <label>
            Store name
            <input value={open} onInput={(e) => setOpen(e.currentTarget.value)} autoComplete="off" />
          </label>
          <button type="submit">Open</button>
        </form>
        <form
          class="panel"
          aria-labelledby="create-title"
          onSubmit={async (e) => {
            e.preventDefault();
            setCreateError(undefined);
            try {
              await session.client.stores.create(name.trim(), toOptions(form));
              setName('');
              stores.reload();
            } catch (err) {
              setCreateError(err);
            }
          }}
        >
          <h2 id="create-title">Create a store</h2>
          <label>
            Name (1–64 of a-z A-Z 0-9 - _)
            <input value={name} onInput={(e) => setName(e.currentTarget.value)} autoComplete="off" required />
          </label>
          <SettingsFields form={form} set={setForm} />
          <button type="submit">Create store</button>
          <ErrorNote error={createError} />
        </form>
      </div>
    </section>
  );
}

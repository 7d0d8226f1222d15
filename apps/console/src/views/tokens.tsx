/**
 * Tokens: the list; create with a capability picker that builds `kv[store:scope]:action` strings,
 * an expiry, a description and an optional rate limit (requests per window: docs/security.md "Rate
 * limits"), showing the secret once; revoke.
 *
 * @module
 */

import type { CreatedToken } from '@kv/browser';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { Session } from '../app.js';
import { capabilityStrings, ENTRY_ACTIONS, GLOBAL_CAPABILITIES } from '../lib/capabilities.js';
import { formatTime } from '../lib/format.js';
import { ErrorNote, ScrollBox, useLoad } from '../ui.js';

function CreateToken({ session, onCreated }: { session: Session; onCreated: (t: CreatedToken) => void }) {
  const [store, setStore] = useState('');
  const [scope, setScope] = useState('');
  const [actions, setActions] = useState<string[]>(['get', 'list']);
  const [globals, setGlobals] = useState<string[]>([]);
  const [extra, setExtra] = useState<string[]>([]);
  const [description, setDescription] = useState('');
  const [days, setDays] = useState('30');
  const [requests, setRequests] = useState('');
  const [perSeconds, setPerSeconds] = useState('60');
  const [error, setError] = useState<unknown>();
  const toggle = (list: string[], item: string): string[] =>
    list.includes(item) ? list.filter((x) => x !== item) : [...list, item];
  let preview: string[] = [];
  let pickError: string | undefined;
  try {
    preview = [...new Set([...extra, ...capabilityStrings({ store, scope, actions }), ...globals])];
  } catch (err) {
    pickError = (err as Error).message;
  }
  return (
    <form
      class="panel"
      aria-labelledby="new-token-title"
      onSubmit={async (e) => {
        e.preventDefault();
        setError(undefined);
        try {
          const created = await session.client.tokens.create({
            capabilities: preview,
            description: description.trim() === '' ? null : description.trim(),
            expiresAt: days === '' ? null : Date.now() + Number(days) * 86_400_000,
            // The client checks the ranges and answers a ValidationError shown below the form.
            rateLimit:
              requests.trim() === '' ? null : { requests: Number(requests), perSeconds: Number(perSeconds) },
          });
          onCreated(created);
        } catch (err) {
          setError(err);
        }
      }}
    >
      <h2 id="new-token-title">Create a token</h2>
      <label>
        Description
        <input
          value={description}
          onInput={(e) => setDescription(e.currentTarget.value)}
          autoComplete="off"
        />
      </label>
      <label>
        Expires after
        <select value={days} onChange={(e) => setDays(e.currentTarget.value)}>
          <option value="1">1 day</option>
          <option value="7">7 days</option>
          <option value="30">30 days</option>
          <option value="365">1 year</option>
          <option value="">never</option>
        </select>
      </label>
      <label>
        Rate limit: requests (empty = no limit)
        <input
          type="number"
          min="1"
          max="1000000"
          value={requests}
          onInput={(e) => setRequests(e.currentTarget.value)}
        />
      </label>
      <label>
        Rate limit window
        <select value={perSeconds} onChange={(e) => setPerSeconds(e.currentTarget.value)}>
          <option value="1">per second</option>
          <option value="60">per minute</option>
          <option value="3600">per hour</option>
          <option value="86400">per day</option>
        </select>
      </label>
      <fieldset>
        <legend>Entry capabilities</legend>
        <label>
          Store (empty = every store)
          <input value={store} onInput={(e) => setStore(e.currentTarget.value)} autoComplete="off" />
        </label>
        <label>
          Scope (empty = every scope)
          <input value={scope} onInput={(e) => setScope(e.currentTarget.value)} autoComplete="off" />
        </label>
        <div class="checks">
          {['*', ...ENTRY_ACTIONS].map((a) => (
            <label key={a} class="check">
              <input
                type="checkbox"
                checked={actions.includes(a)}
                onChange={() => setActions(toggle(actions, a))}
              />
              {a === '*' ? 'all actions' : a}
            </label>
          ))}
        </div>
        <div class="row">
          <button
            type="button"
            onClick={() => {
              setExtra([...new Set([...extra, ...preview])]);
              setStore('');
              setScope('');
            }}
            disabled={pickError !== undefined}
          >
            Keep these and add another store
          </button>
          {extra.length > 0 && (
            <button type="button" onClick={() => setExtra([])}>
              Forget the kept ones ({extra.length})
            </button>
          )}
        </div>
      </fieldset>
      <fieldset>
        <legend>Other capabilities</legend>
        <div class="checks">
          {GLOBAL_CAPABILITIES.map((c) => (
            <label key={c} class="check">
              <input
                type="checkbox"
                checked={globals.includes(c)}
                onChange={() => setGlobals(toggle(globals, c))}
              />
              {c}
            </label>
          ))}
        </div>
      </fieldset>
      <p>
        Capabilities: <output class="caps">{preview.join(' ') || '(none)'}</output>
      </p>
      {pickError !== undefined && (
        <p class="note error" role="alert">
          {pickError}
        </p>
      )}
      <button type="submit" disabled={preview.length === 0 || pickError !== undefined}>
        Create token
      </button>
      <ErrorNote error={error} />
    </form>
  );
}

/** The token list and form. */
export function TokensView({ session }: { session: Session }): JSX.Element | null {
  const tokens = useLoad(() => session.client.tokens.list(), [session.client]);
  const [created, setCreated] = useState<CreatedToken>();
  const [error, setError] = useState<unknown>();
  return (
    <section aria-labelledby="tokens-title">
      <h1 id="tokens-title">Tokens</h1>
      {created !== undefined && (
        <div class="note secret" role="alert">
          <p>
            <strong>New token {created.id}.</strong> Copy the secret now: it is shown only once.
          </p>
          <label>
            Secret
            <input
              readOnly
              value={created.token}
              class="secret-value"
              onFocus={(e) => e.currentTarget.select()}
            />
          </label>
          <button
            type="button"
            onClick={() => void navigator.clipboard?.writeText(created.token).catch(() => undefined)}
          >
            Copy
          </button>
          <button type="button" onClick={() => setCreated(undefined)}>
            Done
          </button>
        </div>
      )}
      <ErrorNote error={tokens.error ?? error} />
      {tokens.data !== undefined && (
        <ScrollBox label="Tokens">
          <table class="grid tokens">
            <thead>
              <tr>
                <th scope="col">Id</th>
                <th scope="col">Description</th>
                <th scope="col">Capabilities</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Rate limit</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.map((t) => (
                <tr key={t.id} data-token-id={t.id}>
                  <td>
                    <code>{t.id}</code>
                  </td>
                  <td>{t.description ?? ''}</td>
                  <td>
                    <code>{t.capabilities.join(' ')}</code>
                  </td>
                  <td>{formatTime(t.createdAt)}</td>
                  <td>{formatTime(t.expiresAt)}</td>
                  <td>
                    {t.rateLimit === null ? '' : `${t.rateLimit.requests} / ${t.rateLimit.perSeconds} s`}
                  </td>
                  <td>
                    {t.revokedAt !== null ? (
                      `revoked ${formatTime(t.revokedAt)}`
                    ) : (
                      <button
                        type="button"
                        class="danger"
                        aria-label={`Revoke token ${t.id}`}
                        onClick={async () => {
                          setError(undefined);
                          try {
                            await session.client.tokens.revoke(t.id);
                            tokens.reload();
                          } catch (err) {
                            setError(err);
                          }
                        }}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollBox>
      )}
      <CreateToken
        session={session}
        onCreated={(t) => {
          setCreated(t);
          tokens.reload();
        }}
      />
    </section>
  );
}

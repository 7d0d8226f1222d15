/**
 * Sign-in with a bearer token. The token is checked against the server (`GET /v1/stores`: 401 =
 * rejected; 403 = a valid token without `kv.admin:stores`, still signed in) and then kept in
 * `sessionStorage` only.
 *
 * @module
 */

import { createClient, isKvError } from '@kv/browser';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { ErrorNote } from '../ui.js';

/** The sign-in form. */
export function SignIn({ onSignIn }: { onSignIn: (token: string) => Promise<void> }): JSX.Element | null {
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" class="signin">
      <h1>kv console</h1>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          const token = secret.trim();
          try {
            const probe = createClient({ url: location.origin, token, retry: false });
            try {
              await probe.stores.list();
            } catch (err) {
              // 403: a valid token that may not list stores (a scoped token); it can still sign in.
              if (!(isKvError(err) && err.status === 403)) throw err;
            }
            await onSignIn(token);
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <label for="token">Token</label>
        <input
          id="token"
          type="password"
          autoComplete="off"
          spellcheck={false}
          value={secret}
          onInput={(e) => setSecret(e.currentTarget.value)}
          required
        />
        <p class="hint">
          The token stays in this tab only (sessionStorage). The server's admin token is in{' '}
          <code>data/kv.sqlite.admin-token</code> after <code>npm start</code>.
        </p>
        <button type="submit" disabled={busy || secret.trim() === ''}>
          Sign in
        </button>
        <ErrorNote error={error} />
      </form>
    </main>
  );
}

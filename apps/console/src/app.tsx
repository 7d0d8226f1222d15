/**
 * The console shell: sign-in, then the header navigation and the view of the current hash route.
 *
 * @module
 */

import type { BrowserClient } from '@kv/browser';
import type { JSX } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { hrefOf, parseRoute, type Route } from './lib/route.js';
import { clientFor, forgetCache, savedToken, saveToken } from './session.js';
import { EntriesView } from './views/entries.js';
import { EntryView } from './views/entry.js';
import { LiveView } from './views/live.js';
import { ServerView } from './views/server.js';
import { SignIn } from './views/signin.js';
import { StoresView } from './views/stores.js';
import { TokensView } from './views/tokens.js';

/** What every view gets: the session's client and token. */
export interface Session {
  /** The `@kv/browser` client with the session's token. */
  client: BrowserClient;
  /** The bearer token (for `/metrics`, outside the client's API). */
  token: string;
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onHash = (): void => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  return route;
}

/** The console. */
export function App(): JSX.Element | null {
  const [token, setToken] = useState(savedToken);
  const route = useRoute();
  const client = useMemo(() => (token === null ? undefined : clientFor(token)), [token]);
  useEffect(() => () => void client?.close(), [client]);

  useEffect(() => {
    const titles: Record<Route['view'], string> = {
      stores: 'Stores',
      entries: 'Entries',
      entry: 'Entry',
      live: 'Live',
      tokens: 'Tokens',
      server: 'Server',
    };
    document.title = token === null ? 'Sign in · kv console' : `${titles[route.view]} · kv console`;
  }, [route, token]);

  if (token === null || client === undefined) {
    return (
      <SignIn
        onSignIn={async (secret) => {
          const probe = clientFor(secret);
          await forgetCache(probe);
          await probe.close();
          saveToken(secret);
          setToken(secret);
        }}
      />
    );
  }
  const session: Session = { client, token };
  const signOut = async (): Promise<void> => {
    await forgetCache(client);
    saveToken(null);
    setToken(null);
  };
  const current = (view: Route['view']): 'page' | undefined =>
    view === route.view || (view === 'stores' && ['entries', 'entry', 'live'].includes(route.view))
      ? 'page'
      : undefined;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">kv console</span>
        <nav aria-label="Main">
          <a href={hrefOf({ view: 'stores' })} aria-current={current('stores')}>
            Stores
          </a>
          <a href={hrefOf({ view: 'tokens' })} aria-current={current('tokens')}>
            Tokens
          </a>
          <a href={hrefOf({ view: 'server' })} aria-current={current('server')}>
            Server
          </a>
        </nav>
        <button type="button" class="signout" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <View route={route} session={session} />
      </main>
    </>
  );
}

function View({ route, session }: { route: Route; session: Session }) {
  switch (route.view) {
    case 'stores':
      return <StoresView session={session} />;
    case 'entries':
      return <EntriesView session={session} store={route.store} key={route.store} />;
    case 'entry':
      return (
        <EntryView
          session={session}
          store={route.store}
          entryKey={route.key}
          key={`${route.store}/${route.key}`}
        />
      );
    case 'live':
      return <LiveView session={session} store={route.store} key={route.store} />;
    case 'tokens':
      return <TokensView session={session} />;
    case 'server':
      return <ServerView session={session} />;
  }
}

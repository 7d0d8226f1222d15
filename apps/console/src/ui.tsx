/**
 * Small shared pieces of the console's UI: the error note (a 403 says "not allowed", never an error
 * page), the async loader hook, and the typed-confirmation button.
 *
 * @module
 */
import { isKvError } from '@kv/browser';
import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';

/**
 * Shows an error: a 403 as "Not allowed" with what the token lacks, a 401 as a rejected token, a
 * conflict (412) as such, anything else with its code and message.
 */
export function ErrorNote({ error }: { error: unknown }): JSX.Element | null {
  if (error === undefined || error === null) return null;
  if (isKvError(error)) {
    if (error.status === 403) {
      return (
        <p class="note forbidden" role="alert">
          <strong>Not allowed.</strong> This token lacks the capability for this ({error.message}).
        </p>
      );
    }
    if (error.status === 401) {
      return (
        <p class="note error" role="alert">
          <strong>Token rejected.</strong> It is unknown, revoked or expired: sign out and sign in again.
        </p>
      );
    }
    if (error.status === 404) {
      return (
        <p class="note" role="alert">
          <strong>Not found.</strong> {error.message}
        </p>
      );
    }
    return (
      <p class="note error" role="alert">
        <strong>{error.code}</strong>: {error.message}
      </p>
    );
  }
  return (
    <p class="note error" role="alert">
      {error instanceof Error ? error.message : String(error)}
    </p>
  );
}

/** State of {@link useLoad}. */
export interface Loaded<T> {
  /** The result, once loaded. */
  data: T | undefined;
  /** The error of the last load, if it failed. */
  error: unknown;
  /** Whether a load is running. */
  loading: boolean;
  /** Loads again. */
  reload: () => void;
}

/**
 * Runs `load` when `deps` change (and on `reload()`), keeping the last result while reloading.
 *
 * @param load - the loader
 * @param deps - reload when these change
 */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({
    data: undefined,
    error: undefined,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, error: undefined, loading: false }),
      (error: unknown) => live && setState({ data: undefined, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/**
 * A destructive action behind a typed confirmation: the button opens a field where the user types
 * `expected`; only then does the confirm button run `onConfirm`.
 */
export function TypedConfirm(props: {
  label: string;
  expected: string;
  what: string;
  onConfirm: () => Promise<void>;
}): JSX.Element | null {
  const [open, setOpen] = useState(false);
  const [typed, setTyped] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  if (!open) {
    return (
      <button type="button" class="danger" onClick={() => setOpen(true)}>
        {props.label}
      </button>
    );
  }
  const confirm = async (): Promise<void> => {
    setBusy(true);
    try {
      await props.onConfirm();
      setOpen(false);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  // A group, not a form: it may sit inside another form (the store settings).
  return (
    <fieldset class="confirm">
      <legend class="sr-only">{props.label}</legend>
      <label>
        <span>
          Type <code>{props.expected}</code> to {props.what}
        </span>
        <input
          value={typed}
          onInput={(e) => setTyped(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              if (typed === props.expected && !busy) void confirm();
            }
          }}
          autoComplete="off"
        />
      </label>
      <button type="button" class="danger" disabled={typed !== props.expected || busy} onClick={confirm}>
        {props.label}
      </button>
      <button type="button" onClick={() => setOpen(false)}>
        Cancel
      </button>
      <ErrorNote error={error} />
    </fieldset>
  );
}

/** A labelled definition list row. */
export function Field({ name, children }: { name: string; children: ComponentChildren }): JSX.Element | null {
  return (
    <>
      <dt>{name}</dt>
      <dd>{children}</dd>
    </>
  );
}

/**
 * A box that scrolls sideways or down by itself (tables, values): a labelled region that takes focus,
 * so keyboard users can scroll it (WCAG 2.1.1; axe `scrollable-region-focusable`).
 */
export function ScrollBox({
  label,
  class: className,
  children,
}: {
  label: string;
  class?: string;
  children: ComponentChildren;
}): JSX.Element | null {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must take focus to scroll by keyboard.
    <section class={className ?? 'scroll-x'} aria-label={label} tabIndex={0}>
      {children}
    </section>
  );
}

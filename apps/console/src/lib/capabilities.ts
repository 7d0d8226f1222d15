/**
 * The token form's capability picker: builds AntiRaid-form capability strings
 * (`kv[store:scope]:action`, docs/security.md "Capabilities") from what the user picked.
 *
 * @module
 */
import { KV_ACTIONS } from '@kv/core/protocol';

/**
 * Entry actions a capability may grant: core's list (docs/security.md "Capabilities"), so a new action
 * shows up here with no change. The queue actions (`enqueue`, `dequeue`) take no scope: the server refuses
 * them in a scoped capability, and the form shows its error.
 */
export const ENTRY_ACTIONS: readonly string[] = KV_ACTIONS;

/** Capabilities that are not per store (docs/security.md). */
export const GLOBAL_CAPABILITIES: readonly string[] = [
  'kv.meta:list_scopes',
  'kv.meta:keys',
  'kv.meta:id_ops',
  'kv.admin:stores',
  'kv.admin:tokens',
];

/** What the picker holds for one row. */
export interface CapabilityPick {
  /** Store name; empty = every store. */
  store: string;
  /** Scope inside the store; empty = every scope. Needs a store. */
  scope: string;
  /** Actions; `*` = every action. */
  actions: readonly string[];
}

/**
 * The capability strings of one picker row: `kv:get`, `kv[orders]:get`, `kv[orders:billing]:get`.
 *
 * @param pick - the row
 * @throws Error when a scope is given without a store, or a name holds `[`, `]` or `:` (the message says which)
 */
export function capabilityStrings(pick: CapabilityPick): string[] {
  const store = pick.store.trim();
  const scope = pick.scope.trim();
  if (scope !== '' && store === '') throw new Error('A scope needs a store');
  for (const [what, text] of [
    ['store', store],
    ['scope', scope],
  ] as const) {
    if (/[[\]:\s]/.test(text)) throw new Error(`The ${what} name may not contain [, ], : or spaces`);
  }
  const target = store === '' ? 'kv' : scope === '' ? `kv[${store}]` : `kv[${store}:${scope}]`;
  return pick.actions.map((action) => `${target}:${action}`);
}

// A todo list on @kv/browser: reads come from the IndexedDB cache and stay current through watch
// (`live`), and todos added or toggled offline are queued and replayed when the network returns.
// Run a server with CORS for this page (`kv-server --cors-origins http://localhost:5173`), then
// `npx vite packages/browser/example` and open it with ?url=http://127.0.0.1:8787&token=...
import { createClient, type WriteConflict } from '@kv/browser';

interface Todo {
  title: string;
  done: boolean;
}

const params = new URLSearchParams(location.search);
const kv = createClient({
  url: params.get('url') ?? 'http://127.0.0.1:8787',
  token: params.get('token') ?? undefined,
  cache: {
    live: true,
    offlineWrites: true,
    maxAgeMs: 5_000,
    onConflict: (conflict: WriteConflict) => {
      status(`"${conflict.write.key}" changed elsewhere while you were offline; kept the other change.`);
      void render();
    },
  },
});
const todos = kv.store(params.get('store') ?? 'todos');

const list = document.querySelector<HTMLUListElement>('#list')!;
const form = document.querySelector<HTMLFormElement>('#add')!;
const title = document.querySelector<HTMLInputElement>('#title')!;
const statusLine = document.querySelector<HTMLParagraphElement>('#status')!;

function status(text: string): void {
  statusLine.textContent = text;
}

async function render(): Promise<void> {
  const keys: string[] = [];
  try {
    for await (const key of todos.keys({ prefix: 'todo.' })) keys.push(key);
  } catch {
    // Offline: show what the cache holds.
    for (const record of await kv.cache!.load(todos.name)) keys.push(record.key);
  }
  const entries = await todos.getMany(keys);
  list.replaceChildren(
    ...keys.map((key) => {
      const entry = entries.get(key);
      const todo = entry?.value as Todo | undefined;
      const item = document.createElement('li');
      if (todo === undefined) return item;
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = todo.done;
      box.addEventListener('change', async () => {
        // Guarded by the revision we rendered: a concurrent edit is a conflict, never overwritten.
        await todos.update(key, { ...todo, done: box.checked }, entry!.revision);
        await render();
      });
      const label = document.createElement('span');
      label.textContent = todo.title;
      if (todo.done) label.className = 'done';
      item.append(box, label);
      return item;
    }),
  );
  const stats = await kv.cache!.stats();
  status(`${navigator.onLine ? 'online' : 'offline'} · ${stats.entries} cached · ${stats.queued} queued`);
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  await todos.create(`todo.${Date.now().toString(36)}`, { title: title.value, done: false } satisfies Todo);
  title.value = '';
  await render();
});
addEventListener('online', () => void kv.flush().then(render));
addEventListener('offline', () => void render());
todos.watch({ prefix: 'todo.' }, { onUpdate: () => void render() });
await todos.preload();
await render();

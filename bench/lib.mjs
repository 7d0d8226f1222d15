// Process plumbing shared by the benches: a free loopback port, starting a server child and waiting for
// its /healthz, stopping it by PID, and reading its CPU time and RSS from /proc. Loopback only.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A TCP port free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts `node <args> --port <free port>` (args name the script first) with `env` added to the
 * environment and waits until `/healthz` answers (at most `timeoutMs`). stdout is drained (request logs
 * must never fill a pipe), stderr inherited.
 *
 * @returns `{ child, url }`
 * @throws when the child exits first or does not answer in time (it is killed then)
 */
export async function startServer(args, { env = {}, name = 'server', timeoutMs = 20_000 } = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, [...args, '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  child.stdout.resume();
  const url = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode}) before listening`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { child, url };
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`${name} did not answer /healthz within ${timeoutMs} ms`);
}

/** Sends SIGTERM to a child (unless it has exited) and resolves when it has. */
export function stopProcess(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill('SIGTERM');
  });
}

/** User + system CPU time of a process so far, in ms (from /proc; clock ticks are 10 ms). */
export function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Resident and peak resident memory of a process, in MB (from /proc). */
export function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

// Runs `floodgate injector` (injector/main.ts) as a child process so tests measure its CPU, RSS,
// disk and network use from outside, through /proc and the filesystem.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface SpawnedInjector {
  url: string;
  controlUrl: string;
  pid: number;
  token: string;
  proc: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `root`: the checkout whose injector runs (a bench compares another commit's in the same run); `env`: added to this process's. */
export async function spawnInjector(args: string[], upstream = 'http://127.0.0.1:1', root = ROOT, env: Record<string, string> = {}): Promise<SpawnedInjector> {
  const token = randomBytes(16).toString('hex');
  const proc = spawn(process.execPath, [join(root, 'injector/main.ts'), '--listen', '127.0.0.1:0', '--upstream', upstream, ...args], {
    env: { ...process.env, ...env, FLOODGATE_INJECTOR_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d; });
  const ready = await new Promise<{ url: string; controlUrl: string }>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`injector did not start: ${stderr}`)), 20_000);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string; controlUrl?: string };
        if (rec.msg === 'injector listening') { clearTimeout(timer); res({ url: rec.url!, controlUrl: rec.controlUrl! }); }
      } catch { /* not JSON */ }
    });
    void exited.then((e) => { clearTimeout(timer); rej(new Error(`injector exited ${e.code}: ${stderr}`)); });
  });
  return {
    ...ready, pid: proc.pid!, token, proc, exited,
    async api(method, path, body) {
      const r = await fetch(ready.controlUrl + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await r.text();
      let parsed: unknown = text;
      try { parsed = JSON.parse(text); } catch { /* text */ }
      return { status: r.status, body: parsed };
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

/** utime + stime of a process, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // CLK_TCK is 100 on Linux
}

/** Per thread of `pid`: [ns on a CPU, ns runnable but waiting for one] (/proc/<pid>/task/<tid>/schedstat). */
function threadSched(pid: number): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const [run, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
      out.set(tid, [run!, wait!]);
    } catch { /* thread ended meanwhile */ }
  }
  return out;
}

/**
 * Cores a process used over `ms`, each thread's CPU time against the wall time it could have run
 * (wall minus its wait for a core): what a burner controls, independent of how loaded the
 * machine is. On an idle machine it equals CPU time / wall time.
 */
export async function cpuShareOfRunnableTime(pid: number, ms: number): Promise<number> {
  const before = threadSched(pid);
  const t0 = process.hrtime.bigint();
  await sleep(ms);
  const after = threadSched(pid);
  const wall = Number(process.hrtime.bigint() - t0);
  let cores = 0;
  for (const [tid, [run1, wait1]] of after) {
    const b = before.get(tid);
    if (!b) continue;
    const run = run1 - b[0];
    const given = wall - (wait1 - b[1]);
    if (run > 0 && given > 0) cores += run / given;
  }
  return cores;
}

export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

export function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `fn` returns a truthy value or the time runs out (then throws). */
export async function waitFor<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

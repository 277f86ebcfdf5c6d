// A `floodgate` subcommand as a child process whose JSON log lines the test keeps, to assert
// what an operator would read (request logs, debug lines) and to scrape what it exports.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from './gateway.ts';

export interface LoggedProcess {
  proc: ChildProcess;
  /** Every JSON line from stdout and stderr, parsed, in arrival order. */
  lines: Record<string, unknown>[];
  /** The first line `match` accepts, waiting up to `ms` for it. */
  waitFor(match: (l: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function spawnLogged(args: string[], env: Record<string, string> = {}): Promise<LoggedProcess> {
  const proc = spawn(process.execPath, [join(ROOT, 'main.ts'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let raw = '';
  for (const stream of [proc.stdout!, proc.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      raw += line + '\n';
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
        for (const w of waiters) w();
      } catch { /* not a log line */ }
    });
  }
  const waitFor: LoggedProcess['waitFor'] = (match, ms = 20_000) => new Promise((resolve, reject) => {
    const check = () => {
      const hit = lines.find(match);
      if (hit) { cleanup(); resolve(hit); }
    };
    const timer = setTimeout(() => { cleanup(); reject(new Error(`no matching log line in ${ms} ms; output:\n${raw.slice(-4000)}`)); }, ms);
    const gone = () => { cleanup(); reject(new Error(`process exited; output:\n${raw.slice(-4000)}`)); };
    const cleanup = () => { clearTimeout(timer); waiters.delete(check); proc.off('exit', gone); };
    waiters.add(check);
    proc.once('exit', gone);
    check();
  });
  return {
    proc, lines, waitFor,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** Parses Prometheus text exposition into `name{labels}` → value, plus the declared TYPE of each family. */
export function parseMetrics(text: string): { samples: Map<string, number>; types: Map<string, string> } {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)/.exec(line);
    if (t) types.set(t[1]!, t[2]!);
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    samples.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return { samples, types };
}

/** The sum of every sample of `name` whose labels include all of `labels`. */
export function sampleSum(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const [k, v] of samples) {
    const brace = k.indexOf('{');
    if ((brace < 0 ? k : k.slice(0, brace)) !== name) continue;
    if (Object.entries(labels).every(([l, val]) => (k.includes(`{${l}="${val}"`) || k.includes(`,${l}="${val}"`)))) sum += v;
  }
  return sum;
}

// Runs the durable jobs of the index's queue (placement/jobs.ts): claims due jobs under a lease,
// hands each to the handler of its kind, and settles it — deleted when done, given back with a
// delay and its error when not. A rate limit (jobs/s and bytes/s) keeps background work from
// crowding out client traffic; a kill -9 loses nothing, the lease runs out and any replica
// (this one after a restart) claims the job again.
//
//   createJobRunner ─ loop: claim → pace (limits) → handler(job) → complete | release
import { randomBytes } from 'node:crypto';
import type { Job, JobKind, JobStore, JobSummary } from '../placement/jobs.ts';
import { JOB_KINDS } from '../placement/jobs.ts';

/**
 * What a handler reports. done: the job is finished (or had nothing left to do). later: not
 * possible now (a backend is down); tried again after `ms`, with `error` recorded (and from
 * `progress` when given). more: a
 * long job made progress and continues from `progress` (after `ms`, default at once). `bytes`
 * moved and `objects` handled (default 1; a long job's page counts its objects), for the limits.
 */
export type JobResult =
  | { outcome: 'done'; bytes?: number; objects?: number }
  | { outcome: 'later'; ms?: number; error: string; progress?: string }
  | { outcome: 'more'; progress: string; bytes?: number; objects?: number; ms?: number };

export type JobHandler = (job: Job, signal: AbortSignal) => Promise<JobResult>;

export interface JobRunnerOptions {
  /** The lease owner's name prefix (the replica); a random suffix makes each process distinct. */
  replica: string;
  leaseMs: number;
  concurrency: number;
  /** 0: unlimited. */
  jobsPerSecond: number;
  bytesPerSecond: number;
  /** How often to look for due jobs when nothing woke the runner. */
  pollMs: number;
  log?: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

export interface JobStats {
  done: Record<JobKind, number>;
  failed: Record<JobKind, number>;
  running: number;
}

export interface JobRunner {
  readonly owner: string;
  start(): void;
  /** Look for jobs now (one was just queued). */
  kick(): void;
  /** Stops claiming and waits for running jobs to settle. */
  stop(): Promise<void>;
  stats(): JobStats;
  /**
   * Waits for this replica's rate limit (objects/s, bytes/s) to allow one more object of `bytes`:
   * a job moving many objects (drain, rebalance) calls it per object, so the limits hold within it.
   */
  throttle(bytes: number, signal?: AbortSignal): Promise<void>;
  /** The queue as of the last refresh (at most a second old while running). */
  summary(): JobSummary | undefined;
  refreshSummary(): Promise<JobSummary>;
  /** Resolves once no job is due or running (tests, `reindex`); rejects after `timeoutMs`. */
  idle(timeoutMs: number): Promise<void>;
}

/** One handler for every kind (tests). */
export const everyKind = (h: JobHandler): Record<JobKind, JobHandler> => Object.fromEntries(JOB_KINDS.map((k) => [k, h])) as Record<JobKind, JobHandler>;

const zero = (): Record<JobKind, number> => Object.fromEntries(JOB_KINDS.map((k) => [k, 0])) as Record<JobKind, number>;

/** Retry delay after `attempts` failures: 0.5 s doubling, at most 30 s. */
export const backoff = (attempts: number): number => Math.min(30_000, 500 * 2 ** Math.min(attempts, 6));

export function createJobRunner(store: JobStore, handlers: Record<JobKind, JobHandler>, o: JobRunnerOptions): JobRunner {
  const owner = `${o.replica}/${process.pid}/${randomBytes(3).toString('hex')}`;
  const stats: JobStats = { done: zero(), failed: zero(), running: 0 };
  const abort = new AbortController();
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let kicked = false;
  let summary: JobSummary | undefined;
  let summaryTimer: NodeJS.Timeout | undefined;
  // Pacing: the earliest time the next job may start.
  let nextStart = 0;
  const active = new Set<Promise<void>>();

  const sleep = (ms: number) => new Promise<void>((r) => {
    if (kicked || !running) { kicked = false; return r(); }
    const t = setTimeout(() => { wake = undefined; r(); }, ms);
    wake = () => { clearTimeout(t); wake = undefined; r(); };
  });

  function pace(bytes: number, objects: number): void {
    const now = Date.now();
    const cost = (o.jobsPerSecond > 0 ? (objects * 1000) / o.jobsPerSecond : 0) + (o.bytesPerSecond > 0 ? (bytes * 1000) / o.bytesPerSecond : 0);
    nextStart = Math.max(nextStart, now) + cost;
  }

  async function runOne(job: Job): Promise<void> {
    stats.running++;
    try {
      let r: JobResult;
      try {
        r = await handlers[job.kind](job, abort.signal);
      } catch (e) {
        r = { outcome: 'later', error: (e as Error).message || String(e) };
      }
      if (r.outcome === 'done') {
        pace(r.bytes ?? 0, r.objects ?? 1);
        await store.complete(job.id, owner);
        stats.done[job.kind]++;
      } else if (r.outcome === 'more') {
        pace(r.bytes ?? 0, r.objects ?? 1);
        await store.release(job.id, owner, { notBefore: new Date(Date.now() + (r.ms ?? 0)), progress: r.progress });
        if (!r.ms) kicked = true;
      } else {
        stats.failed[job.kind]++;
        await store.release(job.id, owner, { notBefore: new Date(Date.now() + (r.ms ?? backoff(job.attempts))), error: r.error.slice(0, 500), ...(r.progress ? { progress: r.progress } : {}) });
        if (job.attempts % 10 === 0) o.log?.('warn', 'background job not done yet', { id: job.id, kind: job.kind, bucket: job.bucket, key: job.key, backend: job.backend, attempts: job.attempts + 1, error: r.error });
      }
    } catch (e) {
      // The index itself failed: the lease runs out and the job is claimed again.
      o.log?.('warn', 'background job not settled', { id: job.id, kind: job.kind, error: (e as Error).message });
    } finally {
      stats.running--;
    }
  }

  async function run(): Promise<void> {
    // A process of this replica killed before: its jobs are due now, not when their leases run out.
    const back = await store.reclaim(o.replica, owner).catch(() => 0);
    if (back) o.log?.('info', 'jobs of a previous process of this replica taken back', { jobs: back });
    while (running) {
      const room = o.concurrency - active.size;
      let jobs: Job[] = [];
      if (room > 0) {
        try {
          jobs = await store.claim(owner, room, o.leaseMs);
        } catch (e) {
          o.log?.('warn', 'job queue not readable', { error: (e as Error).message });
        }
      }
      for (const job of jobs) {
        const wait = nextStart - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (!running) break;
        const p: Promise<void> = runOne(job).finally(() => { active.delete(p); kicked = true; wake?.(); });
        active.add(p);
      }
      if (!jobs.length || active.size >= o.concurrency) await sleep(o.pollMs);
    }
  }

  const runner: JobRunner = {
    owner,
    start() {
      if (running) return;
      running = true;
      loop = run();
      const refresh = () => { void runner.refreshSummary().catch(() => {}); };
      summaryTimer = setInterval(refresh, 1_000);
      summaryTimer.unref();
      refresh();
    },
    kick() {
      kicked = true;
      wake?.();
    },
    async stop() {
      running = false;
      abort.abort();
      wake?.();
      if (summaryTimer) clearInterval(summaryTimer);
      await loop;
      await Promise.allSettled([...active]);
    },
    async throttle(bytes, signal) {
      const wait = nextStart - Date.now();
      if (wait > 0) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, wait);
          signal?.addEventListener('abort', () => { clearTimeout(t); r(); }, { once: true });
        });
      }
      pace(bytes, 1);
    },
    stats: () => ({ done: { ...stats.done }, failed: { ...stats.failed }, running: stats.running }),
    summary: () => summary,
    async refreshSummary() {
      summary = await store.summary();
      return summary;
    },
    async idle(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = await runner.refreshSummary();
        const queued = JOB_KINDS.reduce((n, k) => n + s.kinds[k].queued, 0);
        if (queued === 0 && stats.running === 0) return;
        if (Date.now() > deadline) throw new Error(`background jobs still queued after ${timeoutMs} ms: ${JSON.stringify(s.kinds)}`);
        runner.kick();
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
  return runner;
}

// When garbage collection runs: on demand (the admin API, gc/admin.ts) and every `gc.interval`
// when that is set (default 0: never on its own — collecting deletes, so an operator turns it
// on; each replica checks every 10 s, or every interval when shorter). A run is one `gc` job per
// (virtual bucket, backend); the last run's state of each pair is
// a meta value in the index, so every replica sees it, a schedule survives restarts, and two
// replicas never queue the same run twice (a pair whose run is still going is skipped).
import type { GcStatus } from '../../health/status.ts';
import type { JobHandler } from '../../jobs/runner.ts';
import type { VirtualContext } from '../context.ts';
import { freshGc, gcJob, gcStateName, parseGc, type GcState } from './collect.ts';

const TICK_MS = 10_000;

export interface GcService {
  /** Queues a run for each backend of `bucket` (or just `backend`) that has none going; the pairs queued. */
  start(bucket: string, backend?: string): Promise<{ bucket: string; backend: string }[]>;
  /** The last (or running) run per backend of `bucket`, as last read. */
  status(bucket: string): GcStatus[];
  /** Marks the pair's run cancelled (its job was cancelled from the queue) unless it already ended. */
  cancelled(bucket: string, backend: string): Promise<void>;
  /** Re-reads every pair's state from the index. */
  refresh(): Promise<void>;
  handler: JobHandler;
  stop(): void;
}

const pairs = (ctx: VirtualContext, bucket?: string) => [...ctx.rt.current().buckets.values()]
  .filter((vb) => bucket === undefined || vb.name === bucket).flatMap((vb) => vb.backends.map((backend) => ({ bucket: vb.name, backend })));

export function createGcService(ctx: VirtualContext): GcService {
  const states = new Map<string, GcState>();
  const save = async (s: GcState) => {
    states.set(gcStateName(s.bucket, s.backend), s);
    await ctx.index.setMeta(gcStateName(s.bucket, s.backend), JSON.stringify(s));
  };
  const load = async (bucket: string, backend: string) => {
    const v = await ctx.index.getMeta(gcStateName(bucket, backend));
    const s = v ? parseGc(v, bucket, backend) : undefined;
    if (s) states.set(gcStateName(bucket, backend), s);
    return s;
  };

  async function start(bucket: string, backend?: string, due?: (s: GcState | undefined) => boolean) {
    // A state left 'running' with no job of the bucket queued was cancelled or lost: start over.
    const queued = new Set((await ctx.index.jobs.summary()).perBucket.filter((r) => r.kind === 'gc').map((r) => r.bucket));
    const out: { bucket: string; backend: string }[] = [];
    for (const p of pairs(ctx, bucket).filter((x) => backend === undefined || x.backend === backend)) {
      const s = await load(p.bucket, p.backend);
      if (s?.state === 'running' && queued.has(p.bucket)) continue;
      if (due && !due(s)) continue;
      const fresh = freshGc(p.bucket, p.backend);
      await save(fresh);
      await ctx.index.jobs.enqueue([{ kind: 'gc', bucket: p.bucket, key: '', backend: p.backend, progress: JSON.stringify(fresh) }]);
      out.push(p);
    }
    if (out.length) ctx.jobs.kick();
    return out;
  }

  // Checked every TICK_MS (or every interval when shorter), with the interval of the live config.
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const every = () => ctx.rt.current().config.gc.interval;
  async function tick(): Promise<void> {
    const ms = every();
    if (!ms) return;
    const due = (s: GcState | undefined) => !s || (s.state !== 'running' && Date.now() - Date.parse(s.finishedAt ?? s.startedAt) >= ms);
    for (const vb of ctx.rt.current().buckets.keys()) await start(vb, undefined, due);
  }
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      void tick().catch((e: unknown) => ctx.log('warn', 'gc: scheduled run not queued', { error: (e as Error).message })).finally(schedule);
    }, Math.min(TICK_MS, every() || TICK_MS));
    timer.unref();
  };
  schedule();

  const cancelled = async (bucket: string, backend: string) => {
    const s = await load(bucket, backend);
    if (s?.state === 'running') await save({ ...s, state: 'cancelled', finishedAt: new Date().toISOString() });
  };

  return {
    start: (bucket, backend) => start(bucket, backend),
    cancelled,
    status(bucket) {
      return pairs(ctx, bucket).flatMap((p) => {
        const s = states.get(gcStateName(p.bucket, p.backend));
        if (!s) return [];
        const { bucket: _b, after: _a, ...rest } = s;
        return [rest];
      });
    },
    async refresh() {
      await Promise.all(pairs(ctx).map((p) => load(p.bucket, p.backend)));
    },
    handler: (job) => gcJob(ctx, job, async (s) => {
      await save(s);
      // Cancelled while this page ran: the cancel's own mark may have come first; this save must not undo it.
      if (s.state === 'running' && !(await ctx.index.jobs.get(job.id))) await cancelled(s.bucket, s.backend);
    }),
    stop: () => { stopped = true; clearTimeout(timer); },
  };
}

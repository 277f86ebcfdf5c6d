// Starting, cancelling and following the `migrate` jobs (migrate.ts) of the buckets with an
// origin. A run is one job on the durable queue; its state is a meta value in the index, so any
// replica answers for it. One run per bucket at a time: a state still running whose job is in
// the queue refuses a new one; its job cancelled through the jobs admin API ends it cancelled
// (index.ts onJobCancel). A state left running with no job (the run is from before the queue, or
// lost) is resumed by autoStart and replaced by a new run.
import type { Job } from '../../placement/jobs.ts';
import type { JobHandler } from '../../jobs/runner.ts';
import type { VirtualContext } from '../context.ts';
import { active, freshRun, loadState, migrateStep, saveState, type MigrationState } from './migrate.ts';
import type { Origin } from './origin.ts';
import { createRateLimiter, type RateLimiter } from './rate.ts';

export type StartOutcome = { ok: true; state: MigrationState } | { ok: false; status: 409; message: string };

export interface Migrations {
  handler: JobHandler;
  start(o: Origin): Promise<StartOutcome>;
  /** Ends the bucket's running run (on whichever replica runs it); false when none runs. */
  cancel(bucket: string): Promise<boolean>;
  /** Starts the buckets' first runs, and resumes runs left without a job. */
  autoStart(origins: Origin[]): Promise<void>;
  state(bucket: string): MigrationState | undefined;
  refresh(bucket: string): Promise<MigrationState | undefined>;
  /** Resolves once the bucket has no run going (and none running here); rejects after `ms`. */
  done(bucket: string, ms?: number): Promise<void>;
  /** Stops the step running here for `bucket` (the origin went away, or the gateway closes). */
  abort(bucket?: string): void;
}

export function createMigrations(ctx: VirtualContext, originOf: (bucket: string) => Origin | undefined): Migrations {
  const states = new Map<string, MigrationState>();
  const local = new Map<string, AbortController>();
  const limiters = new Map<string, { rates: string; limiter: RateLimiter }>();

  const limiterOf = (o: Origin): RateLimiter => {
    const rates = JSON.stringify([o.config.migrate?.objectsPerSecond, o.config.migrate?.bandwidth]);
    let l = limiters.get(o.bucket);
    if (!l || l.rates !== rates) limiters.set(o.bucket, (l = { rates, limiter: createRateLimiter(o.config.migrate?.objectsPerSecond, o.config.migrate?.bandwidth) }));
    return l.limiter;
  };
  const refresh = async (bucket: string) => {
    const s = await loadState(ctx, bucket);
    if (s) states.set(bucket, s);
    return s;
  };
  const queued = async (bucket: string) => (await ctx.index.jobs.summary()).perBucket.some((r) => r.kind === 'migrate' && r.bucket === bucket);
  const enqueue = async (bucket: string, s: MigrationState) => {
    await ctx.index.jobs.enqueue([{ kind: 'migrate', bucket, key: '', backend: '', progress: JSON.stringify(s) }]);
    ctx.jobs.kick();
  };

  async function handler(job: Job, signal: AbortSignal) {
    const o = originOf(job.bucket);
    if (!o) return { outcome: 'done' as const };
    const mine = new AbortController();
    local.set(job.bucket, mine);
    try {
      return await migrateStep(ctx, o, JSON.parse(job.progress!) as MigrationState, AbortSignal.any([signal, mine.signal]), limiterOf(o), (s) => states.set(job.bucket, { ...s }));
    } finally {
      if (local.get(job.bucket) === mine) local.delete(job.bucket);
    }
  }

  async function start(o: Origin): Promise<StartOutcome> {
    const prev = await refresh(o.bucket);
    if (active(prev) && await queued(o.bucket)) {
      return { ok: false, status: 409, message: `the migration of ${o.bucket} is already running${prev!.owner !== ctx.replica ? ` (on ${prev!.owner})` : ''}` };
    }
    const s = freshRun(prev, ctx.replica);
    await saveState(ctx, o.bucket, s);
    states.set(o.bucket, s);
    await enqueue(o.bucket, s);
    return { ok: true, state: s };
  }

  return {
    handler,
    start,
    async cancel(bucket) {
      const s = await refresh(bucket);
      if (!active(s)) return false;
      const ended: MigrationState = { ...s!, state: 'cancelled', finishedAt: new Date().toISOString() };
      await saveState(ctx, bucket, ended);
      states.set(bucket, ended);
      local.get(bucket)?.abort('cancel');
      return true;
    },
    async autoStart(origins) {
      for (const o of origins) {
        if (!o.config.migrate?.enabled) continue;
        const s = await refresh(o.bucket);
        // A run that ended stays ended; the admin API starts another one.
        if (!s) await start(o);
        else if ((active(s) || s.state === 'failed') && !(await queued(o.bucket))) {
          ctx.log('info', 'origin migration without a job: queued again', { bucket: o.bucket, run: s.run, cursor: s.cursor });
          await enqueue(o.bucket, { ...s, state: s.total ? 'running' : 'counting' });
        }
      }
    },
    state: (bucket) => states.get(bucket),
    refresh,
    async done(bucket, ms = 600_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        if (!local.has(bucket) && !active(await refresh(bucket))) return;
        if (Date.now() > deadline) throw new Error(`the migration of ${bucket} still runs after ${ms} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    abort(bucket) {
      for (const [b, c] of local) if (bucket === undefined || b === bucket) c.abort('close');
    },
  };
}

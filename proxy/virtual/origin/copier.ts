// Background copies of objects read through from the origin, as `origin-copy` jobs on the
// durable queue (placement/jobs.ts, jobs/runner.ts): a read queues its key and returns, a
// gateway killed meanwhile loses nothing (the job is claimed again after a restart), and a copy
// that failed keeps its error and attempts in the queue and is tried again every
// `retryInterval`. At most `copyConcurrency` copies of one bucket run at once. A key queued by
// this process is not queued again until its job is done (a hot key read a thousand times is
// one job); after a restart a duplicate is harmless, the copy skips a key already indexed.
import type { Job } from '../../placement/jobs.ts';
import type { JobHandler, JobResult } from '../../jobs/runner.ts';
import type { VirtualContext } from '../context.ts';
import { copyFromOrigin } from './copy.ts';
import type { Origin } from './origin.ts';

/** Keys this process has queued and not seen copied, per bucket: bounds the queue a read burst adds. */
export const MAX_QUEUED = 10_000;

export interface CopyCounters {
  /** GET/HEAD answered from the origin. */
  reads: number;
  copied: number;
  copiedBytes: number;
  failures: number;
  /** Copy jobs of the bucket in the queue (waiting, failing or running), every replica's. */
  queued: number;
}

export interface Copier {
  enqueue(o: Origin, key: string): void;
  handler: JobHandler;
  counters(bucket: string): CopyCounters;
  countRead(bucket: string): void;
  /** Resolves once no copy job is due or running (failing ones wait for their retry); rejects after `ms`. */
  idle(ms?: number): Promise<void>;
  stop(): void;
}

interface Lane {
  queued: Set<string>;
  running: number;
  waiters: (() => void)[];
  counters: Omit<CopyCounters, 'queued'>;
}

export function createCopier(ctx: VirtualContext, originOf: (bucket: string) => Origin | undefined): Copier {
  const lanes = new Map<string, Lane>();
  let stopped = false;
  let running = 0;
  const lane = (bucket: string): Lane => {
    let l = lanes.get(bucket);
    if (!l) lanes.set(bucket, (l = { queued: new Set(), running: 0, waiters: [], counters: { reads: 0, copied: 0, copiedBytes: 0, failures: 0 } }));
    return l;
  };

  function enqueue(o: Origin, key: string): void {
    const l = lane(o.bucket);
    if (stopped || l.queued.has(key) || l.queued.size >= MAX_QUEUED) return;
    l.queued.add(key);
    ctx.index.jobs.enqueue([{ kind: 'origin-copy', bucket: o.bucket, key, backend: '' }]).then(() => ctx.jobs.kick(), (e: unknown) => {
      l.queued.delete(key);
      ctx.log('warn', 'origin: copy not queued (a later read or the migration copies it)', { bucket: o.bucket, key, error: (e as Error).message });
    });
  }

  /** Waits for one of the bucket's `n` copy slots. */
  async function slot(l: Lane, n: number): Promise<() => void> {
    while (l.running >= n) await new Promise<void>((r) => l.waiters.push(r));
    l.running++;
    return () => { l.running--; l.waiters.shift()?.(); };
  }

  async function handler(job: Job): Promise<JobResult> {
    const o = originOf(job.bucket);
    const l = lane(job.bucket);
    // The origin was removed from the configuration: nothing left to copy from.
    if (!o) { l.queued.delete(job.key); return { outcome: 'done' }; }
    const free = await slot(l, o.config.copyConcurrency);
    running++;
    try {
      const r = await copyFromOrigin(ctx, o, job.key);
      if (r.kind === 'failed') {
        l.counters.failures++;
        return { outcome: 'later', ms: o.config.retryInterval, error: r.error };
      }
      l.queued.delete(job.key);
      if (r.kind !== 'copied') return { outcome: 'done' };
      l.counters.copied++;
      l.counters.copiedBytes += r.bytes;
      return { outcome: 'done', bytes: r.bytes };
    } finally {
      running--;
      free();
    }
  }

  return {
    enqueue,
    handler,
    countRead: (bucket) => { lane(bucket).counters.reads++; },
    counters(bucket) {
      const queued = ctx.jobs.summary()?.perBucket.find((r) => r.kind === 'origin-copy' && r.bucket === bucket)?.queued ?? 0;
      return { ...lane(bucket).counters, queued };
    },
    async idle(ms = 120_000) {
      const deadline = Date.now() + ms;
      for (;;) {
        const k = (await ctx.jobs.refreshSummary()).kinds['origin-copy'];
        if (k.queued === k.failing && running === 0) return;
        if (Date.now() > deadline) throw new Error(`origin copies still queued after ${ms} ms: ${JSON.stringify(k)}`);
        ctx.jobs.kick();
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop() { stopped = true; },
  };
}

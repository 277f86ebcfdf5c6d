// Background copies of objects read through from the origin: per virtual bucket a queue
// (deduplicated by key, bounded — a key dropped when it is full is copied by a later read or by
// the migration) worked by `copyConcurrency` workers. Keys whose copy failed carry a 'failed'
// mark in the index and are queued again every `retryInterval`, across restarts too.
import type { VirtualContext } from '../context.ts';
import { copyFromOrigin } from './copy.ts';
import type { Origin } from './origin.ts';

/** Keys waiting per virtual bucket; each is a key string, so this bounds memory to a few MB. */
export const MAX_QUEUED = 10_000;
const RETRY_BATCH = 200;

export interface CopyCounters {
  /** GET/HEAD answered from the origin. */
  reads: number;
  copied: number;
  copiedBytes: number;
  failures: number;
  /** Keys waiting, and being copied now. */
  queued: number;
  running: number;
}

export interface Copier {
  enqueue(o: Origin, key: string): void;
  counters(bucket: string): CopyCounters;
  countRead(bucket: string): void;
  /** Resolves once nothing is queued or running. */
  idle(): Promise<void>;
  stop(): void;
}

interface Lane {
  queue: string[];
  waiting: Set<string>;
  running: Set<string>;
  counters: CopyCounters;
  lastRetry: number;
  retryAfter: string;
}

export function createCopier(ctx: VirtualContext, originOf: (bucket: string) => Origin | undefined): Copier {
  const lanes = new Map<string, Lane>();
  const idlers: (() => void)[] = [];
  let stopped = false;

  const lane = (bucket: string): Lane => {
    let l = lanes.get(bucket);
    if (!l) lanes.set(bucket, (l = { queue: [], waiting: new Set(), running: new Set(), counters: { reads: 0, copied: 0, copiedBytes: 0, failures: 0, queued: 0, running: 0 }, lastRetry: Date.now(), retryAfter: '' }));
    return l;
  };

  const busy = () => [...lanes.values()].some((l) => l.queue.length || l.running.size);
  const settle = () => {
    if (busy()) return;
    for (const f of idlers.splice(0)) f();
  };

  function pump(bucket: string): void {
    const l = lane(bucket);
    const o = originOf(bucket);
    if (!o) {
      // The origin was removed from the configuration: nothing left to copy from.
      l.queue = [];
      l.waiting.clear();
      return settle();
    }
    while (!stopped && l.queue.length && l.running.size < o.config.copyConcurrency) {
      const key = l.queue.shift()!;
      l.waiting.delete(key);
      l.running.add(key);
      void copyFromOrigin(ctx, o, key).then((r) => {
        if (r.kind === 'copied') {
          l.counters.copied++;
          l.counters.copiedBytes += r.bytes;
        } else if (r.kind === 'failed') l.counters.failures++;
      }).finally(() => {
        l.running.delete(key);
        pump(bucket);
        settle();
      });
    }
  }

  function enqueue(o: Origin, key: string): void {
    const l = lane(o.bucket);
    if (stopped || l.waiting.has(key) || l.running.has(key) || l.queue.length >= MAX_QUEUED) return;
    l.queue.push(key);
    l.waiting.add(key);
    pump(o.bucket);
  }

  /** Queues the next batch of failed keys of each bucket whose retry interval has passed. */
  async function retryFailed(): Promise<void> {
    for (const vb of ctx.rt.current().buckets.values()) {
      const o = originOf(vb.name);
      if (!o) continue;
      const l = lane(vb.name);
      if (Date.now() - l.lastRetry < o.config.retryInterval) continue;
      l.lastRetry = Date.now();
      const marks = await ctx.index.originMarks(vb.name, 'failed', { prefix: '', after: l.retryAfter, limit: RETRY_BATCH });
      l.retryAfter = marks.length === RETRY_BATCH ? marks.at(-1)!.key : '';
      for (const m of marks) enqueue(o, m.key);
    }
  }

  const timer = setInterval(() => void retryFailed().catch((e: unknown) => ctx.log('warn', 'origin: retrying failed copies', { error: (e as Error).message })), 1_000);
  timer.unref();

  return {
    enqueue,
    countRead: (bucket) => { lane(bucket).counters.reads++; },
    counters(bucket) {
      const l = lane(bucket);
      return { ...l.counters, queued: l.queue.length, running: l.running.size };
    },
    idle: () => new Promise<void>((r) => {
      idlers.push(r);
      settle();
    }),
    stop() {
      stopped = true;
      clearInterval(timer);
      for (const l of lanes.values()) {
        l.queue = [];
        l.waiting.clear();
      }
      settle();
    },
  };
}

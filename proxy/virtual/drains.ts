// Which backends of each virtual bucket are drained or being drained. A backend is drained by a
// `drain` job (moves.ts) started from the admin API or listed under the bucket's `drain:` in the
// configuration; from the moment it is started it takes no new writes (candidatesOf gives it
// weight 0), and it stays so once its objects are moved. The state lives in the index's meta table
// (`drain/<bucket>`: backend → state), so a restart, and every replica sharing a PostgreSQL index,
// sees it; this process keeps a copy for the synchronous placement decisions, read again every
// few seconds.
import type { Job } from '../placement/jobs.ts';
import type { VirtualContext } from './context.ts';
import { rebalances } from './moves.ts';
import type { Generation } from './runtime.ts';

export interface DrainMark {
  state: 'draining' | 'drained';
  /** ISO times. */
  since: string;
  /** Set once drained: what the drain moved. */
  moved?: number;
  movedBytes?: number;
}

export interface DrainBook {
  /** Whether `backend` takes no new writes of `bucket` (draining or drained). */
  blocks(bucket: string, backend: string): boolean;
  marks(bucket: string): Record<string, DrainMark>;
  set(bucket: string, backend: string, mark: DrainMark | undefined): Promise<void>;
  /** Reads every bucket's marks from the index again. */
  refresh(gen: Generation): Promise<void>;
  start(): void;
  stop(): void;
}

const metaName = (bucket: string) => `drain/${bucket}`;
const REFRESH_MS = 2_000;
/** How long after a drain began every replica sharing the index has seen it (two refreshes and some). */
export const DRAIN_SEEN_MS = 2 * REFRESH_MS + 1_000;

export function createDrainBook(ctx: Pick<VirtualContext, 'index' | 'rt' | 'log'>): DrainBook {
  let marks = new Map<string, Record<string, DrainMark>>();
  let timer: NodeJS.Timeout | undefined;
  const read = async (bucket: string): Promise<Record<string, DrainMark>> => {
    const raw = await ctx.index.getMeta(metaName(bucket));
    return raw ? JSON.parse(raw) as Record<string, DrainMark> : {};
  };
  const book: DrainBook = {
    blocks(bucket, backend) {
      if (marks.get(bucket)?.[backend]) return true;
      return !!ctx.rt.current().buckets.get(bucket)?.config.drain?.includes(backend);
    },
    marks: (bucket) => ({ ...marks.get(bucket) }),
    async set(bucket, backend, mark) {
      const now = await read(bucket);
      if (mark) now[backend] = mark;
      else delete now[backend];
      await ctx.index.setMeta(metaName(bucket), Object.keys(now).length ? JSON.stringify(now) : undefined);
      marks.set(bucket, now);
    },
    async refresh(gen) {
      const next = new Map<string, Record<string, DrainMark>>();
      for (const name of gen.buckets.keys()) next.set(name, await read(name));
      marks = next;
    },
    start() {
      timer = setInterval(() => void book.refresh(ctx.rt.current()).catch((e: unknown) => ctx.log('warn', 'drain marks not readable', { error: (e as Error).message })), REFRESH_MS);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
  return book;
}

export type StartResult = { ok: true; job: Job } | { ok: false; status: number; message: string };

/** The queued drain or rebalance job of (bucket, backend), if any (undrain cancels it). */
async function queuedMove(ctx: VirtualContext, kind: 'drain' | 'rebalance', bucket: string, backend: string): Promise<Job | undefined> {
  const s = await ctx.index.jobs.summary();
  const m = s.moves.find((j) => j.kind === kind && j.bucket === bucket && j.backend === backend);
  return m ? ctx.index.jobs.get(m.id) : undefined;
}

/**
 * Starts draining `backend` of `bucket`: marks it (no new writes from now on) and queues the drain
 * job, unless one is queued already, by any replica (then that one is the answer).
 */
export async function startDrain(ctx: VirtualContext, bucket: string, backend: string): Promise<StartResult> {
  const vb = ctx.rt.current().buckets.get(bucket);
  if (!vb) return { ok: false, status: 404, message: `bucket: no virtual bucket "${bucket}"` };
  if (!vb.backends.includes(backend)) return { ok: false, status: 404, message: `backend: "${backend}" is not a backend of ${bucket} (${vb.backends.join(', ')})` };
  const others = vb.backends.filter((b) => b !== backend && !ctx.drains.blocks(bucket, b));
  if (others.length < vb.config.copies) return { ok: false, status: 409, message: `${bucket} keeps ${vb.config.copies} copies: draining ${backend} would leave ${others.length} backends to hold them` };
  if (ctx.drains.marks(bucket)[backend]?.state !== 'draining') await ctx.drains.set(bucket, backend, { state: 'draining', since: new Date().toISOString() });
  return queueMove(ctx, 'drain', bucket, backend);
}

/** Queues the job, or finds the one queued (enqueueSingle: one per bucket and backend across replicas). */
async function queueMove(ctx: VirtualContext, kind: 'drain' | 'rebalance', bucket: string, backend: string): Promise<StartResult> {
  const { job, created } = await ctx.index.jobs.enqueueSingle({ kind, bucket, key: '', backend });
  if (created) {
    ctx.jobs.kick();
    ctx.log('info', `${kind} started`, { bucket, ...(backend ? { backend } : {}), job: job.id });
  }
  return { ok: true, job };
}

/** Queues a rebalance of `bucket` (moves.ts), unless one is queued already, by any replica. */
export async function startRebalance(ctx: VirtualContext, bucket: string): Promise<StartResult> {
  const vb = ctx.rt.current().buckets.get(bucket);
  if (!vb) return { ok: false, status: 404, message: `bucket: no virtual bucket "${bucket}"` };
  if (!rebalances(vb)) return { ok: false, status: 409, message: `${bucket} uses strategy ${vb.config.strategy}: only rendezvous places a key on the same backends every time, so only its objects can be rebalanced` };
  return queueMove(ctx, 'rebalance', bucket, '');
}

/** Ends a backend's drain (drained or not): its job is cancelled and it takes writes again. */
export async function undrain(ctx: VirtualContext, bucket: string, backend: string): Promise<StartResult | { ok: true; job?: undefined }> {
  const vb = ctx.rt.current().buckets.get(bucket);
  if (!vb) return { ok: false, status: 404, message: `bucket: no virtual bucket "${bucket}"` };
  if (vb.config.drain?.includes(backend)) return { ok: false, status: 409, message: `${backend} is listed under drain: of ${bucket} in the configuration; remove it there` };
  if (!ctx.drains.marks(bucket)[backend]) return { ok: false, status: 404, message: `${backend} of ${bucket} is not drained` };
  const queued = await queuedMove(ctx, 'drain', bucket, backend);
  if (queued) await ctx.index.jobs.cancel(queued.id);
  await ctx.drains.set(bucket, backend, undefined);
  ctx.log('info', 'drain ended', { bucket, backend });
  return { ok: true };
}

/** Queues the drains the configuration asks for (`drain:` of each bucket) that are neither done nor queued. */
export async function startConfiguredDrains(ctx: VirtualContext, gen: Generation): Promise<void> {
  await ctx.drains.refresh(gen);
  for (const vb of gen.buckets.values()) {
    for (const backend of vb.config.drain ?? []) {
      if (ctx.drains.marks(vb.name)[backend]?.state === 'drained') continue;
      const r = await startDrain(ctx, vb.name, backend);
      if (!r.ok) ctx.log('warn', 'configured drain not started', { bucket: vb.name, backend, error: r.message });
    }
  }
}

// Queued removals: a copy the index no longer points at (the one an overwrite replaced, the copy
// of a deleted object, the copy of a write that lost the race or was refused) is deleted by a
// `remove` intent in the index, never on the client's time. The intent is recorded before the
// commit that orphans the copy, so a crash cannot forget it; it is tried at once in the
// background when the backend is up, and by the sweeper (repair.ts recoverIntents) until it succeeds.
// A delete's or an overwrite's orphaned copy also gets a `remove` job, settled with the attempt
// at once: the queue (any replica) retries what that attempt could not remove.
import type { Durability, Intent } from '../placement/types.ts';
import { S3Error } from '../s3/errors.ts';
import { lockKey, onBackend, type VirtualContext } from './context.ts';
import { holdUsualName, nameOf, sameCopy, usualNameBusy, type CopyRef } from './location.ts';
import type { Generation } from './runtime.ts';

/**
 * How long after a refused write (and after its backend was last marked up again) its name keeps
 * being deleted: a backend that was paused or slow may still store a body it had buffered.
 */
export const REFUSED_GRACE_MS = 15_000;

/**
 * A removal to run: the copy, its intent, and for a refused write when it was refused. `job`:
 * the copy's `remove` job (queueRemovalJob), held by this process while it removes the copy at
 * once; it is completed when that is done, else handed to the job queue (any replica runs it).
 */
export type Removal = Pick<Intent, 'id'> & CopyRef & { refusedAt?: Date; job?: number };

/** How long a job this process holds while it commits and removes at once stays its own. */
export const HOLD_MS = 120_000;

/**
 * Queues a `remove` job for the copy a delete or an overwrite orphans, held by this process (call
 * before the commit). The intent only its own replica settles; the job any replica runs, so a
 * copy is removed even when the replica that orphaned it never comes back.
 */
export async function queueRemovalJob(ctx: VirtualContext, copy: CopyRef, o: Durability = {}): Promise<number> {
  const [id] = await ctx.index.jobs.enqueue([{ kind: 'remove', bucket: copy.bucket, key: copy.key, backend: copy.backend, location: copy.location }], { owner: ctx.jobs.owner, leaseMs: HOLD_MS, ...o });
  return id!;
}

/**
 * Queues the removal of a copy a delete, an overwrite or a move orphans: its intent and its
 * `remove` job (call before the commit that orphans it). Where writes called in one turn commit
 * together in call order (sqlite), both go in one transaction, and with whatever the caller
 * writes in the same turn (the record: write.ts commitWrite); elsewhere the intent commits first.
 */
export async function queueRemovalWithJob<C extends CopyRef>(ctx: VirtualContext, copy: C, o: Durability = {}): Promise<Removal & C> {
  const id = queueRemoval(ctx, copy, 'remove', o);
  if (!ctx.index.groupsWrites) await id;
  const [i, job] = await Promise.all([id, queueRemovalJob(ctx, copy, o)]);
  return { id: i, job, ...copy };
}

/** After the attempt at once: its job is finished ('done'), or the queue's to retry. */
export async function settleRemovalJob(ctx: VirtualContext, r: Removal, outcome: 'done' | 'postponed'): Promise<void> {
  if (r.job === undefined) return;
  const job = r.job;
  r.job = undefined;
  // Lazy: a job a power cut brings back runs again and finds the copy gone.
  if (outcome === 'done') await ctx.index.jobs.complete(job, ctx.jobs.owner, { lazy: true }).catch(() => false);
  else {
    await ctx.index.jobs.release(job, ctx.jobs.owner, { notBefore: new Date() }).catch(() => {});
    ctx.jobs.kick();
  }
}

/**
 * Records the removal of `copy` ('refused': of a write the client was told failed); returns its
 * intent id. Lazy only when a durable commit follows before anyone relies on it (commitWrite).
 */
export function queueRemoval(ctx: VirtualContext, copy: CopyRef, op: 'remove' | 'refused' = 'remove', o: Durability = {}): Promise<number> {
  return ctx.index.beginIntent({ owner: ctx.replica, bucket: copy.bucket, key: copy.key, backend: copy.backend, op, location: copy.location }, o);
}

/** The removal an intent left in the index stands for; a write's intent left behind is its copy's refusal. */
export function removalOf(i: Intent): Removal {
  return { id: i.id, bucket: i.bucket, key: i.key, backend: i.backend, location: i.location, ...(i.op === 'remove' ? {} : { refusedAt: i.started }) };
}

/** Backend deletes of `<bucket>/<key>` names in flight (they run outside the key's lock). */
const deleting = new WeakMap<VirtualContext, Map<string, Set<Promise<unknown>>>>();
const slotOf = (r: CopyRef) => `${r.backend}\n${r.bucket}\n${r.key}`;

/**
 * Resolves once no removal is deleting `<bucket>/<key>` on `backend`. A multipart Complete, which
 * writes that name whatever holds it, waits for this under the key's lock.
 */
export async function usualNameDeleted(ctx: VirtualContext, bucket: string, key: string, backend: string): Promise<void> {
  const slot = slotOf({ bucket, key, backend });
  for (let busy = deleting.get(ctx)?.get(slot); busy?.size; busy = deleting.get(ctx)?.get(slot)) await Promise.allSettled(busy);
}

/** What a removal needs now (call under the key's lock): nothing more, a later try, or the delete. */
async function checkRemoval(ctx: VirtualContext, gen: Generation, r: CopyRef): Promise<'done' | 'postponed' | 'delete'> {
  if (sameCopy(await ctx.index.get(r.bucket, r.key), r)) return 'done';
  if (!gen.backends.get(r.backend)) return 'done';
  if (!ctx.health.healthy(r.backend)) return 'postponed';
  if (!r.location && usualNameBusy(ctx, r.bucket, r.key, r.backend, 'write')) return 'postponed';
  return 'delete';
}

/**
 * Deletes the copy checkRemoval allowed. Needs no lock: while its removal is held, no write
 * streams to the name, read repair and reindex leave it, and a Complete onto it waits for this.
 */
export async function deleteRemoved(ctx: VirtualContext, gen: Generation, r: CopyRef & { refusedAt?: Date }): Promise<'done' | 'postponed'> {
  const b = gen.backends.get(r.backend)!;
  const del = onBackend(ctx, b, () => b.store.deleteObject(b.bucket, nameOf(r)));
  let m = deleting.get(ctx);
  if (!m) deleting.set(ctx, (m = new Map()));
  const slot = slotOf(r);
  const busy = m.get(slot) ?? new Set();
  if (!r.location) m.set(slot, busy.add(del));
  try {
    await del;
  } catch (e) {
    if (!(e instanceof S3Error && e.code === 'NoSuchKey')) {
      ctx.log('warn', 'copy not removed yet; the sweeper retries', { bucket: r.bucket, key: r.key, backend: r.backend, error: (e as Error).message });
      return 'postponed';
    }
  } finally {
    busy.delete(del);
    if (!busy.size && m.get(slot) === busy) m.delete(slot);
  }
  if (r.refusedAt) {
    // A late body may still land: delete again on the sweeper's next passes until the grace is over.
    const from = Math.max(r.refusedAt.getTime(), ctx.health.get(r.backend)?.since.getTime() ?? 0);
    if (Date.now() - from < REFUSED_GRACE_MS) return 'postponed';
  }
  return 'done';
}

/** Pending removals of `<bucket>/<key>` names, held so no new write streams there meanwhile. */
const held = new WeakMap<VirtualContext, Map<number, () => void>>();

/** Keeps a pending removal's `<bucket>/<key>` name busy until it is done. */
export function holdForRemoval(ctx: VirtualContext, i: Removal): void {
  if (i.location) return;
  let m = held.get(ctx);
  if (!m) held.set(ctx, (m = new Map()));
  if (!m.has(i.id)) m.set(i.id, holdUsualName(ctx, i.bucket, i.key, i.backend, 'remove'));
}

/** Lets the name go once the removal is done. */
export function releaseRemoval(ctx: VirtualContext, id: number): void {
  const m = held.get(ctx);
  m?.get(id)?.();
  m?.delete(id);
}

/** Removals this process tries at once in the background; past that, their jobs take them (the queue's concurrency). */
export const BACKGROUND_REMOVALS = 32;
const inBackground = new WeakMap<VirtualContext, { n: number }>();

/**
 * Starts the removals a commit just queued (a delete's, an overwrite's, a refused or lost
 * write's), never on the client's time: each runs after the key's lock is released, its backend
 * DELETE bounded by the backend's timeouts. One whose backend is marked down, or past
 * BACKGROUND_REMOVALS at once (a stalled backend not yet marked down must not gather a DELETE per
 * key of a DeleteObjects), is left to its remove job and the sweeper.
 */
export async function startRemovals(ctx: VirtualContext, gen: Generation, removals: Removal[]): Promise<void> {
  let started = inBackground.get(ctx);
  if (!started) inBackground.set(ctx, (started = { n: 0 }));
  for (const r of removals) {
    holdForRemoval(ctx, r);
    if (!ctx.health.healthy(r.backend) || started.n >= BACKGROUND_REMOVALS) {
      ctx.log('info', 'copy left to its remove job and the sweeper', { bucket: r.bucket, key: r.key, backend: r.backend, down: !ctx.health.healthy(r.backend) });
      await settleRemovalJob(ctx, r, 'postponed');
      continue;
    }
    const count = started;
    count.n++;
    setImmediate(() => void runRemoval(ctx, gen, r).finally(() => { count.n--; }));
  }
}

/**
 * Settles one removal intent, checked under the key's lock; the intent is cleared once it is done.
 * The backend delete runs after the lock is released: a stalled backend not yet marked down must
 * not hold up the key's next writes and deletes (only a Complete onto the same name waits for it).
 */
export async function runRemoval(ctx: VirtualContext, gen: Generation, i: Removal): Promise<'done' | 'postponed'> {
  holdForRemoval(ctx, i);
  ctx.running.add(i.id);
  try {
    const next = await ctx.locks.run(lockKey(i.bucket, i.key), () => checkRemoval(ctx, gen, i));
    const outcome = next === 'delete' ? await deleteRemoved(ctx, gen, i) : next;
    if (outcome === 'done') {
      // Lazy: an intent a power cut brings back is settled again, finding the copy gone. The
      // job is completed alongside (one transaction on sqlite): either left behind is retried.
      await Promise.all([ctx.index.endIntent(i.id, { lazy: true }), settleRemovalJob(ctx, i, outcome)]);
      releaseRemoval(ctx, i.id);
    } else await settleRemovalJob(ctx, i, outcome);
    return outcome;
  } catch (e) {
    ctx.log('warn', 'copy not removed yet; the sweeper retries', { bucket: i.bucket, key: i.key, backend: i.backend, error: (e as Error).message });
    await settleRemovalJob(ctx, i, 'postponed');
    return 'postponed';
  } finally {
    ctx.running.delete(i.id);
  }
}

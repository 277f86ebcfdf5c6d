// The job kinds of multi-copy objects (placement/jobs.ts), each idempotent, since a job may run
// twice (its worker died after the work, before the job was deleted):
//   copy:   write a pending copy and mark it written; when the record no longer names it as
//           pending (overwritten, deleted), delete whatever may have landed at its name.
//   remove: delete a copy unless the record holds it (the copy of a deleted or replaced object,
//           the first copy included: any replica runs it, not only the one that orphaned it).
//   repair: walk a bucket's records a page at a time (resumable from `progress`); every copy on
//           the backend that came back is checked, a missing one is pending again, and a record
//           with fewer copies than the bucket wants gets new pending ones — each with a copy job;
//           one with more (`copies` lowered) loses the least wanted, each with a remove job.
import type { Job, JobKind } from '../placement/jobs.ts';
import type { PlacedObject, Replica } from '../placement/types.ts';
import { S3Error } from '../s3/errors.ts';
import type { JobHandler, JobResult } from '../jobs/runner.ts';
import { lockKey, onBackend, type VirtualContext } from './context.ts';
import { copiesOf, copyTargets, readOrder, recordHolds, writeCopy, type CopyAt } from './copies.ts';
import { holdUsualName, nameOf, ownName, usualNameBusy } from './location.ts';
import { deleteRemoved } from './removals.ts';
import type { Generation, VirtualBucketRuntime } from './runtime.ts';
import { moveJobHandlers } from './moves.ts';

const done: JobResult = { outcome: 'done' };

function withGen<T>(ctx: VirtualContext, fn: (gen: Generation) => Promise<T>): Promise<T> {
  const { gen, release } = ctx.rt.enter();
  return fn(gen).finally(release);
}

/** Deletes the backend object `name` (gone already is fine). */
async function deleteAt(ctx: VirtualContext, gen: Generation, backend: string, name: string): Promise<JobResult> {
  const b = gen.backends.get(backend);
  if (!b) return done;
  if (!ctx.health.healthy(backend)) return { outcome: 'later', error: `backend ${backend} is down` };
  try {
    await onBackend(ctx, b, () => b.store.deleteObject(b.bucket, name));
  } catch (e) {
    if (!(e instanceof S3Error && e.code === 'NoSuchKey')) throw e;
  }
  return done;
}

async function copyJob(ctx: VirtualContext, job: Job): Promise<JobResult> {
  return withGen(ctx, async (gen) => {
    const name = nameOf({ bucket: job.bucket, key: job.key, location: job.location });
    const wanted = (rec: PlacedObject | undefined) => rec?.etag === job.etag ? rec?.copies?.find((c) => c.backend === job.backend && c.location === job.location) : undefined;
    const rec = await ctx.index.get(job.bucket, job.key);
    const mine = wanted(rec);
    if (!mine) return recordHolds(rec, job.backend, name) ? done : deleteAt(ctx, gen, job.backend, name);
    if (!mine.pending) return done;
    if (!gen.backends.has(job.backend)) return deleteAt(ctx, gen, job.backend, name);
    if (!ctx.health.healthy(job.backend)) return { outcome: 'later', error: `backend ${job.backend} is down` };
    const from = readOrder(ctx, gen, rec!).find((c) => ctx.health.healthy(c.backend));
    if (!from) return { outcome: 'later', error: 'no copy to copy from is on a backend that is up' };
    const etag = await writeCopy(ctx, gen, rec!, from, { backend: job.backend, location: job.location! });
    const marked = await ctx.locks.run(lockKey(job.bucket, job.key), () => ctx.index.updateCopies(job.bucket, job.key, { backend: rec!.backend, etag: rec!.etag }, (copies) =>
      copies.map((c): Replica => (c.backend === job.backend && c.location === job.location ? { backend: c.backend, location: c.location, ...(etag !== rec!.etag ? { etag } : {}) } : c))));
    if (marked) ctx.usage.apply(rec, marked);
    if (!wanted(marked)) {
      // Overwritten or deleted while it streamed: this copy belongs to nobody.
      const r = await deleteAt(ctx, gen, job.backend, name);
      return r.outcome === 'done' ? { outcome: 'done', bytes: rec!.size } : r;
    }
    return { outcome: 'done', bytes: rec!.size };
  });
}

async function removeJob(ctx: VirtualContext, job: Job): Promise<JobResult> {
  return withGen(ctx, async (gen) => {
    const name = nameOf({ bucket: job.bucket, key: job.key, location: job.location });
    const ref = { bucket: job.bucket, key: job.key, backend: job.backend, location: job.location };
    let unhold: (() => void) | undefined;
    const go = await ctx.locks.run(lockKey(job.bucket, job.key), async (): Promise<JobResult | undefined> => {
      if (recordHolds(await ctx.index.get(job.bucket, job.key), job.backend, name)) return done;
      if (!gen.backends.has(job.backend)) return done;
      if (!ctx.health.healthy(job.backend)) return { outcome: 'later', error: `backend ${job.backend} is down` };
      // A first copy's usual name that a new write of this process streams to is not the old copy's any more.
      if (!job.location && usualNameBusy(ctx, job.bucket, job.key, job.backend, 'write')) return { outcome: 'later', error: 'a write streams to that name' };
      // New writes keep off the usual name until it is deleted.
      if (!job.location) unhold = holdUsualName(ctx, job.bucket, job.key, job.backend, 'remove');
      return undefined;
    });
    if (go) return go;
    // Deleted after the key's lock is released, as removals.ts does: a backend that stalls
    // before it is marked down holds up no write of the key.
    try {
      return (await deleteRemoved(ctx, gen, ref)) === 'done' ? done : { outcome: 'later', error: `copy on ${job.backend} not removed yet` };
    } finally {
      unhold?.();
    }
  });
}

export interface RepairProgress {
  after: string;
  scanned: number;
  /** Copies found missing or short and queued again. */
  queued: number;
}

const PAGE = 200;

async function exists(ctx: VirtualContext, gen: Generation, rec: PlacedObject, backend: string, location: string | undefined): Promise<boolean> {
  const b = gen.backends.get(backend)!;
  try {
    await onBackend(ctx, b, () => b.store.getObject(b.bucket, nameOf({ bucket: rec.bucket, key: rec.key, location }), { head: true }));
    return true;
  } catch (e) {
    if (e instanceof S3Error && e.code === 'NoSuchKey') return false;
    throw e;
  }
}

/**
 * A missing first copy is written again in place from another copy that is the same object
 * (same ETag), under the key's lock: no commit of the key can drop the record meanwhile, so the
 * name it writes is never left behind as a stray. A multipart object's copies are multipart
 * with the same parts (copies.ts writeCopy), so its first copy is rebuilt part by part, ETag and
 * all; only copies written single-part by an older version cannot rebuild it (reads use them).
 */
async function restoreFirst(ctx: VirtualContext, gen: Generation, rec: PlacedObject): Promise<number> {
  return ctx.locks.run(lockKey(rec.bucket, rec.key), async () => {
    const now = await ctx.index.get(rec.bucket, rec.key);
    if (!now || now.etag !== rec.etag || now.backend !== rec.backend || now.location !== rec.location) return 0;
    if (await exists(ctx, gen, now, now.backend, now.location)) return 0;
    const from = readOrder(ctx, gen, now).find((c) => !c.first && c.etag === now.etag && ctx.health.healthy(c.backend));
    if (!from) return 0;
    await writeCopy(ctx, gen, now, from, { backend: now.backend, location: nameOf(now) });
    ctx.log('info', 'first copy restored', { bucket: now.bucket, key: now.key, backend: now.backend, from: from.backend });
    return 1;
  });
}

/** Puts one record right; how many copies were queued or restored. */
async function repairRecord(ctx: VirtualContext, gen: Generation, rec: PlacedObject, checkBackend: string): Promise<number> {
  const vb = gen.buckets.get(rec.bucket)!;
  const missing = new Set<string>();
  let restored = 0;
  if (checkBackend && gen.backends.has(checkBackend)) {
    for (const c of copiesOf(rec)) {
      if (c.pending || c.backend !== checkBackend) continue;
      if (c.first) restored += await restoreFirst(ctx, gen, rec);
      else if (!(await exists(ctx, gen, rec, c.backend, c.location))) missing.add(c.location!);
    }
  }
  // Copies on backends the bucket no longer has do not count; a missing one is written again in place.
  const kept = copiesOf(rec).filter((c) => c.first || vb.backends.includes(c.backend));
  if (kept.length > vb.config.copies) return restored + await trimRecord(ctx, gen, vb, rec, kept, missing);
  const short = Math.max(0, vb.config.copies - kept.length);
  const gone = (rec.copies ?? []).filter((c) => !vb.backends.includes(c.backend));
  if (!missing.size && !short && !gone.length) return restored;
  const used = new Set(kept.map((c) => c.backend));
  const fresh: Replica[] = copyTargets(ctx, gen, vb, rec.key, rec.size, used).slice(0, short)
    .map((backend) => ({ backend, location: ownName(rec.bucket, rec.key), pending: true }));
  const updated = await ctx.locks.run(lockKey(rec.bucket, rec.key), () => ctx.index.updateCopies(rec.bucket, rec.key, { backend: rec.backend, etag: rec.etag }, (copies) => [
    ...copies.filter((c) => vb.backends.includes(c.backend)).map((c) => (missing.has(c.location) ? { backend: c.backend, location: c.location, pending: true } : c)),
    ...fresh,
  ]));
  if (!updated) return restored;
  ctx.usage.apply(rec, updated);
  const jobs = [...(updated.copies ?? []).filter((c) => c.pending && (missing.has(c.location) || fresh.includes(c)))]
    .map((c) => ({ kind: 'copy' as const, bucket: rec.bucket, key: rec.key, backend: c.backend, location: c.location, etag: rec.etag }));
  const removals = gone.map((c) => ({ kind: 'remove' as const, bucket: rec.bucket, key: rec.key, backend: c.backend, location: c.location }));
  await ctx.index.jobs.enqueue([...jobs, ...removals]);
  return restored + jobs.length;
}

/**
 * More copies than the bucket wants (its `copies` was lowered): the least wanted go — pending or
 * missing ones first, then those on backends marked down, then the strategy's lowest picks; the
 * first copy always stays. A written copy goes only once every copy kept is verified on a
 * backend that is up, so trimming never leaves fewer readable copies than the count. The record
 * drops them first (under the key's lock, only if it is still the same object), then `remove`
 * jobs delete them.
 */
async function trimRecord(ctx: VirtualContext, gen: Generation, vb: VirtualBucketRuntime, rec: PlacedObject, kept: CopyAt[], missing: ReadonlySet<string>): Promise<number> {
  const rank = copyTargets(ctx, gen, vb, rec.key, rec.size, new Set([rec.backend]));
  const worth = (c: CopyAt) => (c.pending || missing.has(c.location!) ? 0 : !ctx.health.healthy(c.backend) ? 1 : 2);
  const others = kept.filter((c) => !c.first).sort((a, b) => worth(a) - worth(b) || rank.indexOf(b.backend) - rank.indexOf(a.backend));
  let drop = others.slice(0, kept.length - vb.config.copies);
  if (drop.some((c) => worth(c) > 0)) {
    const keep = kept.filter((c) => !drop.includes(c));
    const verified = async (c: CopyAt) => !c.pending && ctx.health.healthy(c.backend) && gen.backends.has(c.backend) && await exists(ctx, gen, rec, c.backend, c.location).catch(() => false);
    const ok = (await Promise.all(keep.map(verified))).every(Boolean);
    if (!ok) drop = drop.filter((c) => worth(c) === 0);
  }
  const gone = (rec.copies ?? []).filter((c) => !vb.backends.includes(c.backend));
  if (!drop.length && !gone.length) return 0;
  const dropped = (c: Replica) => !vb.backends.includes(c.backend) || drop.some((d) => d.backend === c.backend && d.location === c.location);
  const updated = await ctx.locks.run(lockKey(rec.bucket, rec.key), () => ctx.index.updateCopies(rec.bucket, rec.key, { backend: rec.backend, etag: rec.etag }, (copies) => copies.filter((c) => !dropped(c))));
  if (!updated) return 0;
  ctx.usage.apply(rec, updated);
  const removed = (rec.copies ?? []).filter(dropped);
  await ctx.index.jobs.enqueue(removed.map((c) => ({ kind: 'remove' as const, bucket: rec.bucket, key: rec.key, backend: c.backend, location: c.location })));
  ctx.log('info', 'surplus copies removed', { bucket: rec.bucket, key: rec.key, backends: removed.map((c) => c.backend) });
  return removed.length;
}

async function repairJob(ctx: VirtualContext, job: Job): Promise<JobResult> {
  return withGen(ctx, async (gen) => {
    const vb = gen.buckets.get(job.bucket);
    if (!vb) return done;
    if (job.backend && !ctx.health.healthy(job.backend)) return { outcome: 'later', error: `backend ${job.backend} is down` };
    const p: RepairProgress = job.progress ? JSON.parse(job.progress) as RepairProgress : { after: '', scanned: 0, queued: 0 };
    const page = await ctx.index.scan(job.bucket, { prefix: '', after: p.after, limit: PAGE });
    for (const rec of page) {
      p.queued += await repairRecord(ctx, gen, rec, job.backend);
      p.scanned++;
      p.after = rec.key;
    }
    if (page.length) ctx.jobs.kick();
    if (page.length < PAGE) {
      ctx.log('info', 'repair finished', { bucket: job.bucket, backend: job.backend || undefined, scanned: p.scanned, queued: p.queued });
      return done;
    }
    return { outcome: 'more', progress: JSON.stringify(p) };
  });
}

export function copyJobHandlers(ctx: VirtualContext): Pick<Record<JobKind, JobHandler>, 'copy' | 'remove' | 'repair' | 'drain' | 'rebalance'> {
  return { copy: (j) => copyJob(ctx, j), remove: (j) => removeJob(ctx, j), repair: (j) => repairJob(ctx, j), ...moveJobHandlers(ctx) };
}

/** Queues a repair of every multi-copy bucket on `backend` ('' : every record's count), unless one is queued already. */
export async function queueRepairs(ctx: VirtualContext, backend: string, buckets?: string[]): Promise<number> {
  const gen = ctx.rt.current();
  // Jobs waiting for this backend need not wait out their backoff.
  if (backend && (await ctx.index.jobs.wake(backend)) > 0) ctx.jobs.kick();
  const queued = new Set(((await ctx.index.jobs.summary()).repairs).filter((r) => !r.progress).map((r) => `${r.bucket}\n${r.backend}`));
  const specs = [...gen.buckets.values()]
    .filter((vb) => (vb.config.copies > 1 || !!buckets?.includes(vb.name)) && (!buckets || buckets.includes(vb.name)) && (!backend || vb.backends.includes(backend)) && !queued.has(`${vb.name}\n${backend}`))
    .map((vb) => ({ kind: 'repair' as const, bucket: vb.name, key: '', backend }));
  if (specs.length) {
    await ctx.index.jobs.enqueue(specs);
    ctx.jobs.kick();
  }
  return specs.length;
}

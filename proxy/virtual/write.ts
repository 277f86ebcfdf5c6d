// Writes: choose a backend, stream the object to it, and acknowledge only once the backend has
// it AND the index has committed the record. The sequence:
//   (key's lock) conditions, backend-side name → intent → backend PUT (no lock) →
//   (key's lock) conditions again, removal of the replaced copy queued, index commit (clears the
//   intent) → the replaced copy removed in the background.
// A DELETE: (key's lock) the copy's removal queued, the record deleted → answer → the copy
// removed in the background, the same way (removals.ts startRemovals).
// A crash anywhere leaves an intent, and recovery (repair.ts) settles the key.
import type { PutInput, PutResult, ObjectMeta } from '../store/types.ts';
import type { PlacedObject } from '../placement/types.ts';
import { S3Error } from '../s3/errors.ts';
import { isBackendFault } from '../backends/s3/errors.ts';
import { backendOf, candidatesOf, lockKey, noBackendMessage, onBackend, vbucketOf, type VirtualContext } from './context.ts';
import type { Generation, VirtualBucketRuntime } from './runtime.ts';
import { reconcileKey } from './repair.ts';
import { claimName, nameOf, sameCopy, type CopyRef } from './location.ts';
import { holdForRemoval, queueRemoval, queueRemovalWithJob, runRemoval, startRemovals, type Removal } from './removals.ts';
import { checkWriteConditions } from '../store/conditions.ts';
import { dropCopyJobs, fanOut, queueCopyRemovals, releaseJobs, settleCopyJobs, writeCopies, type PlannedCopies } from './copies.ts';


/** Picks a backend for `size` bytes, excluding `tried`; throws 503 naming why none qualifies. */
export function chooseBackend(ctx: VirtualContext, gen: Generation, vb: VirtualBucketRuntime, key: string, size: number, tried: ReadonlySet<string>): string {
  const cands = candidatesOf(ctx, gen, vb).map((c) => (tried.has(c.name) ? { ...c, healthy: false } : c));
  const name = vb.balancer.pick(cands, key, size);
  if (!name) throw new S3Error('ServiceUnavailable', noBackendMessage(cands, size), { headers: { 'retry-after': '1' } });
  return name;
}

/**
 * Records a completed backend write (call under the key's lock, `current` read under it).
 * Returns once the index has committed: the client's answer never waits on the backend that held
 * the replaced copy (it may be stalled or down). That copy's removal is queued in the index
 * before the commit (removals.ts) and tried in the background; while its backend is down, or
 * when the removal fails, the sweeper retries.
 */
export async function commitWrite(ctx: VirtualContext, gen: Generation, rec: PlacedObject, current: PlacedObject | undefined, intent: number): Promise<void> {
  // Lazy: they matter only once the record's durable commit below orphans the copy, and that
  // commit carries them to the disk. Where writes called in one turn commit together in call
  // order (sqlite), they go in the record's transaction, one commit instead of three; elsewhere
  // they are committed before the record.
  const lazy = { lazy: true };
  const queued = current && !sameCopy(current, rec) ? queueRemovalWithJob(ctx, current, lazy) : undefined;
  if (!ctx.index.groupsWrites) await queued;
  else queued?.catch(() => {}); // awaited below, with the record
  const others = current?.copies?.length ? await queueCopyRemovals(ctx, current) : [];
  const [prev, replaces] = await Promise.all([ctx.index.put(rec, intent), queued]);
  ctx.usage.apply(prev, rec);
  const removals = replaces ? [replaces] : [];
  // Another replica committed in between: the copy actually replaced goes too.
  if (prev && !sameCopy(prev, rec) && !(current && sameCopy(prev, current))) {
    removals.push(await queueRemovalWithJob(ctx, prev));
    if (prev.copies?.length) others.push(...await queueCopyRemovals(ctx, prev));
  }
  if (others.length) await releaseJobs(ctx, others);
  await startRemovals(ctx, gen, removals);
}

function bodyUnread(e: unknown): boolean {
  return (e as { bodyUnread?: boolean }).bodyUnread === true;
}

export interface PutHooks {
  /** Runs under the key's lock right before the commit; throwing refuses the write (origin/copier.ts: a key deleted meanwhile). */
  beforeCommit?: () => Promise<void>;
}

/**
 * Writers of one key do not wait on each other's bodies: the key's lock is held only to check the
 * conditions and pick the backend-side name (location.ts: a name no other write is streaming to),
 * and again for the index commit, where the conditions are checked once more. The last commit
 * wins, as in S3; the copy it replaced is removed in the background.
 */
export async function putObject(ctx: VirtualContext, bucket: string, key: string, input: PutInput, hooks: PutHooks = {}): Promise<PutResult> {
  const { gen, release } = ctx.rt.enter();
  try {
    const vb = vbucketOf(gen, bucket);
    checkWriteConditions((await ctx.index.get(bucket, key))?.etag, input.conditions);
    const tried = new Set<string>();
    for (;;) {
      const name = chooseBackend(ctx, gen, vb, key, input.size, tried);
      tried.add(name);
      try {
        return await putTo(ctx, gen, name, bucket, key, input, hooks);
      } catch (e) {
        // Refused before a byte of the body was read: the same body can go to another backend.
        if (isBackendFault(e) && bodyUnread(e)) continue;
        throw e;
      }
    }
  } finally {
    release();
  }
}

async function putTo(ctx: VirtualContext, gen: Generation, name: string, bucket: string, key: string, input: PutInput, hooks: PutHooks): Promise<PutResult> {
  const b = backendOf(ctx, gen, name);
  const lock = lockKey(bucket, key);
  const claim = await ctx.locks.run(lock, async () => {
    const current = await ctx.index.get(bucket, key);
    checkWriteConditions(current?.etag, input.conditions);
    // Keys sort before every longer key with them as a prefix: the first upload listed tells.
    const [upload] = await ctx.index.listUploads(bucket, { prefix: key, keyMarker: '', uploadIdMarker: '', limit: 1 });
    return claimName(ctx, current, bucket, key, name, upload?.key === key);
  });
  const unreserve = ctx.usage.reserve(name, input.size);
  let keepClaim = false;
  let intent: number | undefined;
  try {
    // Lazy: in the WAL before a byte goes to the backend (recovery after kill -9 finds the copy);
    // after a power cut an uncommitted copy is at worst an orphan for gc. The record's commit, or
    // syncIntent on an unknown outcome, makes it durable.
    intent = await ctx.index.beginIntent({ owner: ctx.replica, bucket, key, backend: name, op: 'put', location: claim.location }, { lazy: true });
    ctx.running.add(intent);
    const target = { bucket, key, backend: name, location: claim.location };
    const vb = vbucketOf(gen, bucket);
    const fan = await fanOut(ctx, gen, vb, bucket, key, input, name);
    let result: PutResult;
    try {
      result = await onBackend(ctx, b, () => b.store.putObject(b.bucket, nameOf(target), { ...input, body: fan?.body ?? input.body, conditions: undefined }));
    } catch (e) {
      if (fan) {
        await fan.abort();
        // Bytes went to the other copies: the body cannot go to another backend.
        if (fan.started && e instanceof Error) Object.assign(e, { bodyUnread: false });
      }
      // A definite refusal (bad body, 4xx) changed nothing; an unknown outcome is settled now if possible.
      if (!isBackendFault(e) || bodyUnread(e)) await ctx.index.endIntent(intent);
      else {
        // The client is told the write failed: its intent, the refusal of a late copy, must outlast a power cut.
        await ctx.index.syncIntent(intent).catch((err: Error) => ctx.log('warn', 'write intent not synced', { bucket, key, error: err.message }));
        // Until it is settled, a late copy may still land on the usual name: keep others off it.
        keepClaim = true;
        void settleLater(ctx, gen, { id: intent, ...target }).finally(claim.release);
      }
      throw e;
    }
    const meta: ObjectMeta = {
      key, size: result.size, etag: result.etag, lastModified: result.lastModified,
      checksums: { ...input.checksums, ...result.checksums }, ...input.headers,
    };
    const rec: PlacedObject = { ...meta, bucket, backend: name, ...(claim.location ? { location: claim.location } : {}) };
    const id = intent;
    let planned: PlannedCopies | undefined;
    if (vb.config.copies > 1) {
      try {
        planned = await writeCopies(ctx, gen, vb, rec, await fan?.settle());
      } catch (e) {
        // Fewer copies than the bucket's write quorum: the client is told the write failed, so
        // its first copy goes (the jobs of the others remove them).
        const removal = { id: await queueRemoval(ctx, target), ...target };
        await ctx.index.endIntent(id);
        await startRemovals(ctx, gen, [removal]);
        throw e;
      }
      if (planned.copies.length) rec.copies = planned.copies;
    }
    await ctx.locks.run(lock, async () => {
      const current = await ctx.index.get(bucket, key);
      try {
        checkWriteConditions(current?.etag, input.conditions);
        await hooks.beforeCommit?.();
      } catch (e) {
        // Another write won while this body streamed; S3 checks conditions at completion too.
        const removal = { id: await queueRemoval(ctx, target), ...target };
        await ctx.index.endIntent(id);
        await startRemovals(ctx, gen, [removal]);
        await dropCopyJobs(ctx, planned);
        throw e;
      }
      await commitWrite(ctx, gen, rec, current, id);
    });
    await settleCopyJobs(ctx, planned);
    return { ...result, checksums: meta.checksums };
  } finally {
    if (intent !== undefined) ctx.running.delete(intent);
    if (!keepClaim) claim.release();
    unreserve();
  }
}

/**
 * After a write with an unknown outcome (the client is told it failed): its copy must never be
 * adopted, even when it lands late. A copy under a name of its own is removed (its intent stays
 * as the refusal); for one at `<bucket>/<key>` a 'refused' intent replaces the write's. Either is
 * deleted again until REFUSED_GRACE_MS after the backend is back, and keeps new writes, read
 * repair and reindex off that name meanwhile.
 */
async function settleLater(ctx: VirtualContext, gen: Generation, w: { id: number } & CopyRef): Promise<void> {
  ctx.running.delete(w.id);
  let r: Removal = { ...w, refusedAt: new Date() };
  try {
    if (!w.location) {
      r = { ...r, id: await queueRemoval(ctx, w, 'refused') };
      await ctx.index.endIntent(w.id);
    }
    holdForRemoval(ctx, r);
    await new Promise((res) => setImmediate(res));
    await runRemoval(ctx, gen, r);
  } catch { /* the intent stays for the sweeper */ }
}

export async function deleteObject(ctx: VirtualContext, bucket: string, key: string): Promise<void> {
  const { gen, release } = ctx.rt.enter();
  try {
    vbucketOf(gen, bucket);
    await ctx.locks.run(lockKey(bucket, key), async () => {
      // First the tombstone: a reader sees the record or the tombstone, never the origin's copy.
      await ctx.origins?.hide(bucket, key);
      const rec = await ctx.index.get(bucket, key);
      if (!rec) {
        // Nothing indexed; a copy the index forgot would come back through read repair, so
        // when read repair is on, make sure no backend has one.
        if (gen.config.readRepair) await reconcileKey(ctx, gen, bucket, key, 'delete');
        return;
      }
      // The copy's removal (intent and job) is queued with the record's, before the record goes:
      // then the answer, and the backend's DELETE in the background as for an overwrite's old
      // copy. A backend that stalls before it is marked down holds up neither this answer nor the
      // key's next writes; until the removal is done, read repair adopts nothing there.
      const removal: Removal = await queueRemovalWithJob(ctx, rec);
      const others = await queueCopyRemovals(ctx, rec);
      const gone = await ctx.index.delete(bucket, key, { only: { backend: rec.backend, etag: rec.etag } });
      if (gone) ctx.usage.apply(gone, undefined);
      await releaseJobs(ctx, others);
      await startRemovals(ctx, gen, [removal]);
    });
  } finally {
    release();
  }
}

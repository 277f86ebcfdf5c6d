// Writes: choose a backend, stream the object to it, and acknowledge only once the backend has
// it AND the index has committed the record. The sequence, per key and under its lock:
//   intent → backend PUT → index commit (returns the replaced record) → old copy deleted when it
//   lived on another backend → intent cleared.
// A crash anywhere leaves the intent, and recovery (repair.ts) settles the key.
import type { PutInput, PutResult, ObjectMeta } from '../store/types.ts';
import type { PlacedObject } from '../placement/types.ts';
import { S3Error } from '../s3/errors.ts';
import { isBackendFault } from '../backends/s3/errors.ts';
import { backendKey, backendOf, candidatesOf, lockKey, noBackendMessage, onBackend, vbucketOf, type VirtualContext } from './context.ts';
import type { Generation, VirtualBucketRuntime } from './runtime.ts';
import { reconcileKey } from './repair.ts';
import { checkWriteConditions } from '../store/conditions.ts';


/** Picks a backend for `size` bytes, excluding `tried`; throws 503 naming why none qualifies. */
export function chooseBackend(ctx: VirtualContext, gen: Generation, vb: VirtualBucketRuntime, key: string, size: number, tried: ReadonlySet<string>): string {
  const cands = candidatesOf(ctx, gen, vb).map((c) => (tried.has(c.name) ? { ...c, healthy: false } : c));
  const name = vb.balancer.pick(cands, key, size);
  if (!name) throw new S3Error('ServiceUnavailable', noBackendMessage(cands, size), { headers: { 'retry-after': '1' } });
  return name;
}

/**
 * Records a completed backend write. Returns once the index has committed: the client's answer
 * never waits on the backend that held the replaced copy (it may be stalled or down). That copy
 * is removed in the background, under the key's lock; while its backend is down, or when the
 * removal fails, the intent stays and the sweeper retries.
 */
export async function commitWrite(ctx: VirtualContext, gen: Generation, rec: PlacedObject, current: PlacedObject | undefined, intent: number): Promise<void> {
  // When nothing lives elsewhere, the commit clears the intent itself (one transaction fewer).
  const samePlace = !current || current.backend === rec.backend;
  const prev = await ctx.index.put(rec, samePlace ? intent : undefined);
  ctx.usage.apply(prev, rec);
  if (samePlace && (!prev || prev.backend === rec.backend)) return;
  if (!prev || prev.backend === rec.backend) {
    await ctx.index.endIntent(intent);
    return;
  }
  if (!ctx.health.healthy(prev.backend)) {
    ctx.log('info', 'old copy is on a backend marked down; the sweeper removes it', { bucket: rec.bucket, key: rec.key, backend: prev.backend });
    return;
  }
  void removeOldCopy(ctx, gen, prev.backend, rec, intent);
}

/** Deletes the replaced copy, unless a later write has put the key back on that backend meanwhile. */
async function removeOldCopy(ctx: VirtualContext, gen: Generation, backend: string, rec: PlacedObject, intent: number): Promise<void> {
  try {
    await ctx.locks.run(lockKey(rec.bucket, rec.key), async () => {
      ctx.running.add(intent);
      const now = await ctx.index.get(rec.bucket, rec.key);
      const old = gen.backends.get(backend);
      if (old && now?.backend !== backend) await onBackend(ctx, old, () => old.store.deleteObject(old.bucket, backendKey(rec.bucket, rec.key)));
      await ctx.index.endIntent(intent);
    });
  } catch (e) {
    ctx.log('warn', 'old copy not deleted yet; the sweeper retries', { bucket: rec.bucket, key: rec.key, backend, error: (e as Error).message });
  } finally {
    ctx.running.delete(intent);
  }
}

function bodyUnread(e: unknown): boolean {
  return (e as { bodyUnread?: boolean }).bodyUnread === true;
}

export async function putObject(ctx: VirtualContext, bucket: string, key: string, input: PutInput): Promise<PutResult> {
  const { gen, release } = ctx.rt.enter();
  try {
    const vb = vbucketOf(gen, bucket);
    return await ctx.locks.run(lockKey(bucket, key), async () => {
      const current = await ctx.index.get(bucket, key);
      checkWriteConditions(current?.etag, input.conditions);
      const tried = new Set<string>();
      for (;;) {
        const name = chooseBackend(ctx, gen, vb, key, input.size, tried);
        tried.add(name);
        try {
          return await putTo(ctx, gen, name, bucket, key, input, current);
        } catch (e) {
          // Refused before a byte of the body was read: the same body can go to another backend.
          if (isBackendFault(e) && bodyUnread(e)) continue;
          throw e;
        }
      }
    });
  } finally {
    release();
  }
}

async function putTo(ctx: VirtualContext, gen: Generation, name: string, bucket: string, key: string, input: PutInput, current: PlacedObject | undefined): Promise<PutResult> {
  const b = backendOf(ctx, gen, name);
  const unreserve = ctx.usage.reserve(name, input.size);
  const intent = await ctx.index.beginIntent({ owner: ctx.replica, bucket, key, backend: name, op: 'put' });
  ctx.running.add(intent);
  try {
    let result: PutResult;
    try {
      result = await onBackend(ctx, b, () => b.store.putObject(b.bucket, backendKey(bucket, key), { ...input, conditions: undefined }));
    } catch (e) {
      // A definite refusal (bad body, 4xx) changed nothing; an unknown outcome is settled now if possible.
      if (!isBackendFault(e) || bodyUnread(e)) await ctx.index.endIntent(intent);
      else void settleLater(ctx, gen, bucket, key, intent);
      throw e;
    }
    const meta: ObjectMeta = {
      key, size: result.size, etag: result.etag, lastModified: result.lastModified,
      checksums: { ...input.checksums, ...result.checksums }, ...input.headers,
    };
    await commitWrite(ctx, gen, { ...meta, bucket, backend: name }, current, intent);
    return { ...result, checksums: meta.checksums };
  } finally {
    ctx.running.delete(intent);
    unreserve();
  }
}

/** After a write with an unknown outcome: reconcile the key once the lock is free. */
async function settleLater(ctx: VirtualContext, gen: Generation, bucket: string, key: string, intent: number): Promise<void> {
  ctx.running.delete(intent);
  // The client is told the write failed: a copy that reached the backend anyway is removed.
  ctx.refused.add(intent);
  await new Promise((r) => setImmediate(r));
  try {
    const outcome = await ctx.locks.run(lockKey(bucket, key), () => reconcileKey(ctx, gen, bucket, key, 'refused'));
    if (outcome === 'done') {
      await ctx.index.endIntent(intent);
      ctx.refused.delete(intent);
    }
  } catch { /* the intent stays for the sweeper */ }
}

export async function deleteObject(ctx: VirtualContext, bucket: string, key: string): Promise<void> {
  const { gen, release } = ctx.rt.enter();
  try {
    vbucketOf(gen, bucket);
    await ctx.locks.run(lockKey(bucket, key), async () => {
      const rec = await ctx.index.get(bucket, key);
      if (!rec) {
        // Nothing indexed; a copy the index forgot would come back through read repair, so
        // when read repair is on, make sure no backend has one.
        if (gen.config.readRepair) await reconcileKey(ctx, gen, bucket, key, 'delete');
        return;
      }
      const b = backendOf(ctx, gen, rec.backend);
      const intent = await ctx.index.beginIntent({ owner: ctx.replica, bucket, key, backend: rec.backend, op: 'delete' });
      ctx.running.add(intent);
      try {
        await onBackend(ctx, b, () => b.store.deleteObject(b.bucket, backendKey(bucket, key)));
        const gone = await ctx.index.delete(bucket, key, { intent });
        if (gone) ctx.usage.apply(gone, undefined);
      } finally {
        ctx.running.delete(intent);
      }
    });
  } finally {
    release();
  }
}

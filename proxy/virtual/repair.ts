// Making the index and the backends agree about one key: used when a read misses the index
// (the object may exist on a backend the index forgot), after a write whose outcome is unknown,
// and at start-up for every write intent a crash left behind. The rule: the copy the index
// points at wins if it exists; otherwise the newest copy found; every other copy is deleted;
// no copy, no record.
import type { PlacedObject } from '../placement/types.ts';
import type { Intent } from '../placement/types.ts';
import type { ObjectMeta } from '../store/types.ts';
import { S3Error } from '../s3/errors.ts';
import { backendKey, lockKey, onBackend, type VirtualContext } from './context.ts';
import { usualNameBusy } from './location.ts';
import { removalOf, runRemoval } from './removals.ts';
import type { Generation } from './runtime.ts';

export interface Copy {
  backend: string;
  meta: ObjectMeta;
  /** Its backend-side name when not `<bucket>/<key>` (location.ts). */
  location?: string;
}

export function recordOf(bucket: string, key: string, backend: string, meta: ObjectMeta, location?: string): PlacedObject {
  return { ...meta, key, bucket, backend, ...(location ? { location } : {}) };
}

/** Asks every backend of the virtual bucket for the key; `unreachable` lists those that could not answer. */
/**
 * Asks every backend of the virtual bucket for the key at `<bucket>/<key>` (and `own`, a record's
 * name of its own, on its backend); `unreachable` lists those that could not answer. A usual name
 * a write of this process is streaming to, or whose removal is pending, is no copy to judge.
 */
export async function findCopies(ctx: VirtualContext, gen: Generation, bucket: string, key: string, own?: PlacedObject): Promise<{ copies: Copy[]; unreachable: string[] }> {
  const vb = gen.buckets.get(bucket);
  const copies: Copy[] = [];
  const unreachable: string[] = [];
  const ask = async (name: string, location?: string) => {
    const b = gen.backends.get(name);
    if (!b) return;
    if (!ctx.health.healthy(name)) { unreachable.push(name); return; }
    try {
      const r = await onBackend(ctx, b, () => b.store.getObject(b.bucket, location ?? backendKey(bucket, key), { head: true }));
      copies.push({ backend: name, meta: { ...r.meta, key }, ...(location ? { location } : {}) });
    } catch (e) {
      if (!(e instanceof S3Error && e.code === 'NoSuchKey')) unreachable.push(name);
    }
  };
  await Promise.all([
    ...(vb?.backends ?? []).filter((name) => !usualNameBusy(ctx, bucket, key, name)).map((name) => ask(name)),
    ...(own?.location ? [ask(own.backend, own.location)] : []),
  ]);
  return { copies, unreachable };
}

function newest(copies: Copy[]): Copy | undefined {
  return [...copies].sort((a, b) => b.meta.lastModified.getTime() - a.meta.lastModified.getTime() || (a.backend < b.backend ? -1 : 1))[0];
}

async function deleteCopy(ctx: VirtualContext, gen: Generation, c: Copy, bucket: string, key: string): Promise<void> {
  const b = gen.backends.get(c.backend);
  if (!b) return;
  await onBackend(ctx, b, () => b.store.deleteObject(b.bucket, c.location ?? backendKey(bucket, key)));
}

/**
 * Reconciles one key (call under the key's lock). 'postponed' when a backend that might hold a
 * copy cannot be asked now; 'done' when index and backends agree. 'refused' settles a write the
 * client was told failed: only the indexed copy may stay, any other copy is removed, never adopted.
 */
export async function reconcileKey(ctx: VirtualContext, gen: Generation, bucket: string, key: string, op: 'put' | 'delete' | 'read' | 'refused'): Promise<'done' | 'postponed'> {
  if (!gen.buckets.has(bucket)) return 'done';
  const rec = await ctx.index.get(bucket, key);
  const found = await findCopies(ctx, gen, bucket, key, rec);
  if (found.unreachable.length) return 'postponed';
  // A copy a queued `remove` job will delete (of a delete or an overwrite, by any replica) is
  // never adopted, nor deleted here: the job does that.
  const doomed = await ctx.index.jobs.ofKey('remove', bucket, key);
  const copies = found.copies.filter((c) => (rec && c.backend === rec.backend && c.location === rec.location) || !doomed.some((j) => j.backend === c.backend && j.location === c.location));
  let keep = rec ? copies.find((c) => c.backend === rec.backend && c.location === rec.location) : undefined;
  // The first copy is missing but others hold the object: the record stays (reads use the
  // others; a repair writes the missing one again), and nothing found is adopted over it.
  if (!keep && rec?.copies?.some((c) => !c.pending)) return 'done';
  // An unfinished delete with no record left: finish deleting; anything else adopts the newest copy.
  if (!keep && op !== 'refused' && !(op === 'delete' && !rec)) keep = newest(copies);
  if (keep) {
    if (!rec || rec.backend !== keep.backend || rec.location !== keep.location || rec.etag !== keep.meta.etag || rec.size !== keep.meta.size) {
      const next = recordOf(bucket, key, keep.backend, keep.meta, keep.location);
      const prev = await ctx.index.put(next);
      ctx.usage.apply(prev, next);
      ctx.log('info', 'index repaired', { bucket, key, backend: keep.backend, was: rec ? { backend: rec.backend, etag: rec.etag } : null });
    }
  } else if (rec) {
    const gone = await ctx.index.delete(bucket, key, { only: { backend: rec.backend, etag: rec.etag } });
    if (gone) ctx.usage.apply(gone, undefined);
    ctx.log('info', 'index record without an object removed', { bucket, key, backend: rec.backend });
  }
  for (const c of copies) {
    if (c === keep) continue;
    await deleteCopy(ctx, gen, c, bucket, key);
    ctx.log('info', 'stray copy deleted', { bucket, key, backend: c.backend });
  }
  return 'done';
}

/** Settles this replica's leftover intents (none of them still running); returns how many remain. */
export async function recoverIntents(ctx: VirtualContext, gen: Generation): Promise<number> {
  let left = 0;
  const intents: Intent[] = (await ctx.index.intents(ctx.replica)).filter((i) => !ctx.running.has(i.id));
  for (const i of intents) {
    // A queued removal, or a write under a name of its own that never committed: that one copy goes.
    if (i.op === 'remove' || i.op === 'refused' || i.location) {
      if ((await runRemoval(ctx, gen, removalOf(i))) === 'postponed') left++;
      continue;
    }
    const outcome = await ctx.locks.run(lockKey(i.bucket, i.key), async () => {
      if (ctx.running.has(i.id)) return 'postponed' as const;
      try {
        return await reconcileKey(ctx, gen, i.bucket, i.key, i.op === 'delete' ? 'delete' : 'put');
      } catch (e) {
        ctx.log('warn', 'intent recovery failed', { bucket: i.bucket, key: i.key, error: (e as Error).message });
        return 'postponed' as const;
      }
    });
    if (outcome === 'done') await ctx.index.endIntent(i.id);
    else left++;
  }
  return left;
}

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
import type { Generation } from './runtime.ts';

export interface Copy {
  backend: string;
  meta: ObjectMeta;
}

export function recordOf(bucket: string, key: string, backend: string, meta: ObjectMeta): PlacedObject {
  return { ...meta, key, bucket, backend };
}

/** Asks every backend of the virtual bucket for the key; `unreachable` lists those that could not answer. */
export async function findCopies(ctx: VirtualContext, gen: Generation, bucket: string, key: string): Promise<{ copies: Copy[]; unreachable: string[] }> {
  const vb = gen.buckets.get(bucket);
  const copies: Copy[] = [];
  const unreachable: string[] = [];
  await Promise.all((vb?.backends ?? []).map(async (name) => {
    const b = gen.backends.get(name)!;
    if (!ctx.health.healthy(name)) { unreachable.push(name); return; }
    try {
      const r = await onBackend(ctx, b, () => b.store.getObject(b.bucket, backendKey(bucket, key), { head: true }));
      copies.push({ backend: name, meta: { ...r.meta, key } });
    } catch (e) {
      if (!(e instanceof S3Error && e.code === 'NoSuchKey')) unreachable.push(name);
    }
  }));
  return { copies, unreachable };
}

function newest(copies: Copy[]): Copy | undefined {
  return [...copies].sort((a, b) => b.meta.lastModified.getTime() - a.meta.lastModified.getTime() || (a.backend < b.backend ? -1 : 1))[0];
}

async function deleteCopy(ctx: VirtualContext, gen: Generation, backend: string, bucket: string, key: string): Promise<void> {
  const b = gen.backends.get(backend);
  if (!b) return;
  await onBackend(ctx, b, () => b.store.deleteObject(b.bucket, backendKey(bucket, key)));
}

/**
 * Reconciles one key (call under the key's lock). 'postponed' when a backend that might hold a
 * copy cannot be asked now; 'done' when index and backends agree. 'refused' settles a write the
 * client was told failed: only the indexed copy may stay, any other copy is removed, never adopted.
 */
export async function reconcileKey(ctx: VirtualContext, gen: Generation, bucket: string, key: string, op: 'put' | 'delete' | 'read' | 'refused'): Promise<'done' | 'postponed'> {
  if (!gen.buckets.has(bucket)) return 'done';
  const { copies, unreachable } = await findCopies(ctx, gen, bucket, key);
  if (unreachable.length) return 'postponed';
  const rec = await ctx.index.get(bucket, key);
  let keep = rec ? copies.find((c) => c.backend === rec.backend) : undefined;
  // An unfinished delete with no record left: finish deleting; anything else adopts the newest copy.
  if (!keep && op !== 'refused' && !(op === 'delete' && !rec)) keep = newest(copies);
  if (keep) {
    if (!rec || rec.backend !== keep.backend || rec.etag !== keep.meta.etag || rec.size !== keep.meta.size) {
      const next = recordOf(bucket, key, keep.backend, keep.meta);
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
    await deleteCopy(ctx, gen, c.backend, bucket, key);
    ctx.log('info', 'stray copy deleted', { bucket, key, backend: c.backend });
  }
  return 'done';
}

/** Settles this replica's leftover intents (none of them still running); returns how many remain. */
export async function recoverIntents(ctx: VirtualContext, gen: Generation): Promise<number> {
  let left = 0;
  const intents: Intent[] = (await ctx.index.intents(ctx.replica)).filter((i) => !ctx.running.has(i.id));
  for (const i of intents) {
    const outcome = await ctx.locks.run(lockKey(i.bucket, i.key), async () => {
      if (ctx.running.has(i.id)) return 'postponed' as const;
      try {
        return await reconcileKey(ctx, gen, i.bucket, i.key, ctx.refused.has(i.id) ? 'refused' : i.op);
      } catch (e) {
        ctx.log('warn', 'intent recovery failed', { bucket: i.bucket, key: i.key, error: (e as Error).message });
        return 'postponed' as const;
      }
    });
    if (outcome === 'done') {
      await ctx.index.endIntent(i.id);
      ctx.refused.delete(i.id);
    } else left++;
  }
  return left;
}

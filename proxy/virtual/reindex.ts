// `reindex`: rebuild the index from what the backends hold. For each virtual bucket it walks
// every backend's listing under `<bucket>/` and the index's records in one merge by key (all in
// UTF-8 byte order, so memory stays flat however many objects there are):
//   - a key on no backend loses its record (unless a backend could not be listed);
//   - a key the index lacks, or records differently, is (re)recorded from a HEAD of the copy;
//   - a key on several backends keeps the indexed copy (else the newest); the others are
//     reported as strays, and deleted when `removeStrays` is set.
// Then each backend's copies under names of their own (`.floodgate/w/<bucket>/…`, location.ts):
// one the index points at stays; one whose removal or write is still pending is left to it; one
// of a key the index lacks is recorded (a lost index); any other is a stray.
import type { ObjectMeta } from '../store/types.ts';
import type { PlacedObject } from '../placement/types.ts';
import { S3Error } from '../s3/errors.ts';
import { backendKey, onBackend, type VirtualContext } from './context.ts';
import { OWN_NAMES, keyOfOwnName, nameOf, sameCopy } from './location.ts';
import { recordOf } from './repair.ts';
import { recordHolds } from './copies.ts';
import type { Generation } from './runtime.ts';

export interface ReindexReport {
  buckets: number;
  scanned: number;
  added: number;
  updated: number;
  removed: number;
  strays: { bucket: string; key: string; backend: string; removed: boolean }[];
  /** Backends whose listing failed: records on them were left alone. */
  unreachable: string[];
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
const PAGE = 1000;

/** Pages through a sorted listing. */
async function* paged<T extends { key: string }>(page: (after: string) => Promise<T[]>): AsyncGenerator<T> {
  for (let after = ''; ;) {
    const items = await page(after);
    yield* items;
    if (items.length < PAGE) return;
    after = items.at(-1)!.key;
  }
}

interface Head<T> {
  it: AsyncGenerator<T>;
  cur: T | undefined;
}

async function advance<T>(h: Head<T>): Promise<void> {
  const n = await h.it.next();
  h.cur = n.done ? undefined : n.value;
}

export async function reindex(ctx: VirtualContext, opts: { removeStrays?: boolean } = {}): Promise<ReindexReport> {
  const { gen, release } = ctx.rt.enter();
  const report: ReindexReport = { buckets: 0, scanned: 0, added: 0, updated: 0, removed: 0, strays: [], unreachable: [] };
  try {
    // Copies whose removal (or refusal) is queued are neither adopted nor judged here.
    const pending = new Set((await ctx.index.intents(ctx.replica))
      .filter((i) => i.location || i.op === 'remove' || i.op === 'refused').map((i) => `${i.backend}\n${nameOf(i)}`));
    for (const vb of gen.buckets.values()) {
      report.buckets++;
      await reindexBucket(ctx, gen, vb.name, vb.backends, pending, opts, report);
      for (const name of vb.backends) await reindexOwnNames(ctx, gen, vb.name, name, pending, opts, report);
    }
    return report;
  } finally {
    release();
  }
}

async function reindexBucket(ctx: VirtualContext, gen: Generation, bucket: string, backends: string[], pending: Set<string>, opts: { removeStrays?: boolean }, report: ReindexReport): Promise<void> {
  const prefix = backendKey(bucket, '');
  const failed = new Set<string>();
  const lists: (Head<ObjectMeta> & { backend: string })[] = backends.map((name) => {
    const b = gen.backends.get(name)!;
    const it = paged(async (after) => {
      try {
        const page = await onBackend(ctx, b, () => b.store.scan(b.bucket, { prefix, after: after ? prefix + after : '', limit: PAGE }));
        return page.map((m) => ({ ...m, key: m.key.slice(prefix.length) }));
      } catch (e) {
        failed.add(name);
        if (!report.unreachable.includes(name)) report.unreachable.push(name);
        ctx.log('warn', 'reindex: backend listing failed', { backend: name, bucket, error: (e as Error).message });
        return [];
      }
    });
    return { it, cur: undefined, backend: name };
  });
  const idx: Head<PlacedObject> = { it: paged((after) => ctx.index.scan(bucket, { prefix: '', after, limit: PAGE })), cur: undefined };
  await Promise.all([...lists.map(advance), advance(idx)]);

  for (;;) {
    const keys = [...lists.map((l) => l.cur?.key), idx.cur?.key].filter((k): k is string => k !== undefined);
    if (!keys.length) return;
    const key = keys.sort(byteOrder)[0]!;
    const copies: { backend: string; meta: ObjectMeta }[] = [];
    const indexed = idx.cur?.key === key ? idx.cur : undefined;
    for (const l of lists) {
      if (l.cur?.key === key) {
        // A copy whose removal is queued is no candidate, unless the index points at it again.
        const mine = indexed?.backend === l.backend && !indexed.location;
        if (mine || !pending.has(`${l.backend}\n${prefix}${key}`)) copies.push({ backend: l.backend, meta: l.cur });
        await advance(l);
      }
    }
    const rec = indexed;
    if (rec) await advance(idx);
    report.scanned++;
    await settle(ctx, gen, bucket, key, rec, copies, failed, opts, report);
  }
}

async function settle(
  ctx: VirtualContext, gen: Generation, bucket: string, key: string, rec: PlacedObject | undefined,
  copies: { backend: string; meta: ObjectMeta }[], failed: Set<string>, opts: { removeStrays?: boolean }, report: ReindexReport,
): Promise<void> {
  if (rec?.location) {
    // Its copy has a name of its own: the listing of `<bucket>/` does not show it, ask for it.
    if (failed.has(rec.backend) || await ownCopyExists(ctx, gen, rec)) {
      await reportStrays(ctx, gen, bucket, key, copies, opts, report);
      return;
    }
    if (!copies.length) {
      const gone = await ctx.index.delete(bucket, key, { only: { backend: rec.backend, etag: rec.etag } });
      if (gone) { ctx.usage.apply(gone, undefined); report.removed++; }
      return;
    }
  }
  if (!copies.length) {
    if (rec && !failed.has(rec.backend)) {
      const gone = await ctx.index.delete(bucket, key, { only: { backend: rec.backend, etag: rec.etag } });
      if (gone) { ctx.usage.apply(gone, undefined); report.removed++; }
    }
    return;
  }
  const keep = (rec && !rec.location ? copies.find((c) => c.backend === rec.backend) : undefined)
    ?? [...copies].sort((a, b) => b.meta.lastModified.getTime() - a.meta.lastModified.getTime())[0]!;
  if (!rec || rec.location || rec.backend !== keep.backend || rec.etag !== keep.meta.etag || rec.size !== keep.meta.size) {
    const b = gen.backends.get(keep.backend)!;
    // A listing has no content type or metadata: read them from the object itself.
    const head = await onBackend(ctx, b, () => b.store.getObject(b.bucket, backendKey(bucket, key), { head: true }));
    const next = recordOf(bucket, key, keep.backend, { ...head.meta, key });
    const prev = await ctx.index.put(next);
    ctx.usage.apply(prev, next);
    if (rec) report.updated++;
    else report.added++;
  }
  await reportStrays(ctx, gen, bucket, key, copies.filter((c) => c !== keep), opts, report);
}

async function reportStrays(
  ctx: VirtualContext, gen: Generation, bucket: string, key: string, strays: { backend: string; location?: string }[],
  opts: { removeStrays?: boolean }, report: ReindexReport,
): Promise<void> {
  for (const c of strays) {
    let removed = false;
    if (opts.removeStrays) {
      const b = gen.backends.get(c.backend)!;
      await onBackend(ctx, b, () => b.store.deleteObject(b.bucket, c.location ?? backendKey(bucket, key)));
      removed = true;
    }
    if (report.strays.length < 1000) report.strays.push({ bucket, key, backend: c.backend, removed });
  }
}

async function ownCopyExists(ctx: VirtualContext, gen: Generation, rec: PlacedObject): Promise<boolean> {
  const b = gen.backends.get(rec.backend);
  if (!b) return false;
  try {
    await onBackend(ctx, b, () => b.store.getObject(b.bucket, nameOf(rec), { head: true }));
    return true;
  } catch (e) {
    if (e instanceof S3Error && e.code === 'NoSuchKey') return false;
    throw e;
  }
}

async function reindexOwnNames(
  ctx: VirtualContext, gen: Generation, bucket: string, backend: string, pending: Set<string>, opts: { removeStrays?: boolean }, report: ReindexReport,
): Promise<void> {
  const b = gen.backends.get(backend)!;
  const prefix = `${OWN_NAMES}${bucket}/`;
  const names = paged(async (after) => {
    try {
      return await onBackend(ctx, b, () => b.store.scan(b.bucket, { prefix, after, limit: PAGE }));
    } catch (e) {
      if (!report.unreachable.includes(backend)) report.unreachable.push(backend);
      ctx.log('warn', 'reindex: backend listing failed', { backend, bucket, error: (e as Error).message });
      return [];
    }
  });
  for await (const m of names) {
    const key = keyOfOwnName(bucket, m.key);
    if (key === undefined || pending.has(`${backend}\n${m.key}`)) continue;
    const copy = { bucket, key, backend, location: m.key };
    const rec = await ctx.index.get(bucket, key);
    if (sameCopy(rec, copy) || recordHolds(rec, backend, m.key)) continue;
    report.scanned++;
    if (!rec) {
      const head = await onBackend(ctx, b, () => b.store.getObject(b.bucket, m.key, { head: true }));
      const next = recordOf(bucket, key, backend, { ...head.meta, key }, m.key);
      const prev = await ctx.index.put(next);
      ctx.usage.apply(prev, next);
      report.added++;
      continue;
    }
    await reportStrays(ctx, gen, bucket, key, [copy], opts, report);
  }
}

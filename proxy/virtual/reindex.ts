// `reindex`: rebuild the index from what the backends hold. For each virtual bucket it walks
// every backend's listing under `<bucket>/` and the index's records in one merge by key (all in
// UTF-8 byte order, so memory stays flat however many objects there are):
//   - a key on no backend loses its record (unless a backend could not be listed);
//   - a key the index lacks, or records differently, is (re)recorded from a HEAD of the copy;
//   - a key on several backends keeps the indexed copy (else the newest); the others are
//     reported as strays, and deleted when `removeStrays` is set.
import type { ObjectMeta } from '../store/types.ts';
import type { PlacedObject } from '../placement/types.ts';
import { backendKey, onBackend, type VirtualContext } from './context.ts';
import { recordOf } from './repair.ts';
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
    for (const vb of gen.buckets.values()) {
      report.buckets++;
      await reindexBucket(ctx, gen, vb.name, vb.backends, opts, report);
    }
    return report;
  } finally {
    release();
  }
}

async function reindexBucket(ctx: VirtualContext, gen: Generation, bucket: string, backends: string[], opts: { removeStrays?: boolean }, report: ReindexReport): Promise<void> {
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
    for (const l of lists) {
      if (l.cur?.key === key) {
        copies.push({ backend: l.backend, meta: l.cur });
        await advance(l);
      }
    }
    const rec = idx.cur?.key === key ? idx.cur : undefined;
    if (rec) await advance(idx);
    report.scanned++;
    await settle(ctx, gen, bucket, key, rec, copies, failed, opts, report);
  }
}

async function settle(
  ctx: VirtualContext, gen: Generation, bucket: string, key: string, rec: PlacedObject | undefined,
  copies: { backend: string; meta: ObjectMeta }[], failed: Set<string>, opts: { removeStrays?: boolean }, report: ReindexReport,
): Promise<void> {
  if (!copies.length) {
    if (rec && !failed.has(rec.backend)) {
      const gone = await ctx.index.delete(bucket, key, { only: { backend: rec.backend, etag: rec.etag } });
      if (gone) { ctx.usage.apply(gone, undefined); report.removed++; }
    }
    return;
  }
  const keep = (rec && copies.find((c) => c.backend === rec.backend))
    ?? [...copies].sort((a, b) => b.meta.lastModified.getTime() - a.meta.lastModified.getTime())[0]!;
  if (!rec || rec.backend !== keep.backend || rec.etag !== keep.meta.etag || rec.size !== keep.meta.size) {
    const b = gen.backends.get(keep.backend)!;
    // A listing has no content type or metadata: read them from the object itself.
    const head = await onBackend(ctx, b, () => b.store.getObject(b.bucket, backendKey(bucket, key), { head: true }));
    const next = recordOf(bucket, key, keep.backend, { ...head.meta, key });
    const prev = await ctx.index.put(next);
    ctx.usage.apply(prev, next);
    if (rec) report.updated++;
    else report.added++;
  }
  for (const c of copies) {
    if (c === keep) continue;
    let removed = false;
    if (opts.removeStrays) {
      const b = gen.backends.get(c.backend)!;
      await onBackend(ctx, b, () => b.store.deleteObject(b.bucket, backendKey(bucket, key)));
      removed = true;
    }
    if (report.strays.length < 1000) report.strays.push({ bucket, key, backend: c.backend, removed });
  }
}

// Objects kept as several copies (a virtual bucket's `copies` N, `writeQuorum` W). The first copy
// is written as any single-copy PUT (write.ts); the others are copied from it, backend to backend,
// always under names of their own (location.ts), so they never meet the `<bucket>/<key>` rules
// of the first copy. A write is acknowledged once W copies exist; the record lists all N, the
// N - W not written yet as pending, each with a `copy` job in the queue (copy-jobs.ts).
//
//   fanOut (a PUT with W > 1: the client's body to W backends at once, tee.ts)
//   writeCopies → copyTargets (balancer order) → writeCopy (GET first copy → PUT target; part by part for a multipart one)
//   readOrder: the copies a read tries, fastest healthy backend first
import type { Replica, PlacedObject } from '../placement/types.ts';
import type { JobSpec } from '../placement/jobs.ts';
import type { Readable } from 'node:stream';
import type { CompletePart, ObjectHeaders, PutInput } from '../store/types.ts';
import { tee } from './tee.ts';
import type { BackendHandle } from './backends.ts';
import { S3Error } from '../s3/errors.ts';
import { candidatesOf, onBackend, type VirtualContext } from './context.ts';
import { nameOf, ownName } from './location.ts';
import { HOLD_MS } from './removals.ts';
import type { Generation, VirtualBucketRuntime } from './runtime.ts';

/** One copy as a read or a job sees it. */
export interface CopyAt {
  backend: string;
  location?: string;
  /** The ETag the backend has for this copy. */
  etag: string;
  first: boolean;
  pending: boolean;
}

export function copiesOf(rec: PlacedObject): CopyAt[] {
  return [
    { backend: rec.backend, location: rec.location, etag: rec.etag, first: true, pending: false },
    ...(rec.copies ?? []).map((c) => ({ backend: c.backend, location: c.location, etag: c.etag ?? rec.etag, first: false, pending: !!c.pending })),
  ];
}

/** Whether the record has (or will have) a copy at `backend`'s name `name`. */
export function recordHolds(rec: PlacedObject | undefined, backend: string, name: string): boolean {
  return !!rec && copiesOf(rec).some((c) => c.backend === backend && nameOf({ bucket: rec.bucket, key: rec.key, location: c.location }) === name);
}

/** Copies a read may use, fastest healthy backend first; copies on backends marked down come last. */
export function readOrder(ctx: VirtualContext, gen: Generation, rec: PlacedObject): CopyAt[] {
  const latency = (b: string) => ctx.health.get(b)?.latencyMs ?? Number.POSITIVE_INFINITY;
  const held = copiesOf(rec).filter((c) => !c.pending && gen.backends.has(c.backend));
  const up = held.filter((c) => ctx.health.healthy(c.backend)).sort((a, b) => latency(a.backend) - latency(b.backend) || Number(b.first) - Number(a.first));
  return [...up, ...held.filter((c) => !ctx.health.healthy(c.backend))];
}

export const headersOf = (rec: PlacedObject): ObjectHeaders => ({
  userMeta: rec.userMeta,
  ...(rec.contentType !== undefined ? { contentType: rec.contentType } : {}),
  ...(rec.cacheControl !== undefined ? { cacheControl: rec.cacheControl } : {}),
  ...(rec.contentDisposition !== undefined ? { contentDisposition: rec.contentDisposition } : {}),
  ...(rec.contentEncoding !== undefined ? { contentEncoding: rec.contentEncoding } : {}),
  ...(rec.contentLanguage !== undefined ? { contentLanguage: rec.contentLanguage } : {}),
  ...(rec.expires !== undefined ? { expires: rec.expires } : {}),
});

/**
 * The bucket's other backends in the order copies go to them: the strategy's picks among healthy
 * backends with room (rendezvous: by score), then the rest (down or full) in configuration order.
 */
export function copyTargets(ctx: VirtualContext, gen: Generation, vb: VirtualBucketRuntime, key: string, size: number, exclude: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const taken = new Set(exclude);
  for (;;) {
    const cands = candidatesOf(ctx, gen, vb).map((c) => (taken.has(c.name) ? { ...c, healthy: false } : c));
    const name = vb.balancer.pick(cands, key, size);
    if (!name) break;
    out.push(name);
    taken.add(name);
  }
  for (const name of vb.backends) if (!taken.has(name) && (gen.backends.get(name)?.config.weight ?? 0) > 0 && !ctx.drains.blocks(vb.name, name)) out.push(name);
  return out;
}

/**
 * Streams the copy `from` of `rec` to `to`'s name on its backend; the backend's ETag of the new
 * copy. A multipart copy (ETag `…-N`) is copied as a multipart upload of the same parts, each
 * part streamed from a `partNumber` GET: the new copy has the same ETag and parts, so any copy
 * can serve a part, and any copy can rebuild the first in place (copy-jobs.ts restoreFirst).
 */
export async function writeCopy(ctx: VirtualContext, gen: Generation, rec: PlacedObject, from: CopyAt, to: { backend: string; location: string }): Promise<string> {
  const src = gen.backends.get(from.backend);
  const dst = gen.backends.get(to.backend);
  if (!src || !dst) throw new S3Error('ServiceUnavailable', `Backend ${!src ? from.backend : to.backend} is no longer configured.`);
  const name = nameOf({ bucket: rec.bucket, key: rec.key, location: from.location });
  const parts = Number(/-(\d+)$/.exec(from.etag)?.[1] ?? 0);
  if (parts > 0) return copyParts(ctx, src, dst, name, from.etag, parts, rec, to.location);
  const got = await onBackend(ctx, src, () => src.store.getObject(src.bucket, name, { conditions: { ifMatch: `"${from.etag}"` } }));
  const body = got.body!;
  try {
    const put = await onBackend(ctx, dst, () => dst.store.putObject(dst.bucket, to.location, { body, size: got.meta.size, headers: headersOf(rec), checksums: {} }));
    return put.etag;
  } finally {
    body.destroy();
  }
}

async function copyParts(ctx: VirtualContext, src: BackendHandle, dst: BackendHandle, name: string, etag: string, count: number, rec: PlacedObject, location: string): Promise<string> {
  const uploadId = await onBackend(ctx, dst, () => dst.store.createMultipartUpload(dst.bucket, location, headersOf(rec)));
  try {
    const parts: CompletePart[] = [];
    for (let n = 1; n <= count; n++) {
      const got = await onBackend(ctx, src, () => src.store.getObject(src.bucket, name, { partNumber: n, conditions: { ifMatch: `"${etag}"` } }));
      const body = got.body!;
      try {
        const size = got.range ? got.range.end - got.range.start + 1 : got.meta.size;
        const put = await onBackend(ctx, dst, () => dst.store.uploadPart(dst.bucket, location, uploadId, n, { body, size, headers: { userMeta: {} }, checksums: {} }));
        parts.push({ partNumber: n, etag: put.etag, checksums: {} });
      } finally {
        body.destroy();
      }
    }
    return (await onBackend(ctx, dst, () => dst.store.completeMultipartUpload(dst.bucket, location, uploadId, parts))).etag;
  } catch (e) {
    await dst.store.abortMultipartUpload(dst.bucket, location, uploadId).catch(() => {});
    throw e;
  }
}

/** Copies written from the client's body alongside the first (fanOut). */
export interface EarlyCopies {
  written: { backend: string; location: string; etag: string }[];
  /** The written copies' `remove` jobs, held: completed once the record names the copies. */
  jobs: number[];
  /** Every backend a copy was written to or failed on, and why those failed. */
  tried: string[];
  failed: string[];
}

export interface FanOut {
  /** The first copy's body. */
  body: Readable;
  /** Whether bytes were taken from the client's body: then it cannot go to another backend. */
  readonly started: boolean;
  /** After the first copy is written: waits for the others; the jobs of those that failed remove what landed. */
  settle(): Promise<EarlyCopies>;
  /** The first copy failed: the others are stopped, and their jobs remove whatever landed. */
  abort(): Promise<void>;
}

/**
 * A PUT of a bucket writing W > 1 copies before it answers: the client's body streams to the
 * first copy's backend and, at the same time, to W - 1 others (the strategy's next healthy picks,
 * under names of their own), read once (tee.ts: at the pace of the slowest, never buffered whole;
 * the front's digest checks run once, and a bad body fails every PUT). Each of the others gets a
 * held `remove` job first: unless the committed record names its copy, the copy goes. Copies that
 * fail here are made up from the first copy afterwards (writeCopies).
 */
export async function fanOut(ctx: VirtualContext, gen: Generation, vb: VirtualBucketRuntime, bucket: string, key: string, input: PutInput, firstBackend: string): Promise<FanOut | undefined> {
  const w = vb.config.writeQuorum ?? vb.config.copies;
  if (vb.config.copies <= 1 || w <= 1) return undefined;
  const targets = copyTargets(ctx, gen, vb, key, input.size, new Set([firstBackend])).filter((b) => ctx.health.healthy(b) && gen.backends.has(b)).slice(0, w - 1)
    .map((backend) => ({ backend, location: ownName(bucket, key) }));
  if (!targets.length) return undefined;
  const jobs = await ctx.index.jobs.enqueue(targets.map((c) => ({ kind: 'remove' as const, bucket, key, backend: c.backend, location: c.location })), { owner: ctx.jobs.owner, leaseMs: 3_600_000 });
  const t = tee(input.body, 1 + targets.length);
  const puts = targets.map((c, i) => {
    const b = gen.backends.get(c.backend)!;
    const body = t.branches[i + 1]!;
    return onBackend(ctx, b, () => b.store.putObject(b.bucket, c.location, { body, size: input.size, headers: input.headers, checksums: {} })).finally(() => body.destroy());
  });
  // Settled from the start: a copy failing before the first copy is done is no unhandled rejection.
  const settled = Promise.allSettled(puts);
  const outcomes = () => settled;
  return {
    body: t.branches[0]!,
    get started() { return t.started; },
    async settle() {
      const out: EarlyCopies = { written: [], jobs: [], tried: targets.map((c) => c.backend), failed: [] };
      const drop: number[] = [];
      (await outcomes()).forEach((r, i) => {
        const c = targets[i]!;
        if (r.status === 'fulfilled') {
          out.written.push({ ...c, etag: r.value.etag });
          out.jobs.push(jobs[i]!);
        } else {
          out.failed.push(`${c.backend}: ${(r.reason as Error).message}`);
          drop.push(jobs[i]!);
        }
      });
      await releaseJobs(ctx, drop);
      return out;
    },
    async abort() {
      for (const b of t.branches) b.destroy();
      await outcomes();
      await releaseJobs(ctx, jobs);
    },
  };
}

export interface PlannedCopies {
  copies: Replica[];
  /** Jobs of the copies written now: completed once the record is committed. */
  written: number[];
  /** Jobs of the pending copies, held by this process until the record is committed. */
  pending: number[];
}


/**
 * Writes the copies besides the first (`rec` as about to be committed) until W exist; records
 * the rest as pending. Every copy gets its job before a byte is written, so a crash leaves no
 * copy nobody knows of (copy-jobs.ts removes what the record does not name). Throws 503 when
 * fewer than W copies could be written.
 */
export async function writeCopies(ctx: VirtualContext, gen: Generation, vb: VirtualBucketRuntime, rec: PlacedObject, early?: EarlyCopies): Promise<PlannedCopies> {
  const n = vb.config.copies;
  const w = vb.config.writeQuorum ?? n;
  if (n <= 1) return { copies: [], written: [], pending: [] };
  const order = copyTargets(ctx, gen, vb, rec.key, rec.size, new Set([rec.backend]));
  const first: CopyAt = { backend: rec.backend, location: rec.location, etag: rec.etag, first: true, pending: false };
  // Those written with the first (fanOut) count; the backends they failed on are not tried again.
  const written: Replica[] = early?.written.map((c) => ({ backend: c.backend, location: c.location, ...(c.etag !== rec.etag ? { etag: c.etag } : {}) })) ?? [];
  const jobs: number[] = [...(early?.jobs ?? [])];
  const failed: string[] = [...(early?.failed ?? [])];
  const tried = new Set(early?.tried ?? []);
  const spec = (backend: string, location: string): JobSpec => ({ kind: 'copy', bucket: rec.bucket, key: rec.key, backend, location, etag: rec.etag });
  let next = 0;
  while (written.length < w - 1 && next < order.length) {
    const backend = order[next++]!;
    if (tried.has(backend)) continue;
    if (!ctx.health.healthy(backend)) { failed.push(`${backend}: down`); continue; }
    const location = ownName(rec.bucket, rec.key);
    const [id] = await ctx.index.jobs.enqueue([spec(backend, location)], { owner: ctx.jobs.owner, leaseMs: 3_600_000 });
    jobs.push(id!);
    try {
      const etag = await writeCopy(ctx, gen, rec, first, { backend, location });
      written.push({ backend, location, ...(etag !== rec.etag ? { etag } : {}) });
    } catch (e) {
      failed.push(`${backend}: ${(e as Error).message}`);
      // Its job now removes whatever may have landed.
      await ctx.index.jobs.release(id!, ctx.jobs.owner, { notBefore: new Date(), error: (e as Error).message });
      jobs.pop();
      ctx.jobs.kick();
    }
  }
  if (written.length < w - 1) {
    await releaseJobs(ctx, jobs);
    throw new S3Error('ServiceUnavailable', `Only ${written.length + 1} of the ${w} copies this bucket writes before answering could be written (${failed.join('; ') || 'too few backends'}).`, { headers: { 'retry-after': '1' } });
  }
  const used = new Set([rec.backend, ...written.map((c) => c.backend)]);
  const rest = order.filter((b) => !used.has(b));
  const pending: Replica[] = rest.slice(0, n - 1 - written.length).map((backend) => ({ backend, location: ownName(rec.bucket, rec.key), pending: true }));
  const held = pending.length ? await ctx.index.jobs.enqueue(pending.map((c) => spec(c.backend, c.location)), { owner: ctx.jobs.owner, leaseMs: HOLD_MS }) : [];
  return { copies: [...written, ...pending], written: jobs, pending: held };
}

/** Hands jobs this process held to the runner (and any replica), due now. */
export async function releaseJobs(ctx: VirtualContext, ids: number[]): Promise<void> {
  for (const id of ids) await ctx.index.jobs.release(id, ctx.jobs.owner, { notBefore: new Date() }).catch(() => {});
  if (ids.length) ctx.jobs.kick();
}

/** After the commit: the copies written now are done; pending ones go to the runner. */
export async function settleCopyJobs(ctx: VirtualContext, planned: PlannedCopies | undefined): Promise<void> {
  if (!planned) return;
  for (const id of planned.written) await ctx.index.jobs.complete(id, ctx.jobs.owner).catch(() => false);
  await releaseJobs(ctx, planned.pending);
}

/** The write was not committed: every job of its copies removes what it wrote. */
export async function dropCopyJobs(ctx: VirtualContext, planned: PlannedCopies | undefined): Promise<void> {
  if (planned) await releaseJobs(ctx, [...planned.written, ...planned.pending]);
}

/**
 * Queues the removal of every copy of `rec` but the first (which the caller removes as before),
 * held by this process: release them (releaseJobs) once the commit that drops the record is
 * done, or a removal could run first, still see the record and finish without deleting.
 */
export async function queueCopyRemovals(ctx: VirtualContext, rec: PlacedObject | undefined): Promise<number[]> {
  if (!rec?.copies?.length) return [];
  return ctx.index.jobs.enqueue(rec.copies.map((c) => ({ kind: 'remove' as const, bucket: rec.bucket, key: rec.key, backend: c.backend, location: c.location })),
    { owner: ctx.jobs.owner, leaseMs: HOLD_MS });
}

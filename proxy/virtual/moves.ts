// Moving objects between the backends of a virtual bucket while clients read and write them:
//   drain:     every copy on the job's backend goes to another backend the strategy picks; once
//              the index records nothing there (and no write of this process streams there) the
//              backend is marked drained (drains.ts).
//   rebalance: every copy not on a backend the strategy (rendezvous) places the key on now goes to
//              one it does — after a weight or backend-set change.
// Both walk the bucket's records a page at a time, resumable from `progress` (a kill -9 loses at
// most a page: moving a record twice is harmless), paced by the runner's rate limits per object,
// errors recorded per object (the last ones in `progress`, the pass retried after a backoff).
//
// One move, never losing or serving stale bytes:
//   remove job for the new copy, held (a crash leaves no copy nobody knows of) → copy the bytes
//   (copies.ts writeCopy: a multipart object part by part, same ETag) → (key's lock) conditional index update:
//   only while the record still is that version with that copy (a PUT or DELETE that raced the
//   move wins, and the new copy is removed) → the old copy removed (a removal intent or job).
import type { Job } from '../placement/jobs.ts';
import type { PlacedObject, Replica } from '../placement/types.ts';
import { S3Error } from '../s3/errors.ts';
import type { JobResult } from '../jobs/runner.ts';
import { candidatesOf, lockKey, type VirtualContext } from './context.ts';
import { copiesOf, copyTargets, readOrder, writeCopy, type CopyAt } from './copies.ts';
import { ownName } from './location.ts';
import { queueRemovalJob, queueRemovalWithJob, runRemoval, settleRemovalJob, type Removal } from './removals.ts';
import type { Generation, VirtualBucketRuntime } from './runtime.ts';
import { DRAIN_SEEN_MS } from './drains.ts';

export interface MoveProgress {
  /** The last key settled in this pass. */
  after: string;
  /** Passes over the bucket: a drain walks it again while records remain on the backend. */
  pass: number;
  scanned: number;
  /** Copies moved, and their bytes, over every pass. */
  moved: number;
  movedBytes: number;
  /** Copies moved in this pass, and objects whose move failed in it. */
  passMoved: number;
  failed: number;
  /** The last errors, newest last. */
  errors: { key: string; error: string }[];
  /** Why a drain that moved everything is not done yet (multipart uploads still open there). */
  waiting?: string;
}

const PAGE = 100;
const KEPT_ERRORS = 10;

export const emptyProgress = (): MoveProgress => ({ after: '', pass: 1, scanned: 0, moved: 0, movedBytes: 0, passMoved: 0, failed: 0, errors: [] });

export function progressOf(job: Pick<Job, 'progress'>): MoveProgress {
  return job.progress ? { ...emptyProgress(), ...JSON.parse(job.progress) as Partial<MoveProgress> } : emptyProgress();
}

/** Rebalancing needs a strategy that places a key on the same backends every time. */
export const rebalances = (vb: VirtualBucketRuntime): boolean => vb.config.strategy === 'rendezvous';

/** One copy to move: `from` (a copy of the record) to backend `to`. */
interface Move {
  from: CopyAt;
  to: string;
}

/** Where the strategy places the record's copies now: the first copy's backend first. */
function placement(ctx: VirtualContext, gen: Generation, vb: VirtualBucketRuntime, rec: PlacedObject): string[] {
  const first = vb.balancer.pick(candidatesOf(ctx, gen, vb), rec.key, rec.size);
  if (!first) return [];
  return [first, ...copyTargets(ctx, gen, vb, rec.key, rec.size, new Set([first])).slice(0, vb.config.copies - 1)];
}

function plan(ctx: VirtualContext, gen: Generation, vb: VirtualBucketRuntime, rec: PlacedObject, job: Job): Move[] {
  const copies = copiesOf(rec);
  const held = new Set(copies.map((c) => c.backend));
  if (job.kind === 'drain') {
    const leaving = copies.filter((c) => c.backend === job.backend);
    if (!leaving.length) return [];
    const to = copyTargets(ctx, gen, vb, rec.key, rec.size, held).filter((b) => ctx.health.healthy(b));
    return leaving.map((from, i) => ({ from, to: to[i]! })).filter((m) => m.to !== undefined);
  }
  const want = placement(ctx, gen, vb, rec);
  if (want.length < Math.min(vb.config.copies, copies.length)) return [];
  const missing = want.filter((b) => !held.has(b));
  const extra = copies.filter((c) => !want.includes(c.backend));
  return extra.slice(0, missing.length).map((from, i) => ({ from, to: missing[i]! }));
}

/** Writes the bytes of copy `from` to `to` (a multipart one part by part: same ETag); the new copy's ETag. A first copy keeps the record's ETag or the move fails. */
async function transfer(ctx: VirtualContext, gen: Generation, rec: PlacedObject, from: CopyAt, to: { backend: string; location: string }, first: boolean): Promise<string> {
  const etag = await writeCopy(ctx, gen, rec, from, to);
  if (first && etag !== rec.etag) throw new S3Error('InternalError', `the copy on ${to.backend} has ETag ${etag}, not the object's ${rec.etag}`);
  return etag;
}

/** Moves one copy; false when the record changed meanwhile (the write or delete that raced it won). */
async function moveCopy(ctx: VirtualContext, gen: Generation, rec: PlacedObject, m: Move): Promise<boolean> {
  const location = ownName(rec.bucket, rec.key);
  const lock = lockKey(rec.bucket, rec.key);
  if (m.from.pending) {
    // Not written yet: the pending copy goes to the new backend instead (its old job then removes whatever it wrote).
    const updated = await ctx.locks.run(lock, () => ctx.index.updateCopies(rec.bucket, rec.key, { backend: rec.backend, etag: rec.etag }, (copies) =>
      copies.map((c): Replica => (c.backend === m.from.backend && c.location === m.from.location ? { backend: m.to, location, pending: true } : c))));
    if (!updated?.copies?.some((c) => c.backend === m.to && c.location === location)) return false;
    await ctx.index.jobs.enqueue([{ kind: 'copy', bucket: rec.bucket, key: rec.key, backend: m.to, location, etag: rec.etag }]);
    ctx.jobs.kick();
    return true;
  }
  // Removes the new copy unless the record ends up holding it; held by this process until the commit.
  const held: Removal = { id: 0, bucket: rec.bucket, key: rec.key, backend: m.to, location };
  held.job = await queueRemovalJob(ctx, held);
  const settle = (moved: boolean) => settleRemovalJob(ctx, held, moved ? 'done' : 'postponed');
  let etag: string;
  try {
    // A first copy is rebuilt from a copy that is the same object (same ETag); the copy that moves is read if it can be.
    const usable = readOrder(ctx, gen, rec).filter((c) => ctx.health.healthy(c.backend) && (!m.from.first || c.etag === rec.etag));
    const source = usable.find((c) => c.backend === m.from.backend && c.location === m.from.location) ?? usable[0];
    if (!source) throw new S3Error('ServiceUnavailable', 'no copy of the object is on a backend that is up');
    etag = await transfer(ctx, gen, rec, source, { backend: m.to, location }, m.from.first);
  } catch (e) {
    await settle(false);
    throw e;
  }
  const old = { bucket: rec.bucket, key: rec.key, backend: m.from.backend, location: m.from.location };
  let removal: Removal | undefined;
  const updated = await ctx.locks.run(lock, async () => {
    if (m.from.first) {
      // Recorded before the commit that orphans the old copy, so a crash cannot forget it (as write.ts commitWrite).
      const r: Removal = await queueRemovalWithJob(ctx, old);
      const next = await ctx.index.relocate(rec.bucket, rec.key, { backend: rec.backend, etag: rec.etag, location: rec.location }, { backend: m.to, location });
      if (next) removal = r;
      else {
        await ctx.index.endIntent(r.id);
        await ctx.index.jobs.complete(r.job!, ctx.jobs.owner);
      }
      return next;
    }
    const next = await ctx.index.updateCopies(rec.bucket, rec.key, { backend: rec.backend, etag: rec.etag }, (copies) =>
      copies.map((c): Replica => (c.backend === old.backend && c.location === old.location && !c.pending ? { backend: m.to, location, ...(etag !== rec.etag ? { etag } : {}) } : c)));
    return next?.copies?.some((c) => c.backend === m.to && c.location === location) ? next : undefined;
  });
  await settle(!!updated);
  if (!updated) return false;
  ctx.usage.apply(rec, updated);
  if (removal) await runRemoval(ctx, gen, removal);
  else {
    await ctx.index.jobs.enqueue([{ kind: 'remove', bucket: rec.bucket, key: rec.key, backend: old.backend, ...(old.location ? { location: old.location } : {}) }]);
    ctx.jobs.kick();
  }
  return true;
}

/** Moves what `plan` asks for of one record, one copy at a time (each against the record as it is then). */
async function moveRecord(ctx: VirtualContext, gen: Generation, vb: VirtualBucketRuntime, job: Job, key: string, p: MoveProgress, signal: AbortSignal): Promise<void> {
  for (let i = 0; i <= vb.config.copies; i++) {
    const rec = await ctx.index.get(job.bucket, key);
    if (!rec) return;
    const [m] = plan(ctx, gen, vb, rec, job);
    if (!m) {
      if (job.kind === 'drain' && copiesOf(rec).some((c) => c.backend === job.backend)) throw new S3Error('ServiceUnavailable', `no backend of ${job.bucket} that is up can take this object's copy`);
      return;
    }
    await ctx.jobs.throttle(rec.size, signal);
    if (signal.aborted) return;
    if (await moveCopy(ctx, gen, rec, m)) {
      p.moved++;
      p.passMoved++;
      p.movedBytes += rec.size;
    }
  }
}

/**
 * How long another replica's write intent counts as a PUT still streaming: nothing tells a slow
 * upload from a replica that died mid-write (its intent stays until a gateway of its name starts).
 */
const FOREIGN_WRITE_MS = 3_600_000;

/**
 * Writes that may still commit a record on `backend` of `bucket`: PUTs streaming there — this
 * process's, and other replicas' on a shared index, by their write intents — and multipart uploads
 * pinned to it (they complete on their backend).
 */
async function writesInFlight(ctx: VirtualContext, bucket: string, backend: string): Promise<{ puts: number; uploads: number }> {
  const now = Date.now();
  const puts = (await ctx.index.intentsOn(bucket, backend))
    .filter((i) => i.op === 'put' && (i.owner === ctx.replica || now - i.started.getTime() < FOREIGN_WRITE_MS)).length;
  let uploads = 0;
  for (let marker = { keyMarker: '', uploadIdMarker: '' }; ;) {
    const page = await ctx.index.listUploads(bucket, { prefix: '', ...marker, limit: 1000 });
    uploads += page.filter((u) => u.backend === backend).length;
    if (page.length < 1000) return { puts, uploads };
    marker = { keyMarker: page.at(-1)!.key, uploadIdMarker: page.at(-1)!.uploadId };
  }
}

async function moveJob(ctx: VirtualContext, job: Job, signal: AbortSignal): Promise<JobResult> {
  const { gen, release } = ctx.rt.enter();
  try {
    const vb = gen.buckets.get(job.bucket);
    if (!vb) return { outcome: 'done' };
    if (job.kind === 'drain') {
      if (!ctx.drains.blocks(job.bucket, job.backend)) return { outcome: 'done' };
      if (!vb.backends.includes(job.backend)) return { outcome: 'later', ms: 30_000, error: `backend ${job.backend} is no longer in ${job.bucket}: its copies are repaired elsewhere, nothing to move from it` };
      if (!ctx.health.healthy(job.backend)) return { outcome: 'later', error: `backend ${job.backend} is down` };
    } else {
      if (!rebalances(vb)) return { outcome: 'done' };
      const down = vb.backends.filter((b) => !ctx.health.healthy(b));
      // The placement of a key skips a backend that is down: moving now would move to the wrong place.
      if (down.length) return { outcome: 'later', error: `backend ${down.join(', ')} is down` };
    }
    const p = progressOf(job);
    // A run ends well within its lease (the runner does not renew it), and records its progress often.
    const until = Date.now() + Math.min(10_000, gen.config.jobs.lease / 3);
    const page = await ctx.index.scan(job.bucket, { prefix: '', after: p.after, limit: PAGE });
    let cut = false;
    for (const rec of page) {
      if (signal.aborted || (cut = Date.now() > until)) break;
      p.after = rec.key;
      p.scanned++;
      try {
        await moveRecord(ctx, gen, vb, job, rec.key, p, signal);
      } catch (e) {
        p.failed++;
        p.errors = [...p.errors, { key: rec.key, error: (e as Error).message || String(e) }].slice(-KEPT_ERRORS);
        ctx.log('warn', `${job.kind}: object not moved`, { bucket: job.bucket, key: rec.key, backend: job.backend || undefined, error: (e as Error).message });
      }
    }
    if (page.length === PAGE || signal.aborted || cut) return { outcome: 'more', progress: JSON.stringify(p) };
    return await endOfPass(ctx, job, p);
  } finally {
    release();
  }
}

/**
 * A drain is done after a pass that found nothing left to move, with no write of any replica
 * streaming to the backend: a record committed there by a write that chose it before the drain
 * began, after the scan had passed its key, is found by that pass.
 */
async function endOfPass(ctx: VirtualContext, job: Job, p: MoveProgress): Promise<JobResult> {
  const { waiting: _waiting, ...rest } = p;
  const again: MoveProgress = { ...rest, after: '', pass: p.pass + 1, passMoved: 0, failed: 0 };
  if (p.failed) {
    // Another pass after a backoff retries the objects that failed.
    return { outcome: 'later', progress: JSON.stringify(again), error: `${p.failed} objects not moved in pass ${p.pass}; last: ${p.errors.at(-1)?.key}: ${p.errors.at(-1)?.error}` };
  }
  if (job.kind === 'rebalance') {
    ctx.log('info', 'rebalance finished', { bucket: job.bucket, scanned: p.scanned, moved: p.moved, movedBytes: p.movedBytes });
    return { outcome: 'done' };
  }
  if (p.passMoved) return { outcome: 'more', progress: JSON.stringify(again) };
  // Another replica may have chosen the backend until it read the drain's mark: walk once more after that.
  const since = Date.parse(ctx.drains.marks(job.bucket)[job.backend]?.since ?? '') || 0;
  if (Date.now() - since < DRAIN_SEEN_MS) return { outcome: 'more', ms: DRAIN_SEEN_MS - (Date.now() - since), progress: JSON.stringify(again) };
  const writing = await writesInFlight(ctx, job.bucket, job.backend);
  // Walked again once they are done (an abandoned upload is aborted after uploads.maxAge).
  if (writing.puts) return { outcome: 'more', ms: 500, progress: JSON.stringify(again) };
  if (writing.uploads) return { outcome: 'more', ms: 5_000, progress: JSON.stringify({ ...again, waiting: `${writing.uploads} multipart uploads open on ${job.backend}` }) };
  // Cancelled (undrained) while this pass ran: not drained.
  if (!(await ctx.index.jobs.get(job.id))) return { outcome: 'done' };
  await ctx.drains.set(job.bucket, job.backend, { state: 'drained', since: new Date().toISOString(), moved: p.moved, movedBytes: p.movedBytes });
  ctx.log('info', 'drain finished', { bucket: job.bucket, backend: job.backend, passes: p.pass, moved: p.moved, movedBytes: p.movedBytes });
  return { outcome: 'done' };
}

export function moveJobHandlers(ctx: VirtualContext): { drain: (j: Job, s: AbortSignal) => Promise<JobResult>; rebalance: (j: Job, s: AbortSignal) => Promise<JobResult> } {
  return { drain: (j, s) => moveJob(ctx, j, s), rebalance: (j, s) => moveJob(ctx, j, s) };
}

// The `gc` job (placement/jobs.ts): garbage collection of one virtual bucket's namespace on one
// backend — reindex.ts made incremental. One page at a time, its cursor in the job's `progress`,
// so a killed gateway resumes where it stopped (any replica, once the lease is free):
//
//   objects  the backend's `<bucket>/…` names, then its `.floodgate/w/<bucket>/…` ones: an object
//            no record holds (nor will hold: a pending copy) is deleted — unless it is younger
//            than gc.minAge, or an intent or a queued job names it (a write in flight lands on
//            its backend before its record commits; a removal already queued does its own work);
//   records  the bucket's records: a copy on this backend that is missing is counted and
//            reported, and a repair queued for buckets that keep several copies.
//
// Every page's counts are saved in the index (a meta value), so /status shows the last run's
// even after its job is gone.
import type { Job } from '../../placement/jobs.ts';
import type { GcStatus } from '../../health/status.ts';
import type { ObjectMeta } from '../../store/types.ts';
import { S3Error } from '../../s3/errors.ts';
import type { JobResult } from '../../jobs/runner.ts';
import { backendKey, lockKey, onBackend, type VirtualContext } from '../context.ts';
import { copiesOf, recordHolds } from '../copies.ts';
import { queueRepairs } from '../copy-jobs.ts';
import { OWN_NAMES, keyOfOwnName, nameOf, usualNameBusy } from '../location.ts';
import type { BackendHandle } from '../backends.ts';
import type { Generation } from '../runtime.ts';

export const GC_PAGE = 500;
const ERRORS_KEPT = 10;

/** A run's state as saved in the index: its status, plus where it got to. */
export interface GcState extends GcStatus {
  bucket: string;
  /** The last backend name (objects, own) or key (records) settled. */
  after: string;
}

export const gcStateName = (bucket: string, backend: string) => `gc/${bucket}/${backend}`;

export function freshGc(bucket: string, backend: string): GcState {
  return {
    bucket, backend, state: 'running', phase: 'objects', after: '', startedAt: new Date().toISOString(),
    scanned: 0, orphans: 0, removed: 0, removedBytes: 0, young: 0, records: 0, missing: 0, missingKeys: [], errors: 0, lastErrors: [],
  };
}

/** A saved state; fields a gateway that saved it did not know yet read as a fresh run's. */
export function parseGc(json: string, bucket: string, backend: string): GcState {
  return { ...freshGc(bucket, backend), ...JSON.parse(json) as GcState };
}

function noteError(s: GcState, key: string, e: unknown): void {
  s.errors++;
  s.lastErrors = [...s.lastErrors, { key, error: (e as Error).message || String(e) }].slice(-ERRORS_KEPT);
}

interface Page {
  gen: Generation;
  b: BackendHandle;
  minAge: number;
  /** Backend names that intents or queued jobs of this bucket on this backend name. */
  named: Set<string>;
}

/** Deletes the object `m` (of `key`) unless something holds it or it is young; whether it went. */
async function collect(ctx: VirtualContext, p: Page, s: GcState, key: string, m: ObjectMeta, own: boolean): Promise<'kept' | 'young' | 'removed'> {
  const backend = p.b.name;
  const name = m.key;
  if (recordHolds(await ctx.index.get(s.bucket, key), backend, name)) return 'kept';
  if (Date.now() - m.lastModified.getTime() < p.minAge) return 'young';
  if (p.named.has(name) || (!own && usualNameBusy(ctx, s.bucket, key, backend))) return 'kept';
  // Under the key's lock a commit cannot land between the last look and the delete.
  return ctx.locks.run(lockKey(s.bucket, key), async () => {
    if (recordHolds(await ctx.index.get(s.bucket, key), backend, name)) return 'kept';
    // Found, whether or not the delete below succeeds (a failure is counted as an error too).
    s.orphans++;
    try {
      await onBackend(ctx, p.b, () => p.b.store.deleteObject(p.b.bucket, name));
    } catch (e) {
      if (!(e instanceof S3Error && e.code === 'NoSuchKey')) throw e;
    }
    ctx.log('info', 'gc: orphan deleted', { bucket: s.bucket, key, backend, name });
    return 'removed';
  });
}

async function objectsPage(ctx: VirtualContext, p: Page, s: GcState): Promise<number> {
  const own = s.phase === 'own';
  const prefix = own ? `${OWN_NAMES}${s.bucket}/` : backendKey(s.bucket, '');
  const page = await onBackend(ctx, p.b, () => p.b.store.scan(p.b.bucket, { prefix, after: s.after, limit: GC_PAGE }));
  for (const m of page) {
    s.after = m.key;
    const key = own ? keyOfOwnName(s.bucket, m.key) : m.key.slice(prefix.length);
    // Not a name of ours: never touched.
    if (key === undefined) continue;
    s.scanned++;
    try {
      const r = await collect(ctx, p, s, key, m, own);
      if (r === 'young') s.young++;
      if (r === 'removed') { s.removed++; s.removedBytes += m.size; }
    } catch (e) {
      noteError(s, key, e);
    }
  }
  if (page.length < GC_PAGE) {
    s.phase = own ? 'records' : 'own';
    s.after = '';
  }
  return page.length;
}

async function exists(ctx: VirtualContext, b: BackendHandle, name: string): Promise<boolean> {
  try {
    await onBackend(ctx, b, () => b.store.getObject(b.bucket, name, { head: true }));
    return true;
  } catch (e) {
    if (e instanceof S3Error && e.code === 'NoSuchKey') return false;
    throw e;
  }
}

async function recordsPage(ctx: VirtualContext, p: Page, s: GcState): Promise<number> {
  const page = await ctx.index.scan(s.bucket, { prefix: '', after: s.after, limit: GC_PAGE });
  for (const rec of page) {
    s.after = rec.key;
    s.records++;
    for (const c of copiesOf(rec)) {
      if (c.pending || c.backend !== p.b.name) continue;
      try {
        if (await exists(ctx, p.b, nameOf({ bucket: rec.bucket, key: rec.key, location: c.location }))) continue;
        // Deleted or overwritten meanwhile: nothing is missing.
        const now = await ctx.index.get(rec.bucket, rec.key);
        if (!now || !recordHolds(now, c.backend, nameOf({ bucket: rec.bucket, key: rec.key, location: c.location }))) continue;
        s.missing++;
        if (s.missingKeys.length < ERRORS_KEPT) s.missingKeys.push(rec.key);
        ctx.log('warn', 'gc: a record\'s copy is missing on its backend', { bucket: rec.bucket, key: rec.key, backend: c.backend, first: c.first });
      } catch (e) {
        noteError(s, rec.key, e);
      }
    }
  }
  if (page.length < GC_PAGE) s.state = 'done';
  return page.length;
}

/** Runs one page of a gc job; `save` keeps the state where /status finds it. */
export async function gcJob(ctx: VirtualContext, job: Job, save: (s: GcState) => Promise<void>): Promise<JobResult> {
  const { gen, release } = ctx.rt.enter();
  try {
    const vb = gen.buckets.get(job.bucket);
    const b = gen.backends.get(job.backend);
    if (!vb || !b || !vb.backends.includes(job.backend)) return { outcome: 'done' };
    if (!ctx.health.healthy(job.backend)) return { outcome: 'later', error: `backend ${job.backend} is down` };
    const s = job.progress ? parseGc(job.progress, job.bucket, job.backend) : freshGc(job.bucket, job.backend);
    const p: Page = {
      gen, b, minAge: gen.config.gc.minAge,
      named: new Set([
        ...(await ctx.index.intentsOn(job.bucket, job.backend)).map((i) => nameOf(i)),
        ...(await ctx.index.jobs.locations(job.bucket, job.backend)).map((c) => nameOf({ bucket: job.bucket, ...c })),
      ]),
    };
    const seen = s.phase === 'records' ? await recordsPage(ctx, p, s) : await objectsPage(ctx, p, s);
    if (s.state === 'done') {
      s.finishedAt = new Date().toISOString();
      if (s.missing && vb.config.copies > 1) await queueRepairs(ctx, job.backend, [job.bucket]);
      ctx.log('info', 'gc finished', { bucket: s.bucket, backend: s.backend, scanned: s.scanned, orphans: s.orphans, removed: s.removed, young: s.young, records: s.records, missing: s.missing, errors: s.errors });
    }
    await save(s);
    if (s.state === 'done') return { outcome: 'done', objects: Math.max(1, seen) };
    return { outcome: 'more', progress: JSON.stringify(s), objects: Math.max(1, seen) };
  } finally {
    release();
  }
}

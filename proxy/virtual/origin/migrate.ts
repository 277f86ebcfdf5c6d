// The migration of one virtual bucket: every origin object copied in, in key order, paced by
// the rate limits — a `migrate` job on the durable queue (placement/jobs.ts), one step per run
// of its handler: a page of the origin counted (for "remaining"), or a page of PAGE keys after
// the cursor copied, `concurrency` at a time. The state — run number, cursor, counts — is the
// job's progress and is saved in the index (a meta value) after every page, where /status and
// the admin API read it once the job is gone. A gateway killed mid-run loses at most the page it
// was on: the job's lease is taken over (by this replica at once when it restarts) and the run
// goes on from the last settled page; copies are idempotent (copy.ts skips keys already indexed
// or tombstoned), so a second run copies nothing new. A page that fails (the origin down) is
// tried again after `retryInterval`, its error shown as the run's lastError.
import type { JobResult } from '../../jobs/runner.ts';
import type { VirtualContext } from '../context.ts';
import { copyFromOrigin } from './copy.ts';
import { originError, type Origin } from './origin.ts';
import type { RateLimiter } from './rate.ts';

const PAGE = 100;
/** A step is over well within the job's lease however slow the rate: at most a minute of objects. */
const pageSize = (o: Origin) => {
  const rate = o.config.migrate?.objectsPerSecond;
  return rate ? Math.max(1, Math.min(PAGE, Math.floor(rate * 60))) : PAGE;
};
const COUNT_PAGE = 1000;
/** Origin listing pages counted per step. */
const COUNT_PAGES = 10;

export interface MigrationState {
  run: number;
  state: 'counting' | 'running' | 'done' | 'cancelled' | 'failed';
  startedAt: string;
  finishedAt?: string;
  /** Every origin key up to this one is settled in this run. */
  cursor: string;
  total?: { objects: number; bytes: number };
  copied: number;
  copiedBytes: number;
  /** Already indexed (copied before, or written here) or tombstoned. */
  skipped: number;
  skippedBytes: number;
  failed: number;
  lastError?: string;
  /** Times this run was picked up again after its gateway stopped. */
  resumes: number;
  /** The replica that ran the last step. */
  owner: string;
  /** The job runner (process) that ran the last step: another one taking over is a resume. */
  runner?: string;
  /** While counting: the last origin key counted, and the counts so far. */
  counted?: { after: string; objects: number; bytes: number };
}

export const stateName = (bucket: string) => `origin-migration/${bucket}`;

export async function loadState(ctx: Pick<VirtualContext, 'index'>, bucket: string): Promise<MigrationState | undefined> {
  const v = await ctx.index.getMeta(stateName(bucket));
  return v ? (JSON.parse(v) as MigrationState) : undefined;
}

export const active = (s: MigrationState | undefined) => s?.state === 'counting' || s?.state === 'running';

export function remaining(s: MigrationState): { objects: number; bytes: number } | undefined {
  if (!s.total) return undefined;
  return {
    objects: Math.max(0, s.total.objects - s.copied - s.skipped - s.failed),
    bytes: Math.max(0, s.total.bytes - s.copiedBytes - s.skippedBytes),
  };
}

export async function saveState(ctx: VirtualContext, bucket: string, s: MigrationState): Promise<void> {
  await ctx.index.setMeta(stateName(bucket), JSON.stringify(s));
}

/** The first state of the run after `prev`. */
export function freshRun(prev: MigrationState | undefined, replica: string): MigrationState {
  return { run: (prev?.run ?? 0) + 1, state: 'counting', startedAt: new Date().toISOString(), cursor: '', copied: 0, copiedBytes: 0, skipped: 0, skippedBytes: 0, failed: 0, resumes: 0, owner: replica };
}

const originScan = (o: Origin, after: string, limit: number) =>
  o.store.scan(o.config.bucket, { prefix: '', after, limit }).catch((e: unknown) => { throw originError(o.bucket, e); });

/** Counts up to COUNT_PAGES pages of the origin; sets `total` once the listing ends. */
async function countStep(o: Origin, s: MigrationState, signal: AbortSignal): Promise<void> {
  const c = { ...(s.counted ?? { after: '', objects: 0, bytes: 0 }) };
  for (let i = 0; i < COUNT_PAGES; i++) {
    signal.throwIfAborted();
    const page = await originScan(o, c.after, COUNT_PAGE);
    for (const m of page) { c.objects++; c.bytes += m.size; }
    if (page.length) c.after = page.at(-1)!.key;
    if (page.length < COUNT_PAGE) {
      s.total = { objects: c.objects, bytes: c.bytes };
      s.state = 'running';
      delete s.counted;
      return;
    }
  }
  s.counted = c;
}

/** Runs `fn` over `items`, at most `n` at once; on an error or abort, lets the running ones finish, then throws. */
async function pool<T>(items: T[], n: number, signal: AbortSignal, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { e: unknown } | undefined;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length && !failure && !signal.aborted) {
      try {
        await fn(items[next++]!);
      } catch (e) {
        failure ??= { e };
      }
    }
  }));
  if (failure) throw failure.e;
  signal.throwIfAborted();
}

/** Copies the page of keys after the cursor; the counts and the cursor move only once it is settled. */
async function copyStep(ctx: VirtualContext, o: Origin, s: MigrationState, signal: AbortSignal, limiter: RateLimiter): Promise<{ objects: number; bytes: number }> {
  const bucket = o.bucket;
  const size = pageSize(o);
  const page = await originScan(o, s.cursor, size);
  const marks = await ctx.index.originMarksOf(bucket, page.map((p) => p.key));
  const deleted = new Set(marks.filter((x) => x.kind === 'deleted').map((x) => x.key));
  // Counted with the cursor, never before it: a page redone after a crash is counted once.
  const t = { copied: 0, copiedBytes: 0, skipped: 0, skippedBytes: 0, failed: 0, lastError: s.lastError };
  await pool(page, o.config.migrate?.concurrency ?? 4, signal, async (item) => {
    if (deleted.has(item.key) || (await ctx.index.get(bucket, item.key))) {
      t.skipped++;
      t.skippedBytes += item.size;
      return;
    }
    await limiter.take(item.size, signal);
    const r = await copyFromOrigin(ctx, o, item.key);
    if (r.kind === 'copied') {
      t.copied++;
      t.copiedBytes += r.bytes;
    } else if (r.kind === 'failed') {
      t.failed++;
      t.lastError = r.error;
      // Its own job tries it again (copier.ts), the run goes on.
      await ctx.index.jobs.enqueue([{ kind: 'origin-copy', bucket, key: item.key, backend: '' }]);
    } else {
      t.skipped++;
      t.skippedBytes += item.size;
    }
  });
  s.copied += t.copied;
  s.copiedBytes += t.copiedBytes;
  s.skipped += t.skipped;
  s.skippedBytes += t.skippedBytes;
  s.failed += t.failed;
  s.lastError = t.lastError;
  if (page.length) s.cursor = page.at(-1)!.key;
  if (page.length < size) {
    s.state = 'done';
    s.finishedAt = new Date().toISOString();
  }
  return { objects: page.length, bytes: t.copiedBytes };
}

/** Whether the saved state still is this run's, and not cancelled (from any replica). */
async function stillMine(ctx: VirtualContext, bucket: string, s: MigrationState): Promise<boolean> {
  const saved = await loadState(ctx, bucket);
  return !saved || (saved.run === s.run && saved.state !== 'cancelled');
}

/**
 * One step of the `migrate` job's run `s` (its progress); `onState` sees every saved state. An
 * abort for 'cancel' ends the job; any other (the gateway closing) leaves it to resume.
 */
export async function migrateStep(ctx: VirtualContext, o: Origin, s: MigrationState, signal: AbortSignal, limiter: RateLimiter, onState: (s: MigrationState) => void): Promise<JobResult> {
  const bucket = o.bucket;
  if (!(await stillMine(ctx, bucket, s))) return { outcome: 'done' };
  if (s.runner !== ctx.jobs.owner) {
    if (s.runner) {
      s.resumes++;
      ctx.log('info', 'origin migration resumed', { bucket, run: s.run, cursor: s.cursor });
    }
    s.runner = ctx.jobs.owner;
    s.owner = ctx.replica;
  }
  const before = JSON.stringify(s);
  let moved = { objects: 1, bytes: 0 };
  try {
    if (!s.total) await countStep(o, s, signal);
    else moved = await copyStep(ctx, o, s, signal, limiter);
  } catch (e) {
    if (signal.aborted) return signal.reason === 'cancel' ? { outcome: 'done' } : { outcome: 'more', progress: before };
    s.lastError = (e as Error).message;
    ctx.log('warn', 'origin migration: a page failed; tried again later', { bucket, run: s.run, error: s.lastError });
    if (await stillMine(ctx, bucket, s)) { await saveState(ctx, bucket, s); onState(s); }
    return { outcome: 'later', ms: o.config.retryInterval, error: s.lastError };
  }
  if (!(await stillMine(ctx, bucket, s))) return { outcome: 'done' };
  await saveState(ctx, bucket, s);
  onState(s);
  if (s.state !== 'done') return { outcome: 'more', progress: JSON.stringify(s), ...moved };
  ctx.log('info', 'origin migration done', { bucket, run: s.run, copied: s.copied, skipped: s.skipped, failed: s.failed });
  return { outcome: 'done', ...moved };
}

// The migration job of one virtual bucket: every origin object copied in, in key order, paced by
// the rate limits. Its state — run number, cursor, counts — lives in the index (a meta value), so
// a gateway killed mid-run resumes from the last settled page when it starts again (or when
// another replica takes over a run whose owner stopped beating), and copies are idempotent
// (copy.ts skips keys already indexed or tombstoned): a second run copies nothing new.
//
//   run: count the origin (total objects and bytes: "remaining") → pages of PAGE keys after the
//   cursor → the keys neither indexed nor tombstoned copied, `concurrency` at a time → the cursor
//   and counts saved → … → done.
import type { VirtualContext } from '../context.ts';
import { copyFromOrigin } from './copy.ts';
import { originError, type Origin } from './origin.ts';
import { createRateLimiter } from './rate.ts';

const PAGE = 100;
const COUNT_PAGE = 1000;
/** A run whose owner saved nothing for this long is taken over. */
export const LEASE_MS = 60_000;
const HEARTBEAT_MS = 10_000;

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
  owner: string;
  heartbeat: string;
}

export const stateName = (bucket: string) => `origin-migration/${bucket}`;

export async function loadState(ctx: VirtualContext, bucket: string): Promise<MigrationState | undefined> {
  const v = await ctx.index.getMeta(stateName(bucket));
  return v ? (JSON.parse(v) as MigrationState) : undefined;
}

export const active = (s: MigrationState | undefined) => s?.state === 'counting' || s?.state === 'running';
const leased = (s: MigrationState, me: string) => active(s) && s.owner !== me && Date.now() - Date.parse(s.heartbeat) < LEASE_MS;

export function remaining(s: MigrationState): { objects: number; bytes: number } | undefined {
  if (!s.total) return undefined;
  return {
    objects: Math.max(0, s.total.objects - s.copied - s.skipped - s.failed),
    bytes: Math.max(0, s.total.bytes - s.copiedBytes - s.skippedBytes),
  };
}

export type StartResult = { started: MigrationState } | { refused: string };

async function save(ctx: VirtualContext, bucket: string, s: MigrationState): Promise<void> {
  s.heartbeat = new Date().toISOString();
  await ctx.index.setMeta(stateName(bucket), JSON.stringify(s));
}

async function count(o: Origin, signal: AbortSignal): Promise<{ objects: number; bytes: number }> {
  let objects = 0;
  let bytes = 0;
  let after = '';
  for (;;) {
    signal.throwIfAborted();
    const page = await o.store.scan(o.config.bucket, { prefix: '', after, limit: COUNT_PAGE }).catch((e: unknown) => { throw originError(o.bucket, e); });
    for (const m of page) { objects++; bytes += m.size; }
    if (page.length < COUNT_PAGE) return { objects, bytes };
    after = page.at(-1)!.key;
  }
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

/**
 * Runs (or resumes) the bucket's migration until it is done, cancelled (`signal`) or fails;
 * `onState` sees every saved state. A fresh run starts when `fresh` or when the last one ended.
 */
export async function migrate(ctx: VirtualContext, o: Origin, signal: AbortSignal, onState: (s: MigrationState) => void, fresh: boolean): Promise<MigrationState> {
  const bucket = o.bucket;
  const prev = await loadState(ctx, bucket);
  if (prev && leased(prev, ctx.replica)) throw new Error(`the migration of ${bucket} is running on ${prev.owner}`);
  const now = new Date().toISOString();
  const s: MigrationState = prev && active(prev) && !fresh
    ? { ...prev, owner: ctx.replica, resumes: prev.resumes + 1 }
    : { run: (prev?.run ?? 0) + 1, state: 'counting', startedAt: now, cursor: '', copied: 0, copiedBytes: 0, skipped: 0, skippedBytes: 0, failed: 0, resumes: 0, owner: ctx.replica, heartbeat: now };
  if (prev && active(prev) && !fresh) ctx.log('info', 'origin migration resumed', { bucket, run: s.run, cursor: s.cursor });
  await save(ctx, bucket, s);
  onState(s);
  const beat = setInterval(() => void save(ctx, bucket, s).catch(() => {}), HEARTBEAT_MS);
  beat.unref();
  const m = o.config.migrate;
  const limiter = createRateLimiter(m?.objectsPerSecond, m?.bandwidth);
  try {
    if (!s.total) {
      s.total = await count(o, signal);
      s.state = 'running';
      await save(ctx, bucket, s);
      onState(s);
    }
    for (;;) {
      signal.throwIfAborted();
      const page = await o.store.scan(o.config.bucket, { prefix: '', after: s.cursor, limit: PAGE }).catch((e: unknown) => { throw originError(bucket, e); });
      if (!page.length) break;
      const marks = await ctx.index.originMarksOf(bucket, page.map((p) => p.key));
      const deleted = new Set(marks.filter((x) => x.kind === 'deleted').map((x) => x.key));
      // Counted with the cursor, never before it: a page redone after a crash is counted once.
      const t = { copied: 0, copiedBytes: 0, skipped: 0, skippedBytes: 0, failed: 0, lastError: s.lastError };
      await pool(page, m?.concurrency ?? 4, signal, async (item) => {
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
      s.cursor = page.at(-1)!.key;
      await save(ctx, bucket, s);
      onState(s);
      if (page.length < PAGE) break;
    }
    s.state = 'done';
  } catch (e) {
    if (signal.aborted) {
      // Cancelled by the admin API, or the gateway closing: a closing gateway leaves the run to resume.
      if (signal.reason === 'cancel') s.state = 'cancelled';
      else return s;
    } else {
      s.state = 'failed';
      s.lastError = (e as Error).message;
      ctx.log('warn', 'origin migration failed', { bucket, run: s.run, error: s.lastError });
    }
  } finally {
    clearInterval(beat);
  }
  s.finishedAt = new Date().toISOString();
  await save(ctx, bucket, s);
  onState(s);
  if (s.state === 'done') ctx.log('info', 'origin migration done', { bucket, run: s.run, copied: s.copied, skipped: s.skipped, failed: s.failed });
  return s;
}

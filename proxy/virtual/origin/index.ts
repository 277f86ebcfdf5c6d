// Read-through origins (lazy migration) of the virtual buckets that name one. The virtual store
// calls in at four points, through `ctx.origins`:
//
//   read.ts   getObject / redirectUrl, index miss ─▶ read()  ─▶ read.ts (readThrough) ─▶ copier.ts ─▶ copy.ts
//   read.ts   scan ──────────────────────────────▶ scan()  ─▶ listing.ts (mergedScan)
//   write.ts  deleteObject, under the key's lock ─▶ hide()  (the tombstone: an origin mark 'deleted')
//   index.ts  open / reload / index ready / close ─▶ sync() · autoStart() · close()
//
// and the migration job (migrate.ts, rate.ts) runs here, started by `migrate.enabled` or the
// admin API (admin.ts). Everything it keeps lives in the placement index: tombstones and failed
// copies as origin marks, the migration's cursor and counts as a meta value.
import type { GetOptions, GetResult, ObjectMeta, ScanOptions } from '../../store/types.ts';
import type { OriginStatus } from '../../health/status.ts';
import type { VirtualContext } from '../context.ts';
import type { Generation } from '../runtime.ts';
import { createCopier, type Copier } from './copier.ts';
import { mergedScan } from './listing.ts';
import { active, loadState, migrate, remaining, type MigrationState } from './migrate.ts';
import { openOrigin, originFingerprint, type Origin } from './origin.ts';
import { readThrough } from './read.ts';

export type { MigrationState } from './migrate.ts';

export interface OriginService {
  serves(bucket: string): boolean;
  /** A GET/HEAD the index had no record for. */
  read(bucket: string, key: string, opts: GetOptions & { head?: boolean }): Promise<GetResult>;
  scan(bucket: string, indexed: (o: ScanOptions) => Promise<ObjectMeta[]>, opts: ScanOptions): Promise<ObjectMeta[]>;
  /** Before a delete, under the key's lock: the origin's copy stays hidden from now on. */
  hide(bucket: string, key: string): Promise<void>;
  /** Opens the origins of `gen` (a bad one throws BalancingConfigError), closes the ones it dropped. */
  sync(gen: Generation): Promise<void>;
  /** Starts or resumes the migrations `migrate.enabled` asks for (once the index is current). */
  autoStart(): void;
  /** A new run of the bucket's migration; refused while one runs. */
  startMigration(bucket: string): Promise<{ ok: true; state: MigrationState } | { ok: false; status: 404 | 409; message: string }>;
  cancelMigration(bucket: string): boolean;
  /** The migration's saved state, or undefined when it never ran. */
  migration(bucket: string): Promise<MigrationState | undefined>;
  /** Resolves when the migration running in this process for `bucket` (if any) ends. */
  migrationDone(bucket: string): Promise<void>;
  status(bucket: string): OriginStatus | undefined;
  /** Resolves once no background copy is queued or running. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export function createOriginService(ctx: VirtualContext): OriginService {
  const origins = new Map<string, Origin>();
  const states = new Map<string, MigrationState>();
  const runs = new Map<string, { abort: AbortController; done: Promise<void> }>();
  const copier: Copier = createCopier(ctx, (b) => origins.get(b));
  let autoEnabled = false;
  let closed = false;
  const retryTimers = new Set<NodeJS.Timeout>();

  function run(o: Origin, fresh: boolean): void {
    const abort = new AbortController();
    const done = migrate(ctx, o, abort.signal, (s) => states.set(o.bucket, { ...s }), fresh).then((s) => {
      // A run that failed (the origin down, say) is tried again while the config asks for it.
      if (s.state === 'failed' && autoEnabled && !closed && o.config.migrate?.enabled) {
        const t = setTimeout(() => { retryTimers.delete(t); if (origins.get(o.bucket) === o && !runs.has(o.bucket)) run(o, false); }, o.config.retryInterval);
        t.unref();
        retryTimers.add(t);
      }
    }, (e: unknown) => {
      ctx.log('warn', 'origin migration not started', { bucket: o.bucket, error: (e as Error).message });
    }).finally(() => { if (runs.get(o.bucket)?.abort === abort) runs.delete(o.bucket); });
    runs.set(o.bucket, { abort, done });
  }

  function autoStart(): void {
    autoEnabled = true;
    for (const o of origins.values()) {
      if (!o.config.migrate?.enabled || runs.has(o.bucket)) continue;
      const s = states.get(o.bucket);
      // A run that ended stays ended; the admin API starts another one.
      if (s && !active(s) && s.state !== 'failed') continue;
      run(o, false);
    }
  }

  async function refreshState(bucket: string): Promise<MigrationState | undefined> {
    const s = await loadState(ctx, bucket);
    if (s) states.set(bucket, s);
    return s;
  }

  return {
    serves: (bucket) => origins.has(bucket),
    read: (bucket, key, opts) => readThrough(ctx, origins.get(bucket)!, copier, key, opts),
    scan: (bucket, indexed, opts) => mergedScan(ctx, origins.get(bucket)!, indexed, opts),
    async hide(bucket, key) {
      if (origins.has(bucket)) await ctx.index.setOriginMark(bucket, key, 'deleted');
    },
    async sync(gen) {
      const next = new Map<string, Origin>();
      for (const vb of gen.buckets.values()) {
        const cfg = vb.config.origin;
        if (!cfg) continue;
        const old = origins.get(vb.name);
        next.set(vb.name, old && old.fingerprint === originFingerprint(vb.name, cfg, gen.config.timeouts) ? { ...old, config: cfg } : openOrigin(vb.name, cfg, gen.config.timeouts));
      }
      for (const [name, o] of origins) {
        if (next.get(name)?.store === o.store) continue;
        runs.get(name)?.abort.abort('close');
        void o.close().catch(() => {});
      }
      origins.clear();
      for (const [k, v] of next) origins.set(k, v);
      await Promise.all([...origins.keys()].map((b) => refreshState(b).catch(() => undefined)));
      if (autoEnabled) autoStart();
    },
    autoStart,
    async startMigration(bucket) {
      const o = origins.get(bucket);
      if (!o) return { ok: false, status: 404, message: `virtual bucket ${bucket} has no origin` };
      if (runs.has(bucket)) return { ok: false, status: 409, message: `the migration of ${bucket} is already running` };
      const s = await refreshState(bucket);
      if (s && active(s) && Date.now() - Date.parse(s.heartbeat) < 60_000 && s.owner !== ctx.replica) {
        return { ok: false, status: 409, message: `the migration of ${bucket} is running on ${s.owner}` };
      }
      run(o, true);
      // The run saves its first state before anything else.
      for (let i = 0; i < 100 && (states.get(bucket)?.run ?? 0) <= (s?.run ?? 0); i++) await new Promise((r) => setTimeout(r, 10));
      return { ok: true, state: states.get(bucket)! };
    },
    cancelMigration(bucket) {
      const r = runs.get(bucket);
      r?.abort.abort('cancel');
      return r !== undefined;
    },
    migration: (bucket) => refreshState(bucket),
    migrationDone: async (bucket) => { await runs.get(bucket)?.done; },
    status(bucket) {
      const o = origins.get(bucket);
      if (!o) return undefined;
      const c = copier.counters(bucket);
      const s = states.get(bucket);
      const left = s && remaining(s);
      return {
        endpoint: o.config.endpoint, bucket: o.config.bucket,
        reads: c.reads, copied: c.copied, copiedBytes: c.copiedBytes, copyFailures: c.failures, copiesQueued: c.queued + c.running,
        migration: s && {
          run: s.run, state: s.state, startedAt: s.startedAt, finishedAt: s.finishedAt, owner: s.owner, resumes: s.resumes,
          copied: s.copied, copiedBytes: s.copiedBytes, skipped: s.skipped, failed: s.failed,
          totalObjects: s.total?.objects, totalBytes: s.total?.bytes, remainingObjects: left?.objects, remainingBytes: left?.bytes, lastError: s.lastError,
        },
      };
    },
    idle: () => copier.idle(),
    async close() {
      closed = true;
      for (const t of retryTimers) clearTimeout(t);
      for (const r of runs.values()) r.abort.abort('close');
      await Promise.all([...runs.values()].map((r) => r.done));
      copier.stop();
      // Copies already streaming finish (their commits need the index still open), briefly.
      await Promise.race([copier.idle(), new Promise((r) => setTimeout(r, 5_000).unref())]);
      await Promise.all([...origins.values()].map((o) => o.close().catch(() => {})));
      origins.clear();
    },
  };
}

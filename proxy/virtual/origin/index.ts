// Read-through origins (lazy migration) of the virtual buckets that name one. The virtual store
// calls in at four points, through `ctx.origins`:
//
//   read.ts   getObject / redirectUrl, index miss ─▶ read()  ─▶ read.ts (readThrough) ─▶ copier.ts ─▶ copy.ts
//   read.ts   scan ──────────────────────────────▶ scan()  ─▶ listing.ts (mergedScan)
//   write.ts  deleteObject, under the key's lock ─▶ hide()  (the tombstone: an origin mark 'deleted')
//   index.ts  open / reload / index ready / close ─▶ sync() · autoStart() · close()
//
// Background work is on the durable job queue: an `origin-copy` job per key read through
// (copier.ts), and a `migrate` job per run (migrations.ts, migrate.ts, rate.ts), started by
// `migrate.enabled` or the admin API (admin.ts). Everything it keeps lives in the placement
// index: tombstones as origin marks, the jobs (with a failed copy's error), the migration's
// cursor and counts as a meta value.
import type { GetOptions, GetResult, ObjectMeta, ScanOptions } from '../../store/types.ts';
import type { OriginStatus } from '../../health/status.ts';
import type { VirtualContext } from '../context.ts';
import type { Generation } from '../runtime.ts';
import type { JobHandler } from '../../jobs/runner.ts';
import type { JobKind } from '../../placement/jobs.ts';
import { createCopier, type Copier } from './copier.ts';
import { mergedScan } from './listing.ts';
import { remaining, type MigrationState } from './migrate.ts';
import { createMigrations } from './migrations.ts';
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
  /** Ends the bucket's running migration; false when none runs. */
  cancelMigration(bucket: string): Promise<boolean>;
  /** The migration's saved state, or undefined when it never ran. */
  migration(bucket: string): Promise<MigrationState | undefined>;
  /** Resolves once the bucket's migration (if any) has ended. */
  migrationDone(bucket: string): Promise<void>;
  status(bucket: string): OriginStatus | undefined;
  /** Resolves once no background copy is due or running (a failing one waits for its retry). */
  idle(): Promise<void>;
  /** The handlers of the `origin-copy` and `migrate` jobs. */
  readonly handlers: Pick<Record<JobKind, JobHandler>, 'origin-copy' | 'migrate'>;
  close(): Promise<void>;
}

/** Its jobs wait while the index is rebuilt: index.ts holds every job while it is not ready. */
export function createOriginService(ctx: VirtualContext): OriginService {
  const origins = new Map<string, Origin>();
  const copier: Copier = createCopier(ctx, (b) => origins.get(b));
  const migrations = createMigrations(ctx, (b) => origins.get(b));
  let autoEnabled = false;

  function autoStart(): void {
    autoEnabled = true;
    void migrations.autoStart([...origins.values()]).catch((e: unknown) => ctx.log('warn', 'origin migration not started', { error: (e as Error).message }));
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
        migrations.abort(name);
        void o.close().catch(() => {});
      }
      origins.clear();
      for (const [k, v] of next) origins.set(k, v);
      await Promise.all([...origins.keys()].map((b) => migrations.refresh(b).catch(() => undefined)));
      if (autoEnabled) autoStart();
    },
    autoStart,
    async startMigration(bucket) {
      const o = origins.get(bucket);
      if (!o) return { ok: false, status: 404, message: `virtual bucket ${bucket} has no origin` };
      return migrations.start(o);
    },
    cancelMigration: (bucket) => migrations.cancel(bucket),
    migration: (bucket) => migrations.refresh(bucket),
    migrationDone: (bucket) => migrations.done(bucket),
    status(bucket) {
      const o = origins.get(bucket);
      if (!o) return undefined;
      const c = copier.counters(bucket);
      const s = migrations.state(bucket);
      const left = s && remaining(s);
      return {
        endpoint: o.config.endpoint, bucket: o.config.bucket,
        reads: c.reads, copied: c.copied, copiedBytes: c.copiedBytes, copyFailures: c.failures, copiesQueued: c.queued,
        migration: s && {
          run: s.run, state: s.state, startedAt: s.startedAt, finishedAt: s.finishedAt, owner: s.owner, resumes: s.resumes,
          copied: s.copied, copiedBytes: s.copiedBytes, skipped: s.skipped, failed: s.failed,
          totalObjects: s.total?.objects, totalBytes: s.total?.bytes, remainingObjects: left?.objects, remainingBytes: left?.bytes, lastError: s.lastError,
        },
      };
    },
    idle: () => copier.idle(),
    handlers: { 'origin-copy': copier.handler, migrate: migrations.handler },
    async close() {
      // The job runner is stopped first (index.ts): a step still running ends, its job resumes later.
      migrations.abort();
      copier.stop();
      await Promise.all([...origins.values()].map((o) => o.close().catch(() => {})));
      origins.clear();
    },
  };
}

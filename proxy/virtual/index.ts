// openVirtualStore: an ObjectStore whose buckets are the configured virtual buckets, each spread
// over its backends. The front calls it like any store, plus redirectUrl() for redirect mode,
// status() for /status, reindex() for `floodgate gateway reindex`, and reload()/watch() to
// apply a new configuration without a restart.
//
//   openVirtualStore ─┬─ runtime.ts (generations: backends.ts, balancer/)
//                     ├─ placement/ (sqlite.ts | postgres.ts)      health/monitor.ts
//                     ├─ write.ts  putObject · deleteObject · commitWrite
//                     │    location.ts (backend-side names) · removals.ts (queued removals)
//                     ├─ read.ts   getObject · scan · redirectUrl · lookup
//                     ├─ multipart.ts · repair.ts (reconcileKey, recoverIntents)
//                     ├─ cors.ts (bucket CORS rules in the index's meta table)
//                     ├─ jobs/runner.ts: copy-jobs.ts · gc/ (orphans) · origin/ (copier.ts, migrations.ts)
//                     └─ sweep.ts · reindex.ts · status.ts · reload.ts
//                        copy-settings.ts · placement-settings.ts: repairs and rebalances a changed configuration needs
//                        index-check.ts (index-marker.ts): rebuild a stale index before serving
import { traceIndex } from '../observability/traced-index.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Registry } from 'prom-client';
import type { BucketInfo, ObjectStore } from '../store/types.ts';
import { S3Error } from '../s3/errors.ts';
import { createHealthMonitor, type BackendHealth, type HealthMonitor } from '../health/monitor.ts';
import { registerBackendMetrics } from '../health/metrics.ts';
import type { StatusSnapshot } from '../health/status.ts';
import { openSqliteIndex } from '../placement/sqlite.ts';
import type { PlacementIndex } from '../placement/types.ts';
import { BalancingConfigError, loadBalancingConfig, type BalancingConfig } from './config.ts';
import { vbucketOf, type LogFn, type VirtualContext } from './context.ts';
import { createKeyLock } from './key-lock.ts';
import * as mp from './multipart.ts';
import { getObject, redirectUrl, scan, type RedirectOptions } from './read.ts';
import { reindex, type ReindexReport } from './reindex.ts';
import { ensureIndexCurrent, type IndexCheck } from './index-check.ts';
import { recoverIntents } from './repair.ts';
import { createRuntime, type Generation, type Runtime } from './runtime.ts';
import { startSweeper, sweepUploads, type Sweeper } from './sweep.ts';
import { statusSnapshot } from './status.ts';
import { createUsageTracker } from './usage.ts';
import { deleteObject, putObject } from './write.ts';
import { watchConfig } from './reload.ts';
import { virtualCors } from './cors.ts';
import type { BucketCorsStore } from '../s3/cors.ts';
import type { Job, JobKind } from '../placement/jobs.ts';
import { createJobRunner, type JobHandler, type JobRunner } from '../jobs/runner.ts';
import { copyJobHandlers, queueRepairs } from './copy-jobs.ts';
import { checkCopySettings } from './copy-settings.ts';
import { checkPlacement } from './placement-settings.ts';
import { createDrainBook, startConfiguredDrains, startDrain, startRebalance, undrain, type StartResult } from './drains.ts';
import { createOriginService, type OriginService } from './origin/index.ts';
import { checkOrigins } from './origin/origin.ts';
import { registerOriginMetrics } from './origin/metrics.ts';
import { createGcService, type GcService } from './gc/service.ts';
import { registerGcMetrics } from './gc/metrics.ts';

export { loadBalancingConfig, parseBalancingConfig, BalancingConfigError, type BalancingConfig } from './config.ts';
export type { ReindexReport } from './reindex.ts';
export type { IndexCheck } from './index-check.ts';

export interface VirtualStore extends ObjectStore, BucketCorsStore {
  /** Redirect mode: where to send a GET/HEAD (307), or undefined to serve it through the gateway. */
  redirectUrl(bucket: string, key: string, opts?: RedirectOptions): Promise<URL | undefined>;
  isRedirectBucket(bucket: string): boolean;
  reindex(opts?: { removeStrays?: boolean }): Promise<ReindexReport>;
  /**
   * The gateway's start: rebuilds the index when it is empty or older than its backends
   * (index-marker.ts), retrying until every backend could be listed. Until it resolves, S3 calls
   * answer 503 and `indexReady` is false. Undefined when `signal` aborted first.
   */
  ensureIndexCurrent(signal?: AbortSignal): Promise<IndexCheck | undefined>;
  readonly indexReady: boolean;
  /** Applies a new configuration (or re-reads the file given at open); in-flight requests finish on the old one. */
  reload(config?: BalancingConfig): Promise<void>;
  /** Reloads on SIGHUP and when the config file changes; returns a function that stops watching. */
  watch(): () => void;
  status(): StatusSnapshot;
  registerMetrics(registry: Registry): void;
  /** Aborts multipart uploads older than uploads.maxAge now (also runs on a timer). */
  sweepUploads(): Promise<number>;
  /** The backend the index places a key on (no read repair), for matching faults by backend. */
  locate(bucket: string, key: string): Promise<string | undefined>;
  readonly health: HealthMonitor;
  readonly index: PlacementIndex;
  readonly generation: number;
  /** The background job runner (tests wait on `jobs.idle()`). */
  readonly jobs: JobRunner;
  /** Read-through origins and their migrations (origin/). */
  readonly origins: OriginService;
  /** Garbage collection of orphans (gc/): started by the admin API or on gc.interval. */
  readonly gc: GcService;
  /** Drains and rebalances (drains.ts, moves.ts), for the admin API. */
  readonly moves: {
    drain(bucket: string, backend: string): Promise<StartResult>;
    undrain(bucket: string, backend: string): Promise<StartResult | { ok: true; job?: undefined }>;
    rebalance(bucket: string): Promise<StartResult>;
  };
  /**
   * Per kind, what a job cancelled through the admin API (jobs-route.ts) leaves to settle once it
   * is off the queue: a gc or migrate run's saved state is marked cancelled, not left running.
   */
  readonly onJobCancel: Partial<Record<JobKind, (job: Job) => Promise<void>>>;
}

export interface VirtualStoreOptions {
  /** Where the default sqlite index lives (<dataDir>/index.db). */
  dataDir?: string;
  /** The file the configuration came from: reload() and watch() read it. */
  configPath?: string;
  log?: LogFn;
  /**
   * A backend this answers true for is treated as down (no writes, reads 503) whatever its probes
   * say: the gateway's `backendDown` fault (injector/faults). Called per candidate; keep it cheap.
   */
  backendDown?: (name: string) => boolean;
  /**
   * The caller calls ensureIndexCurrent() next (the gateway's start): until it finds the index
   * current, S3 calls answer 503 and background jobs wait. Without it the index is trusted as is.
   */
  checkIndex?: boolean;
}

const FORCED_DOWN = 'a backendDown fault is active';

/** The monitor as the store sees it, with forced-down backends reported down. */
function withForcedDown(inner: HealthMonitor, down: ((name: string) => boolean) | undefined): HealthMonitor {
  if (!down) return inner;
  const view = (h: BackendHealth | undefined): BackendHealth | undefined =>
    h && down(h.name) ? { ...h, state: 'down', lastError: FORCED_DOWN } : h;
  return {
    ...inner,
    healthy: (name) => !down(name) && inner.healthy(name),
    get: (name) => view(inner.get(name)),
    snapshot: () => inner.snapshot().map((h) => view(h)!),
  };
}

async function openIndex(config: BalancingConfig, dataDir: string | undefined): Promise<PlacementIndex> {
  const ix = config.index ?? { kind: 'sqlite' as const, path: join(dataDir ?? './data', 'index.db') };
  if (ix.kind === 'sqlite') return openSqliteIndex(ix.path);
  const url = 'url' in ix ? ix.url : readIndexUrl(ix.urlFile);
  // The postgres driver is loaded only for a postgres index (start-up RSS, docs/performance.md).
  const { openPostgresIndex } = await import('../placement/postgres.ts');
  return openPostgresIndex(url, { schema: ix.schema, poolSize: ix.poolSize });
}

function readIndexUrl(file: string): string {
  let url: string;
  try {
    url = readFileSync(file, 'utf8').trim();
  } catch (cause) {
    throw new BalancingConfigError(`index.urlFile: cannot read ${file}`, { cause });
  }
  if (!url) throw new BalancingConfigError(`index.urlFile: ${file} is empty`);
  return url;
}

function wireHealth(health: HealthMonitor, gen: Generation): void {
  health.setBackends([...gen.backends.values()].map((b) => ({ name: b.name, probe: (signal: AbortSignal) => b.probe(signal) })));
}

/** Opens from a YAML file; see config.ts for the format. */
export async function openVirtualStoreFromFile(path: string, opts: Omit<VirtualStoreOptions, 'configPath'> = {}): Promise<VirtualStore> {
  return openVirtualStore(loadBalancingConfig(path), { ...opts, configPath: path });
}

export async function openVirtualStore(config: BalancingConfig, opts: VirtualStoreOptions = {}): Promise<VirtualStore> {
  const log: LogFn = opts.log ?? (() => {});
  const index = traceIndex(await openIndex(config, opts.dataDir), config.index?.kind ?? 'sqlite');
  const h = config.health;
  const monitor = createHealthMonitor({ intervalMs: h.interval, recoveryIntervalMs: h.recoveryInterval, failureThreshold: h.failureThreshold, recoveryThreshold: h.recoveryThreshold, probeTimeoutMs: h.probeTimeout });
  const health = withForcedDown(monitor, opts.backendDown);
  monitor.onChange((s) => log(s.state === 'down' ? 'warn' : 'info', `backend ${s.state}`, { backend: s.name, error: s.lastError }));
  let rt: Runtime;
  try {
    rt = await createRuntime(config);
  } catch (e) {
    await index.close();
    throw e;
  }
  const ctx: VirtualContext = { rt, index, health, usage: createUsageTracker(index), locks: createKeyLock(), replica: config.replica, running: new Set(), jobs: undefined as unknown as JobRunner, drains: createDrainBook({ index, rt, log }), log };
  const j = config.jobs;
  const gc = createGcService(ctx);
  ctx.gc = gc;
  // False while the index is rebuilt from the backends (and, with `checkIndex`, until it was
  // checked): S3 calls answer 503 and no job runs. A job on a stale index would act on records
  // that are missing or old — gc would delete every object the index does not name yet.
  let indexReady = !opts.checkIndex;
  const origins = createOriginService(ctx);
  ctx.origins = origins;
  const handlers: Record<JobKind, JobHandler> = { ...copyJobHandlers(ctx), gc: gc.handler, ...origins.handlers };
  const waitForIndex = (h: JobHandler): JobHandler => (job, signal) =>
    indexReady ? h(job, signal) : Promise.resolve({ outcome: 'more', progress: job.progress ?? '', ms: 1_000, objects: 0 });
  ctx.jobs = createJobRunner(index.jobs, Object.fromEntries(Object.entries(handlers).map(([k, h]) => [k, waitForIndex(h)])) as Record<JobKind, JobHandler>, {
    replica: config.replica, leaseMs: j.lease, concurrency: j.concurrency, jobsPerSecond: j.objectsPerSecond, bytesPerSecond: j.bytesPerSecond, pollMs: j.pollInterval, log,
  });
  // A backend back from an outage: check its copies and write what it missed.
  // Removals left for it are settled now rather than at the sweeper's next pass.
  let settling = false;
  monitor.onChange((s) => {
    if (s.state !== 'up' || closed) return;
    void queueRepairs(ctx, s.name).catch((e: unknown) => log('warn', 'repair not queued', { backend: s.name, error: (e as Error).message }));
    if (settling) return;
    settling = true;
    void recoverIntents(ctx, rt.current()).catch(() => {}).finally(() => { settling = false; });
  });
  try {
    await origins.sync(rt.current());
  } catch (e) {
    gc.stop();
    await origins.close();
    await ctx.jobs.stop();
    await rt.close();
    await index.close();
    throw e;
  }
  wireHealth(health, rt.current());
  await ctx.usage.refresh();
  await gc.refresh();
  health.start();
  await health.probeAll();
  let closed = false;
  const left = await recoverIntents(ctx, rt.current());
  if (left) log('warn', 'write intents left to settle once their backends answer', { count: left });
  let sweeper: Sweeper = startSweeper(ctx);
  await checkCopySettings(ctx);
  await startConfiguredDrains(ctx, rt.current());
  await checkPlacement(ctx);
  ctx.drains.start();
  ctx.jobs.start();

  async function reload(next?: BalancingConfig): Promise<void> {
    const cfg = next ?? (opts.configPath ? loadBalancingConfig(opts.configPath) : undefined);
    if (!cfg) throw new Error('reload() needs a configuration: the store was not opened from a file');
    checkOrigins(cfg);
    const gen = await rt.reload(cfg);
    await origins.sync(gen);
    wireHealth(health, gen);
    sweeper.stop();
    sweeper = startSweeper(ctx);
    await checkCopySettings(ctx);
    await startConfiguredDrains(ctx, gen);
    await checkPlacement(ctx);
    log('info', 'configuration reloaded', { generation: gen.id, backends: [...gen.backends.keys()], virtualBuckets: [...gen.buckets.keys()] });
  }

  const bucketInfo = (gen: Generation, name: string): BucketInfo => ({ name, creationDate: vbucketOf(gen, name).created });
  // While the index is rebuilt, a listing would miss objects and a write could race the rebuild.
  const gated = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
    if (!indexReady) throw new S3Error('ServiceUnavailable', 'The gateway is rebuilding its placement index from the backends; retry shortly.');
    return fn(...a);
  };

  const store: VirtualStore = {
    health,
    index,
    jobs: ctx.jobs,
    origins,
    gc,
    moves: {
      drain: (b, backend) => startDrain(ctx, b, backend),
      undrain: (b, backend) => undrain(ctx, b, backend),
      rebalance: (b) => startRebalance(ctx, b),
    },
    onJobCancel: {
      gc: (job) => gc.cancelled(job.bucket, job.backend),
      migrate: async (job) => { await origins.cancelMigration(job.bucket); },
    },
    get generation() { return rt.current().id; },
    async listBuckets() {
      const gen = rt.current();
      return [...gen.buckets.keys()].sort().map((n) => bucketInfo(gen, n));
    },
    async createBucket(bucket) {
      if (rt.current().buckets.has(bucket)) throw new S3Error('BucketAlreadyOwnedByYou');
      throw new S3Error('AccessDenied', `Virtual buckets are configured, not created through S3: add ${bucket} to virtualBuckets in the gateway's config file, or create a VirtualBucket resource when the operator runs the gateway.`);
    },
    async headBucket(bucket) {
      return bucketInfo(rt.current(), bucket);
    },
    async deleteBucket(bucket) {
      vbucketOf(rt.current(), bucket);
      if ((await index.scan(bucket, { prefix: '', after: '', limit: 1 })).length) throw new S3Error('BucketNotEmpty');
      throw new S3Error('AccessDenied', `Virtual buckets are configured, not deleted through S3: remove ${bucket} from virtualBuckets in the gateway's config file, or delete its VirtualBucket resource when the operator runs the gateway.`);
    },
    putObject: gated((b, k, input) => putObject(ctx, b, k, input)),
    getObject: gated((b, k, o) => getObject(ctx, b, k, o)),
    deleteObject: gated((b, k) => deleteObject(ctx, b, k)),
    scan: gated((b, o) => scan(ctx, b, o)),
    createMultipartUpload: gated((b, k, hd, alg, type) => mp.createMultipartUpload(ctx, b, k, hd, alg, type)),
    uploadPart: gated((b, k, id, n, input) => mp.uploadPart(ctx, b, k, id, n, input)),
    completeMultipartUpload: gated((b, k, id, parts, c, sum) => mp.completeMultipartUpload(ctx, b, k, id, parts, c, sum)),
    abortMultipartUpload: gated((b, k, id) => mp.abortMultipartUpload(ctx, b, k, id)),
    listParts: gated((b, k, id, after, limit) => mp.listParts(ctx, b, k, id, after, limit)),
    listMultipartUploads: gated((b, o) => mp.listMultipartUploads(ctx, b, o)),
    redirectUrl: gated((b, k, o) => redirectUrl(ctx, b, k, o)),
    // Not gated: the rules live in the index's meta table, which a rebuild leaves alone.
    ...virtualCors(ctx),
    locate: async (b, k) => (await index.get(b, k))?.backend,
    isRedirectBucket: (b) => rt.current().buckets.get(b)?.config.mode === 'redirect',
    reindex: (o) => reindex(ctx, o),
    get indexReady() { return indexReady; },
    async ensureIndexCurrent(signal) {
      indexReady = false;
      const r = await ensureIndexCurrent(ctx, signal);
      if (r?.current) {
        indexReady = true;
        origins.autoStart();
      }
      return r;
    },
    reload,
    watch() {
      if (!opts.configPath) throw new Error('watch() needs the store to be opened from a file');
      return watchConfig(opts.configPath, () => reload(), log);
    },
    status: () => statusSnapshot(ctx),
    registerMetrics: (registry) => {
      registerBackendMetrics(registry, async () => statusSnapshot(ctx));
      registerOriginMetrics(registry, async () => statusSnapshot(ctx));
      registerGcMetrics(registry, async () => statusSnapshot(ctx));
    },
    sweepUploads: () => sweepUploads(ctx),
    async close() {
      if (closed) return;
      closed = true;
      sweeper.stop();
      gc.stop();
      ctx.drains.stop();
      await ctx.jobs.stop();
      await origins.close();
      health.stop();
      await rt.close();
      await index.close();
    },
  };
  return store;
}

// What every virtual-store operation works with, and the small lookups they share: the virtual
// bucket, the backend holding a record, the backend-side key, health bookkeeping around each
// backend call.
import type { Candidate } from '../balancer/strategies.ts';
import type { HealthMonitor } from '../health/monitor.ts';
import type { PlacedObject, PlacementIndex } from '../placement/types.ts';
import type { ObjectMeta } from '../store/types.ts';
import { S3Error } from '../s3/errors.ts';
import { backendUnavailable, isBackendFault } from '../backends/s3/errors.ts';
import type { BackendHandle } from './backends.ts';
import type { KeyLock } from './key-lock.ts';
import type { Generation, Runtime, VirtualBucketRuntime } from './runtime.ts';
import type { UsageTracker } from './usage.ts';
import type { JobRunner } from '../jobs/runner.ts';
import type { OriginService } from './origin/index.ts';
import type { GcService } from './gc/service.ts';
import type { DrainBook } from './drains.ts';

export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface VirtualContext {
  rt: Runtime;
  index: PlacementIndex;
  health: HealthMonitor;
  usage: UsageTracker;
  locks: KeyLock;
  /** This replica's name, stamped on its write intents. */
  replica: string;
  /** Intents of writes still running in this process (never swept). */
  running: Set<number>;
  /** Runs the index's durable jobs (copies to write or remove, repairs). */
  jobs: JobRunner;
  log: LogFn;
  /** Backends drained or being drained, per virtual bucket: they take no new writes (drains.ts). */
  drains: DrainBook;
  /** Read-through origins (origin/): consulted on an index miss, a listing and a delete. */
  origins?: OriginService;
  /** Garbage collection of orphans (gc/): its runs' states for /status. */
  gc?: GcService;
}

/** Where a virtual bucket's key lives on a backend: namespaced, so buckets sharing a backend never collide. */
export function backendKey(bucket: string, key: string): string {
  return `${bucket}/${key}`;
}

/** The in-process lock name of a key. */
export function lockKey(bucket: string, key: string): string {
  return `${bucket}\n${key}`;
}

export function vbucketOf(gen: Generation, bucket: string): VirtualBucketRuntime {
  const vb = gen.buckets.get(bucket);
  if (!vb) throw new S3Error('NoSuchBucket', undefined, { details: { BucketName: bucket } });
  return vb;
}

/** The backend a record points at, ready to serve it (configured and not marked down). */
export function backendOf(ctx: VirtualContext, gen: Generation, name: string): BackendHandle {
  const b = gen.backends.get(name);
  if (!b) throw backendUnavailable(name, 'it is no longer in the configuration');
  if (!ctx.health.healthy(name)) {
    const h = ctx.health.get(name);
    throw backendUnavailable(name, `it is marked down${h?.lastError ? ` (${h.lastError})` : ''}`);
  }
  return b;
}

/**
 * Runs one backend call, feeding its outcome to the health monitor. A call ended through `signal`
 * (a hedged read's loser) says nothing of the backend's health: neither counted nor timed.
 */
export async function onBackend<T>(ctx: VirtualContext, b: BackendHandle, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const started = performance.now();
  try {
    const out = await fn();
    ctx.health.reportSuccess(b.name, performance.now() - started);
    return out;
  } catch (e) {
    if (signal?.aborted) throw e;
    if (isBackendFault(e)) ctx.health.reportFailure(b.name, e);
    else if (e instanceof S3Error && e.code === 'NoSuchBucket') {
      // The backend's own bucket is gone: the backend's fault, never the client's.
      const err = backendUnavailable(b.name, `its bucket ${b.bucket} does not exist`, e);
      ctx.health.reportFailure(b.name, err);
      throw err;
    } else ctx.health.reportSuccess(b.name, performance.now() - started);
    throw e;
  }
}

export function candidatesOf(ctx: VirtualContext, gen: Generation, vb: VirtualBucketRuntime): Candidate[] {
  return vb.backends.map((name): Candidate => {
    const cfg = gen.backends.get(name)!.config;
    // A drained (or draining) backend takes no new writes: no strategy picks a backend that is not healthy.
    const drained = ctx.drains.blocks(vb.name, name);
    return { name, healthy: !drained && ctx.health.healthy(name), weight: drained ? 0 : cfg.weight, maxSize: cfg.maxSize, used: ctx.usage.used(name), ...(drained ? { drained } : {}) };
  });
}

/** Why no backend could take a write, for the 503's message. */
export function noBackendMessage(cands: Candidate[], size: number): string {
  const why = cands.map((c) => `${c.name}: ${c.drained ? 'drained' : !c.healthy ? 'down' : c.weight <= 0 ? 'weight 0' : c.maxSize !== undefined && c.used + size > c.maxSize ? 'full' : 'not chosen'}`);
  return `No backend can take an object of ${size} bytes (${why.join(', ') || 'no backends'}).`;
}

export function metaOf(rec: PlacedObject): ObjectMeta {
  const { bucket: _bucket, backend: _backend, location: _location, copies: _copies, ...meta } = rec;
  return meta;
}

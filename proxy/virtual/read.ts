// Reads: the index says where an object is and what it is; the backend supplies the bytes.
// Conditions are judged on the index's metadata (what the client is served); the backend read
// carries If-Match on the indexed ETag, so bytes of any other version are never served under
// this metadata — a mismatch repairs the index and the read is tried once more.
import type { Readable } from 'node:stream';
import type { GetOptions, GetResult, ObjectMeta, ScanOptions } from '../store/types.ts';
import type { PlacedObject } from '../placement/types.ts';
import { S3Error } from '../s3/errors.ts';
import { backendOf, lockKey, metaOf, onBackend, vbucketOf, type VirtualContext } from './context.ts';
import { nameOf } from './location.ts';
import { checkReadConditions } from '../store/conditions.ts';
import { reconcileKey } from './repair.ts';
import type { Generation } from './runtime.ts';
import { isBackendFault, backendUnavailable } from '../backends/s3/errors.ts';
import { readOrder, type CopyAt } from './copies.ts';

const isStale = (e: unknown) => e instanceof S3Error && (e.code === 'PreconditionFailed' || e.code === 'NoSuchKey');

type CopyRead = { body?: Readable; range?: { start: number; end: number } };

/**
 * A read of an object with several copies: the fastest healthy copy first; the next one after a
 * connection error, a 5xx or a missing copy, and also (hedged) when the copy asked has not
 * answered within its hedge delay (config `hedge`: a stalled backend that accepts connections
 * and never answers costs that delay, not the first-byte timeout). The first answer is served;
 * the requests still waiting are aborted then, so one to a stalled backend does not hold its
 * connection until the first-byte timeout (nor is it counted for or against that backend's
 * health: onBackend). All of it happens before a byte reaches the client: a body that fails
 * once streaming cannot move to another copy, the client sees the truncation and retries.
 */
async function readCopies(ctx: VirtualContext, gen: Generation, rec: PlacedObject, opts: GetOptions & { head?: boolean }): Promise<CopyRead | undefined> {
  // A part of a multipart object exists only where the copy is that same multipart object.
  const usable = (c: CopyAt) => ctx.health.healthy(c.backend) && (!opts.partNumber || c.etag === rec.etag);
  const order = readOrder(ctx, gen, rec).filter(usable);
  if (!order.length) throw backendUnavailable(rec.backend, 'every copy of the object is on a backend marked down');
  if (opts.head && !opts.range && !opts.partNumber) return undefined;
  const h = gen.config.hedge;
  const delay = (c: CopyAt) => Math.min(h.max, Math.max(h.min, h.latencyFactor * (ctx.health.get(c.backend)?.latencyMs ?? h.max)));
  return new Promise<CopyRead>((resolve, reject) => {
    let next = 0;
    let inflight = 0;
    let settled = false;
    let last: unknown;
    let timer: NodeJS.Timeout | undefined;
    const asked = new Set<AbortController>();
    // `done`: the request that settles the read; every other one still waiting ends now.
    const finish = (done: AbortController, fn: () => void) => {
      settled = true;
      clearTimeout(timer);
      for (const a of asked) if (a !== done) a.abort();
      fn();
    };
    const ask = () => {
      clearTimeout(timer);
      if (settled || next >= order.length) return;
      const c = order[next++]!;
      const b = gen.backends.get(c.backend)!;
      inflight++;
      const ac = new AbortController();
      asked.add(ac);
      onBackend(ctx, b, () => b.store.getObject(b.bucket, nameOf({ bucket: rec.bucket, key: rec.key, location: c.location }), {
        head: opts.head, range: opts.range, partNumber: opts.partNumber, conditions: { ifMatch: `"${c.etag}"` }, signal: ac.signal,
      }), ac.signal).then((r) => {
        inflight--;
        if (settled) r.body?.destroy();
        else finish(ac, () => resolve(r));
      }, (e: unknown) => {
        inflight--;
        if (settled) return;
        if (!(isBackendFault(e) || isStale(e) || (e instanceof S3Error && e.status >= 500))) return finish(ac, () => reject(e));
        ctx.log(isStale(e) ? 'warn' : 'info', 'copy not readable, trying the next', { bucket: rec.bucket, key: rec.key, backend: c.backend, error: (e as Error).message });
        last = e;
        // Nobody else asked: the next copy now; otherwise the pending hedge timer asks it.
        if (inflight === 0) {
          if (next < order.length) ask();
          else finish(ac, () => reject(last));
        }
      });
      if (next < order.length) {
        timer = setTimeout(() => {
          ctx.log('debug', 'copy slow to answer, asking the next too', { bucket: rec.bucket, key: rec.key, backend: c.backend });
          ask();
        }, delay(c));
      }
    };
    ask();
  });
}

/** The record of a key; on a miss (with read repair on) the backends are asked and the index repaired. */
export async function lookup(ctx: VirtualContext, gen: Generation, bucket: string, key: string): Promise<PlacedObject | undefined> {
  const rec = await ctx.index.get(bucket, key);
  if (rec || !gen.config.readRepair) return rec;
  return ctx.locks.run(lockKey(bucket, key), async () => {
    const again = await ctx.index.get(bucket, key);
    if (again) return again;
    await reconcileKey(ctx, gen, bucket, key, 'read');
    return ctx.index.get(bucket, key);
  });
}

/** Releases the generation when the body is done with, however it ends. */
function releaseWith(body: Readable | undefined, release: () => void): void {
  if (!body) return release();
  body.once('close', release);
  if (body.destroyed) release();
}

export async function getObject(ctx: VirtualContext, bucket: string, key: string, opts: GetOptions & { head?: boolean }): Promise<GetResult> {
  const { gen, release } = ctx.rt.enter();
  let handedOff = false;
  try {
    vbucketOf(gen, bucket);
    for (let attempt = 0; ; attempt++) {
      const rec = await lookup(ctx, gen, bucket, key);
      if (!rec && ctx.origins?.serves(bucket)) return await ctx.origins.read(bucket, key, opts);
      if (!rec) throw new S3Error('NoSuchKey', undefined, { details: { Key: key } });
      const meta: ObjectMeta = metaOf(rec);
      checkReadConditions(meta, opts.conditions);
      if (rec.copies?.length) {
        const r = await readCopies(ctx, gen, rec, opts);
        if (!r) return { meta };
        handedOff = true;
        releaseWith(r.body, release);
        return { meta, body: r.body, range: r.range };
      }
      const b = backendOf(ctx, gen, rec.backend);
      // A HEAD is answered from the index alone (the backend is up, the record is the truth).
      if (opts.head && !opts.range && !opts.partNumber) return { meta };
      try {
        const r = await onBackend(ctx, b, () => b.store.getObject(b.bucket, nameOf(rec), {
          head: opts.head, range: opts.range, partNumber: opts.partNumber, conditions: { ifMatch: `"${rec.etag}"` },
        }));
        handedOff = true;
        releaseWith(r.body, release);
        return { meta, body: r.body, range: r.range };
      } catch (e) {
        const stale = e instanceof S3Error && (e.code === 'PreconditionFailed' || e.code === 'NoSuchKey');
        if (!stale || attempt > 0) throw e;
        // The backend's copy is not what the index says: settle the key, then read again.
        await ctx.locks.run(lockKey(bucket, key), () => reconcileKey(ctx, gen, bucket, key, 'read'));
      }
    }
  } finally {
    if (!handedOff) release();
  }
}

export async function scan(ctx: VirtualContext, bucket: string, opts: ScanOptions): Promise<ObjectMeta[]> {
  vbucketOf(ctx.rt.current(), bucket);
  const indexed = async (o: ScanOptions) => (await ctx.index.scan(bucket, o)).map(metaOf);
  return ctx.origins?.serves(bucket) ? ctx.origins.scan(bucket, indexed, opts) : indexed(opts);
}

export interface RedirectOptions {
  method?: 'GET' | 'HEAD';
  /** response-* overrides to carry into the presigned URL. */
  query?: [string, string][];
}

/**
 * Redirect mode: a presigned URL on the backend that holds the object, or undefined when the
 * bucket is in proxy mode or the object's backend cannot presign (fs): then serve it normally.
 * Throws NoSuchKey, or 503 when the backend is down.
 */
export async function redirectUrl(ctx: VirtualContext, bucket: string, key: string, o: RedirectOptions = {}): Promise<URL | undefined> {
  const gen = ctx.rt.current();
  const vb = vbucketOf(gen, bucket);
  if (vb.config.mode !== 'redirect') return undefined;
  const rec = await lookup(ctx, gen, bucket, key);
  // Not copied in yet: served from the origin, through the gateway.
  if (!rec && ctx.origins?.serves(bucket)) return undefined;
  if (!rec) throw new S3Error('NoSuchKey', undefined, { details: { Key: key } });
  // The fastest healthy copy that is the indexed object itself (ETag and all).
  const copy = rec.copies?.length ? readOrder(ctx, gen, rec).find((c) => ctx.health.healthy(c.backend) && c.etag === rec.etag) : undefined;
  const b = backendOf(ctx, gen, copy?.backend ?? rec.backend);
  if (!b.presign) return undefined;
  const ns = nameOf({ bucket, key, location: copy ? copy.location : rec.location });
  // WHATWG URLs resolve dot segments; such keys are served through the gateway instead.
  if (/(^|\/)\.{1,2}(\/|$)/.test(ns)) return undefined;
  const query = (o.query ?? []).filter(([k]) => /^response-/i.test(k)).sort(([a], [b2]) => (a < b2 ? -1 : 1));
  return b.presign(o.method ?? 'GET', ns, Math.max(1, Math.round(vb.config.redirectExpiry / 1000)), query);
}

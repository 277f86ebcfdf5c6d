// Garbage collection on the gateway's admin API (proxy/admin/api.ts: bearer token, JSON):
//   GET  /_floodgate/admin/gc?bucket=<b>               the last (or running) run per backend
//   POST /_floodgate/admin/gc?bucket=<b>[&backend=<n>] queue a run on each backend (or one) that has none going
import { HttpError, requiredParam, requireIndexReady, type AdminRoute } from '../../admin/api.ts';
import type { VirtualStore } from '../index.ts';

function bucketOf(v: VirtualStore | undefined, query: URLSearchParams): string {
  const bucket = requiredParam(query, 'bucket', '?bucket=<virtual bucket>');
  if (!v) throw new HttpError(501, 'garbage collection is of virtual buckets; this gateway serves the embedded store');
  if (!v.status().virtualBuckets.some((b) => b.name === bucket)) throw new HttpError(404, `bucket: no virtual bucket "${bucket}"`);
  return bucket;
}

export function gcRoutes(v: VirtualStore | undefined): AdminRoute[] {
  return [
    {
      method: 'GET', path: 'gc',
      async handle(_req, query) {
        const bucket = bucketOf(v, query);
        await v!.gc.refresh();
        return { bucket, runs: v!.gc.status(bucket) };
      },
    },
    {
      method: 'POST', path: 'gc',
      async handle(_req, query) {
        const bucket = bucketOf(v, query);
        const backend = query.get('backend') ?? undefined;
        const vb = v!.status().virtualBuckets.find((b) => b.name === bucket)!;
        if (backend !== undefined && !vb.backends.includes(backend)) throw new HttpError(404, `backend: "${backend}" is not a backend of ${bucket}`);
        requireIndexReady(v!);
        const queued = await v!.gc.start(bucket, backend);
        return { bucket, queued: queued.map((p) => p.backend), runs: v!.gc.status(bucket) };
      },
    },
  ];
}

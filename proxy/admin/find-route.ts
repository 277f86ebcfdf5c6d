// GET /_floodgate/admin/find: one page of the metadata search, as JSON:
//   { bucket, objects: [{ key, size, etag, lastModified, contentType?, userMeta, backend, replicas }],
//     isTruncated, nextContinuationToken? }
import type { FoundObject } from '../placement/find.ts';
import type { VirtualStore } from '../virtual/index.ts';
import { HttpError, requireIndexReady, type AdminRoute } from './api.ts';
import { continuationToken, parseFindParams } from './find-params.ts';

export interface FoundView {
  key: string;
  size: number;
  etag: string;
  lastModified: string;
  contentType?: string;
  userMeta: Record<string, string>;
  backend: string;
  replicas: number;
}

function view(o: FoundObject): FoundView {
  return {
    key: o.key, size: o.size, etag: o.etag, lastModified: o.lastModified.toISOString(),
    ...(o.contentType !== undefined ? { contentType: o.contentType } : {}),
    userMeta: o.userMeta, backend: o.backend, replicas: o.replicas,
  };
}

export function findRoute(v: VirtualStore | undefined): AdminRoute {
  return {
    method: 'GET',
    path: 'find',
    async handle(_req, params) {
      const r = parseFindParams(params);
      if (!v) throw new HttpError(501, 'find searches the placement index of virtual buckets; this gateway serves the embedded store');
      if (!(await v.listBuckets()).some((b) => b.name === r.query.bucket)) throw new HttpError(404, `bucket: no virtual bucket "${r.query.bucket}"`);
      // A half-rebuilt index would answer with objects missing.
      requireIndexReady(v);
      // One more than a page tells whether another follows.
      const found = await v.index.find({ ...r.query, after: r.after, limit: r.limit + 1 });
      const page = found.slice(0, r.limit);
      const isTruncated = found.length > r.limit;
      return {
        bucket: r.query.bucket,
        objects: page.map(view),
        isTruncated,
        ...(isTruncated ? { nextContinuationToken: continuationToken(r.query, page.at(-1)!.key) } : {}),
      };
    },
  };
}

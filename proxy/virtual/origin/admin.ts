// The migration's routes on the gateway's admin API (proxy/admin/api.ts: bearer token, JSON):
//   GET    /_floodgate/admin/migrations?bucket=<b>   the last run's state (404: it never ran)
//   POST   /_floodgate/admin/migrations?bucket=<b>   start a new run (409 while one runs)
//   DELETE /_floodgate/admin/migrations?bucket=<b>   cancel the run going on (404: none)
import { HttpError, requiredParam, requireIndexReady, type AdminRoute } from '../../admin/api.ts';
import type { VirtualStore } from '../index.ts';
import type { OriginService } from './index.ts';

function originsOf(v: VirtualStore | undefined, query: URLSearchParams): { origins: OriginService; bucket: string } {
  const bucket = requiredParam(query, 'bucket', '?bucket=<virtual bucket>');
  if (!v) throw new HttpError(501, 'migrations are of virtual buckets with an origin; this gateway serves the embedded store');
  if (!v.origins.serves(bucket)) throw new HttpError(404, `bucket: virtual bucket "${bucket}" has no origin`);
  return { origins: v.origins, bucket };
}

export function migrationRoutes(v: VirtualStore | undefined): AdminRoute[] {
  return [
    {
      method: 'GET', path: 'migrations',
      async handle(_req, query) {
        const { origins, bucket } = originsOf(v, query);
        if (!(await origins.migration(bucket))) throw new HttpError(404, `the migration of ${bucket} never ran`);
        return origins.status(bucket)!.migration;
      },
    },
    {
      method: 'POST', path: 'migrations',
      async handle(_req, query) {
        const { origins, bucket } = originsOf(v, query);
        requireIndexReady(v!);
        const r = await origins.startMigration(bucket);
        if (!r.ok) throw new HttpError(r.status, r.message);
        return origins.status(bucket)!.migration;
      },
    },
    {
      method: 'DELETE', path: 'migrations',
      async handle(_req, query) {
        const { origins, bucket } = originsOf(v, query);
        if (!(await origins.cancelMigration(bucket))) throw new HttpError(404, `no migration of ${bucket} is running`);
        await origins.migrationDone(bucket);
        return origins.status(bucket)!.migration;
      },
    },
  ];
}

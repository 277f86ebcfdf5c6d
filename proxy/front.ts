// The S3 front wired to what the configuration opened: the store (embedded fs, or a virtual
// store over backend buckets) and, when enabled, the fault engine. For a virtual store: /status,
// backend metrics on /metrics, redirect mode, and backendDown faults are the store's business
// (see cli.ts, which opens it with backendDown). For faults: the control API under /_floodgate/,
// the per-request hook, and fault metrics on /metrics. With an admin token: the admin API under
// /_floodgate/admin/ (admin/api.ts).
import type { Metric } from 'prom-client';
import { startGateway, type Gateway, type GatewayFaultHooks, type GatewayOptions } from './server.ts';
import type { RedirectLookup } from './s3/handlers/context.ts';
import type { VirtualStore } from './virtual/index.ts';
import { decodeUploadId } from './virtual/upload-id.ts';
import type { GatewayFaults } from '../injector/gateway.ts';
import { createAdminApi } from './admin/api.ts';
import { findRoute } from './admin/find-route.ts';
import { jobsRoutes } from './admin/jobs-route.ts';
import { migrationRoutes } from './virtual/origin/admin.ts';
import { gcRoutes } from './virtual/gc/admin.ts';

export interface FrontOptions extends Omit<GatewayOptions, 'status' | 'redirect' | 'faults' | 'routes'> {
  /** Set when `store` is a virtual store. */
  virtual?: VirtualStore;
  faults?: GatewayFaults;
  /** Mounts the admin API under /_floodgate/admin/ with this bearer token. */
  adminToken?: string;
}

function redirectOf(v: VirtualStore): RedirectLookup {
  return async (bucket, key, method, query) => (v.isRedirectBucket(bucket) ? v.redirectUrl(bucket, key, { method, query }) : undefined);
}

function faultHooks(faults: GatewayFaults, v: VirtualStore | undefined): GatewayFaultHooks {
  return {
    engine: faults.engine,
    // Multipart requests name their backend in the upload id; other keys are looked up in the index.
    locate: v ? async (bucket, key, uploadId) => (uploadId ? decodeUploadId(uploadId)?.backend : v.locate(bucket, key)) : undefined,
  };
}

export async function startFront(o: FrontOptions): Promise<Gateway> {
  const { virtual: v, faults, adminToken, ...rest } = o;
  const admin = adminToken === undefined ? undefined : createAdminApi({
    token: adminToken,
    routes: [findRoute(v), ...migrationRoutes(v), ...gcRoutes(v), ...jobsRoutes(v)],
    onError: (route, e) => rest.logger.log('error', 'admin API failure', { route, error: (e as Error).message }),
  });
  // The admin API's prefix lies inside the fault API's /_floodgate/: it is asked first.
  const routes: GatewayOptions['routes'] = admin && faults ? (req, res) => admin(req, res) || faults.routes(req, res) : admin ?? faults?.routes;
  const gw = await startGateway({
    ...rest,
    routes,
    status: v ? () => v.status() : undefined,
    redirect: v ? redirectOf(v) : undefined,
    faults: faults ? faultHooks(faults, v) : undefined,
  });
  v?.registerMetrics(gw.metrics.registry);
  // getMetricsAsArray holds the metric objects themselves: they join the gateway's /metrics.
  if (faults) for (const m of faults.engine.metrics.registry.getMetricsAsArray()) gw.metrics.registry.registerMetric(m as unknown as Metric);
  return gw;
}

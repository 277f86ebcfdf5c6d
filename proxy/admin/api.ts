// The gateway's admin API: JSON over HTTP under /_floodgate/admin/, every route behind one bearer
// token (--admin-token), mounted only when a token is configured — like the fault control API,
// whose JSON helpers it shares. Routes are plain values, so each feature brings its own:
//
//   GET /_floodgate/admin/find     metadata search over the placement index (find-route.ts)
//   /_floodgate/admin/jobs, drains the job queue: list, cancel, start drain/rebalance (jobs-route.ts)
//   /_floodgate/admin/gc           garbage collection runs (virtual/gc/admin.ts)
//   /_floodgate/admin/migrations   the read-through origin's migration (virtual/origin/admin.ts)
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerOk, HttpError, sendJson } from '../../injector/control/http.ts';

export { HttpError };
export const ADMIN_PREFIX = '/_floodgate/admin/';

export interface AdminRoute {
  method: 'GET' | 'POST' | 'DELETE';
  /** Below ADMIN_PREFIX, e.g. 'find'. */
  path: string;
  /** The JSON body of a 200 answer; throw HttpError for another status. */
  handle(req: IncomingMessage, query: URLSearchParams): Promise<unknown>;
}

/** A query parameter the route cannot do without: 400 `<name>: required (<hint>)` when absent or empty. */
export function requiredParam(query: URLSearchParams, name: string, hint?: string): string {
  const v = query.get(name);
  if (!v) throw new HttpError(400, `${name}: required${hint ? ` (${hint})` : ''}`);
  return v;
}

/** 503 while the placement index is rebuilt from the backends: a half-built index would answer wrongly. */
export function requireIndexReady(v: { indexReady: boolean }): void {
  if (!v.indexReady) throw new HttpError(503, 'the placement index is being rebuilt from the backends; retry shortly');
}

export type AdminHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface AdminApiOptions {
  token: string;
  routes: readonly AdminRoute[];
  /** Told about failures that are not the caller's (a 500). */
  onError?: (route: string, e: unknown) => void;
}

export function createAdminApi(o: AdminApiOptions): AdminHandler {
  async function route(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    // The token first: without it nobody learns which routes exist.
    if (!bearerOk(req, o.token)) throw new HttpError(401, 'missing or wrong bearer token (Authorization: Bearer <admin token>)');
    const here = o.routes.filter((r) => ADMIN_PREFIX + r.path === path);
    if (!here.length) throw new HttpError(404, `no admin route ${path}; routes: ${o.routes.map((r) => `${r.method} ${ADMIN_PREFIX}${r.path}`).join(', ')}`);
    const r = here.find((x) => x.method === req.method);
    if (!r) throw new HttpError(405, `${req.method} not allowed on ${path} (${here.map((x) => x.method).join(', ')})`);
    sendJson(res, 200, await r.handle(req, query));
  }

  return (req, res) => {
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    if (!path.startsWith(ADMIN_PREFIX)) return false;
    route(req, res, path, new URLSearchParams(q < 0 ? '' : raw.slice(q + 1))).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) o.onError?.(path, e);
      if (!res.headersSent) sendJson(res, status, { error: e instanceof HttpError ? e.message : 'internal error', status });
      else res.destroy();
    });
    return true;
  };
}

// The job queue on the admin API (api.ts: bearer token, JSON):
//   GET    /_floodgate/admin/jobs[?kind=&after=&limit=]   one page of the queue, oldest first:
//          { jobs: [JobView], isTruncated, nextAfter? } — pass nextAfter as `after` for the next page
//   DELETE /_floodgate/admin/jobs?id=<n>                   cancel a job (404: no such job); a gc or migrate run's state ends 'cancelled'
//   POST   /_floodgate/admin/jobs?kind=drain&bucket=&backend=   drain a backend of a virtual bucket
//   POST   /_floodgate/admin/jobs?kind=rebalance&bucket=        rebalance a virtual bucket
//   DELETE /_floodgate/admin/drains?bucket=&backend=        end a drain: the backend takes writes again
import { JOB_KINDS, type Job, type JobKind } from '../placement/jobs.ts';
import type { VirtualStore } from '../virtual/index.ts';
import { HttpError, requiredParam, requireIndexReady, type AdminRoute } from './api.ts';

export interface JobView {
  id: number;
  kind: JobKind;
  bucket: string;
  key?: string;
  backend?: string;
  /** running: leased by a worker now; waiting: due later (after a failure); queued: due now. */
  state: 'running' | 'waiting' | 'queued';
  attempts: number;
  lastError?: string;
  /** A long job's progress (drain, rebalance, repair) as it recorded it. */
  progress?: unknown;
  leaseOwner?: string;
  created: string;
  notBefore: string;
}

export const MAX_JOBS_PAGE = 1000;

export function jobView(j: Job, now = Date.now()): JobView {
  const running = j.leaseUntil.getTime() > now;
  let progress: unknown;
  try {
    progress = j.progress ? JSON.parse(j.progress) : undefined;
  } catch {
    progress = j.progress;
  }
  return {
    id: j.id, kind: j.kind, bucket: j.bucket, ...(j.key ? { key: j.key } : {}), ...(j.backend ? { backend: j.backend } : {}),
    state: running ? 'running' : j.notBefore.getTime() > now ? 'waiting' : 'queued',
    attempts: j.attempts, ...(j.lastError ? { lastError: j.lastError } : {}), ...(progress !== undefined ? { progress } : {}),
    ...(running && j.leaseOwner ? { leaseOwner: j.leaseOwner } : {}),
    created: j.created.toISOString(), notBefore: j.notBefore.toISOString(),
  };
}

function storeOf(v: VirtualStore | undefined): VirtualStore {
  if (!v) throw new HttpError(501, 'background jobs belong to virtual buckets; this gateway serves the embedded store');
  return v;
}

function whole(name: string, raw: string | null, min: number, max: number, dflt: number): number {
  if (raw === null) return dflt;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw new HttpError(400, `${name}: expected a whole number ${min}..${max}, got "${raw}"`);
  return n;
}

function started(r: { ok: true; job?: Job } | { ok: false; status: number; message: string }): { job?: JobView } {
  if (!r.ok) throw new HttpError(r.status, r.message);
  return r.job ? { job: jobView(r.job) } : {};
}

export function jobsRoutes(v: VirtualStore | undefined): AdminRoute[] {
  return [
    {
      method: 'GET', path: 'jobs',
      async handle(_req, query) {
        const s = storeOf(v);
        const kind = query.get('kind');
        if (kind !== null && !(JOB_KINDS as readonly string[]).includes(kind)) throw new HttpError(400, `kind: expected one of ${JOB_KINDS.join(', ')}, got "${kind}"`);
        const after = whole('after', query.get('after'), 0, Number.MAX_SAFE_INTEGER, 0);
        const limit = whole('limit', query.get('limit'), 1, MAX_JOBS_PAGE, 100);
        // One more than a page tells whether another follows.
        const rows = await s.index.jobs.list({ after, limit: limit + 1, ...(kind ? { kind: kind as JobKind } : {}) });
        const page = rows.slice(0, limit);
        const isTruncated = rows.length > limit;
        return { jobs: page.map((j) => jobView(j)), isTruncated, ...(isTruncated ? { nextAfter: page.at(-1)!.id } : {}) };
      },
    },
    {
      method: 'DELETE', path: 'jobs',
      async handle(_req, query) {
        const s = storeOf(v);
        const id = whole('id', requiredParam(query, 'id'), 1, Number.MAX_SAFE_INTEGER, 0);
        const job = await s.index.jobs.get(id);
        if (!job || !(await s.index.jobs.cancel(id))) throw new HttpError(404, `id: no job ${id} (finished or cancelled already?)`);
        // A gc or migrate run keeps its state in the index (for /status): it ends cancelled, not running.
        await s.onJobCancel[job.kind]?.(job);
        return { cancelled: jobView(job) };
      },
    },
    {
      method: 'POST', path: 'jobs',
      async handle(_req, query) {
        const s = storeOf(v);
        const kind = requiredParam(query, 'kind');
        const bucket = requiredParam(query, 'bucket');
        requireIndexReady(s);
        if (kind === 'drain') return started(await s.moves.drain(bucket, requiredParam(query, 'backend')));
        if (kind === 'rebalance') return started(await s.moves.rebalance(bucket));
        throw new HttpError(400, `kind: jobs started here are drain or rebalance, got "${kind}"`);
      },
    },
    {
      method: 'DELETE', path: 'drains',
      async handle(_req, query) {
        return started(await storeOf(v).moves.undrain(requiredParam(query, 'bucket'), requiredParam(query, 'backend')));
      },
    },
  ];
}

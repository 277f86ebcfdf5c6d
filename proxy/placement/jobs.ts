// The durable job queue kept with the placement index: background work that must survive a
// crash (a copy still to write, a copy still to remove, a repair, drain or rebalance scan). Jobs are leased, not
// owned: a worker claims a job for a while; when it dies the lease runs out and any replica
// claims it again. Delivery is at least once, so every job is idempotent (virtual/copy-jobs.ts).
// A finished job's row is deleted; a job that failed keeps its attempts and last error.

import type { Durability } from './types.ts';

export const JOB_KINDS = ['copy', 'remove', 'repair', 'gc', 'origin-copy', 'migrate', 'drain', 'rebalance'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/**
 * What a job is about. copy: write the pending copy (`backend`, `location`) of the version
 * `etag` of (bucket, key). remove: delete (`backend`, `location`) unless the record holds it.
 * repair: restore the copy count of `bucket`, resuming after the key in `progress`; `backend`
 * names the backend that came back (or '' for every record). gc: collect the orphans of `bucket`
 * on `backend`, resuming from `progress` (virtual/gc/). origin-copy: copy `key` in from the
 * bucket's read-through origin; migrate: a migration run of the bucket, its state in `progress`
 * (virtual/origin/).
 * drain: move every copy on `backend` of `bucket` elsewhere (virtual/moves.ts); rebalance: move
 * the copies whose placement by the bucket's strategy changed (`backend` ''). Both resume from `progress`.
 */
export interface JobSpec {
  kind: JobKind;
  bucket: string;
  key: string;
  backend: string;
  location?: string;
  etag?: string;
  /** Where a long job got to (a repair's last key and counts), as JSON. */
  progress?: string;
}

export interface Job extends JobSpec {
  id: number;
  attempts: number;
  lastError?: string;
  leaseOwner?: string;
  leaseUntil: Date;
  notBefore: Date;
  created: Date;
}

export interface JobSummary {
  /** Queued jobs per kind, and how many of them failed at least once. */
  kinds: Record<JobKind, { queued: number; failing: number }>;
  /** Objects with a copy still to write, per virtual bucket. */
  pendingCopies: Record<string, number>;
  /** Repair scans still running. */
  repairs: { bucket: string; backend: string; progress?: string }[];
  /** Queued jobs per kind and virtual bucket. */
  perBucket: { kind: JobKind; bucket: string; queued: number }[];
  /** Drain and rebalance scans still running. */
  moves: { id: number; kind: 'drain' | 'rebalance'; bucket: string; backend: string; attempts: number; progress?: string }[];
  /** The most recent errors, newest first. */
  errors: { id: number; kind: JobKind; bucket: string; key: string; backend: string; attempts: number; lastError: string }[];
}

/** The kinds a bucket (and backend) has at most one of, queued or running: a second would only walk the bucket again. */
export type SingleKind = 'drain' | 'rebalance';

export interface EnqueueOptions extends Durability {
  /** Enqueue already leased to this worker (it runs the job itself now). */
  owner?: string;
  leaseMs?: number;
  notBefore?: Date;
}

export interface JobStore {
  enqueue(specs: JobSpec[], opts?: EnqueueOptions): Promise<number[]>;
  /**
   * Queues a drain or rebalance unless one of the same (kind, bucket, backend) is queued or
   * running, by any replica: a unique index decides, so replicas asking at once queue one. The
   * job queued, or the one there already (`created` false).
   */
  enqueueSingle(spec: JobSpec & { kind: SingleKind }): Promise<{ job: Job; created: boolean }>;
  /** Leases up to `limit` jobs that are due and not leased (or whose lease ran out), oldest first. */
  claim(owner: string, limit: number, leaseMs: number): Promise<Job[]>;
  /** Deletes a finished job while `owner` still holds its lease; false when the lease was lost. */
  complete(id: number, owner: string, o?: Durability): Promise<boolean>;
  /** Gives a job back to the queue, due at `notBefore`, with an error (counted as an attempt) or new progress. */
  release(id: number, owner: string, o: { notBefore: Date; error?: string; progress?: string }): Promise<void>;
  /** Makes the waiting jobs on `backend` due now (it just came back); how many. */
  wake(backend: string): Promise<number>;
  get(id: number): Promise<Job | undefined>;
  /** The queued jobs of one key, of `kind`, oldest first (read repair: a copy a `remove` job will delete is no copy to adopt). */
  ofKey(kind: JobKind, bucket: string, key: string): Promise<Job[]>;
  /** Jobs with id > `after`, oldest first, at most `limit`; of `kind` when given. */
  list(o: { after: number; limit: number; kind?: JobKind }): Promise<Job[]>;
  /** Removes a job, leased or not (a worker running it settles nothing: complete/release find no row); false when there was none. */
  cancel(id: number): Promise<boolean>;
  summary(): Promise<JobSummary>;
  /** The copies queued jobs of `bucket` on `backend` write or remove (gc leaves their names alone). */
  locations(bucket: string, backend: string): Promise<{ key: string; location?: string }[]>;
  /**
   * Gives back the leases other processes of this replica (`<replica>/…`, not `owner`) hold: a
   * replica's name is unique, so they are from a process that died; its jobs need not wait out the lease.
   */
  reclaim(replica: string, owner: string): Promise<number>;
}

export type Row = Record<string, unknown>;

/**
 * The unique index behind enqueueSingle, made by both databases when missing (`t` the jobs
 * table, `name` the index). Duplicates an older gateway queued (it checked, then inserted) are
 * removed first, the oldest kept: each would only walk the bucket again.
 */
export const singleJobSql = (t: string, name: string): string[] => [
  `DELETE FROM ${t} WHERE kind IN ('drain', 'rebalance') AND id NOT IN (SELECT MIN(id) FROM ${t} WHERE kind IN ('drain', 'rebalance') GROUP BY kind, bucket, backend)`,
  `CREATE UNIQUE INDEX ${name} ON ${t} (kind, bucket, backend) WHERE kind IN ('drain', 'rebalance')`,
];

export const JOB_COLUMNS = ['kind', 'bucket', 'key', 'backend', 'location', 'etag', 'progress', 'lease_owner', 'lease_until', 'not_before', 'created'] as const;

export function jobParams(s: JobSpec, now: number, o: EnqueueOptions): unknown[] {
  return [s.kind, s.bucket, s.key, s.backend, s.location ?? null, s.etag ?? null, s.progress ?? null,
    o.owner ?? null, o.owner ? now + (o.leaseMs ?? 60_000) : 0, o.notBefore?.getTime() ?? now, now];
}

const opt = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));

/** A row's key and location (locations()). */
export const copyAt = (r: Row): { key: string; location?: string } => ({ key: String(r.key), ...(opt(r.location) !== undefined ? { location: String(r.location) } : {}) });

export function jobFromRow(r: Row): Job {
  const j: Job = {
    id: Number(r.id), kind: String(r.kind) as JobKind, bucket: String(r.bucket), key: String(r.key), backend: String(r.backend),
    attempts: Number(r.attempts), leaseUntil: new Date(Number(r.lease_until)), notBefore: new Date(Number(r.not_before)), created: new Date(Number(r.created)),
  };
  const set = <K extends keyof Job>(k: K, v: string | undefined) => { if (v !== undefined) j[k] = v as Job[K]; };
  set('location', opt(r.location));
  set('etag', opt(r.etag));
  set('progress', opt(r.progress));
  set('lastError', opt(r.last_error));
  set('leaseOwner', opt(r.lease_owner));
  return j;
}

/** Builds the summary from the rows of the queries shared by both databases (SUMMARY_SQL). */
export function summaryOf(kinds: Row[], pending: Row[], repairs: Row[], errors: Row[], perBucket: Row[], moves: Row[]): JobSummary {
  const out: JobSummary = {
    kinds: Object.fromEntries(JOB_KINDS.map((k) => [k, { queued: 0, failing: 0 }])) as JobSummary['kinds'],
    pendingCopies: {}, repairs: [], moves: [], errors: [],
    perBucket: perBucket.map((r) => ({ kind: String(r.kind) as JobKind, bucket: String(r.bucket), queued: Number(r.queued) })),
  };
  for (const r of kinds) {
    const k = String(r.kind) as JobKind;
    if (out.kinds[k]) out.kinds[k] = { queued: Number(r.queued), failing: Number(r.failing ?? 0) };
  }
  for (const r of pending) out.pendingCopies[String(r.bucket)] = Number(r.objects);
  for (const r of repairs) out.repairs.push({ bucket: String(r.bucket), backend: String(r.backend), ...(r.progress ? { progress: String(r.progress) } : {}) });
  for (const r of moves) {
    out.moves.push({ id: Number(r.id), kind: String(r.kind) as 'drain' | 'rebalance', bucket: String(r.bucket), backend: String(r.backend), attempts: Number(r.attempts), ...(r.progress ? { progress: String(r.progress) } : {}) });
  }
  for (const r of errors) {
    out.errors.push({ id: Number(r.id), kind: String(r.kind) as JobKind, bucket: String(r.bucket), key: String(r.key), backend: String(r.backend), attempts: Number(r.attempts), lastError: String(r.last_error) });
  }
  return out;
}

export const SUMMARY_SQL = (t: string) => [
  `SELECT kind, COUNT(*) AS queued, SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END) AS failing FROM ${t} GROUP BY kind`,
  `SELECT bucket, COUNT(DISTINCT key) AS objects FROM ${t} WHERE kind = 'copy' GROUP BY bucket`,
  `SELECT bucket, backend, progress FROM ${t} WHERE kind = 'repair' ORDER BY id`,
  `SELECT id, kind, bucket, key, backend, attempts, last_error FROM ${t} WHERE last_error IS NOT NULL ORDER BY id DESC LIMIT 10`,
  `SELECT kind, bucket, COUNT(*) AS queued FROM ${t} GROUP BY kind, bucket ORDER BY kind, bucket`,
  `SELECT id, kind, bucket, backend, attempts, progress FROM ${t} WHERE kind IN ('drain', 'rebalance') ORDER BY id`,
] as const;

/** list(): the query and its parameters, `?` placeholders (PostgreSQL's are numbered by the caller). */
export function listSql(t: string, o: { after: number; limit: number; kind?: JobKind }): { sql: string; params: unknown[] } {
  return o.kind
    ? { sql: `SELECT * FROM ${t} WHERE id > ? AND kind = ? ORDER BY id LIMIT ?`, params: [o.after, o.kind, o.limit] }
    : { sql: `SELECT * FROM ${t} WHERE id > ? ORDER BY id LIMIT ?`, params: [o.after, o.limit] };
}

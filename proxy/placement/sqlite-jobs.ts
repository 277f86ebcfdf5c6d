// The job queue in the embedded index's database (jobs.ts). One gateway owns a sqlite index, but
// the lease rules are the same as PostgreSQL's, so a restarted process finds its jobs again.
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Batcher } from './batch.ts';
import { JOB_COLUMNS, SUMMARY_SQL, copyAt, jobFromRow, jobParams, listSql, singleJobSql, summaryOf, type JobStore, type Row } from './jobs.ts';

export const JOBS_SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL, backend TEXT NOT NULL,
  location TEXT, etag TEXT, progress TEXT, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
  lease_owner TEXT, lease_until INTEGER NOT NULL, not_before INTEGER NOT NULL, created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (not_before, id);
CREATE INDEX IF NOT EXISTS jobs_at ON jobs (bucket, backend);
CREATE INDEX IF NOT EXISTS jobs_by_key ON jobs (bucket, key, kind);
`;

/** The unique index of enqueueSingle (jobs.ts singleJobSql), on an index made before it existed. */
export function addSingleJobIndex(db: DatabaseSync): void {
  if (db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'jobs_single'").get()) return;
  db.exec('BEGIN IMMEDIATE');
  try {
    for (const sql of singleJobSql('jobs', 'jobs_single')) db.exec(sql);
    db.exec('COMMIT');
  } catch (e) {
    db.exec('ROLLBACK');
    throw e;
  }
}

export function sqliteJobs(q: (sql: string) => StatementSync, batch: Batcher): JobStore {
  const insert = `INSERT INTO jobs (${JOB_COLUMNS.join(', ')}) VALUES (${JOB_COLUMNS.map(() => '?').join(', ')})`;
  return {
    enqueue(specs, o = {}) {
      return batch(() => {
        const now = Date.now();
        return specs.map((s) => Number(q(insert).run(...(jobParams(s, now, o) as never[])).lastInsertRowid));
      }, o);
    },
    enqueueSingle(spec) {
      return batch(() => {
        const made = q(`${insert} ON CONFLICT DO NOTHING RETURNING *`).get(...(jobParams(spec, Date.now(), {}) as never[])) as Row | undefined;
        if (made) return { job: jobFromRow(made), created: true };
        const there = q('SELECT * FROM jobs WHERE kind = ? AND bucket = ? AND backend = ?').get(spec.kind, spec.bucket, spec.backend) as Row;
        return { job: jobFromRow(there), created: false };
      });
    },
    claim(owner, limit, leaseMs) {
      return batch(() => {
        const now = Date.now();
        const rows = q('SELECT * FROM jobs WHERE not_before <= ? AND lease_until <= ? ORDER BY not_before, id LIMIT ?').all(now, now, limit) as Row[];
        for (const r of rows) q('UPDATE jobs SET lease_owner = ?, lease_until = ? WHERE id = ?').run(owner, now + leaseMs, Number(r.id));
        return rows.map((r) => jobFromRow({ ...r, lease_owner: owner, lease_until: now + leaseMs }));
      });
    },
    complete(id, owner, o) {
      return batch(() => Number(q('DELETE FROM jobs WHERE id = ? AND lease_owner = ?').run(id, owner).changes) > 0, o);
    },
    release(id, owner, o) {
      return batch(() => {
        q(`UPDATE jobs SET lease_owner = NULL, lease_until = 0, not_before = ?, progress = COALESCE(?, progress),
           attempts = attempts + ?, last_error = COALESCE(?, last_error) WHERE id = ? AND lease_owner = ?`)
          .run(o.notBefore.getTime(), o.progress ?? null, o.error === undefined ? 0 : 1, o.error ?? null, id, owner);
      });
    },
    wake(backend) {
      return batch(() => {
        const now = Date.now();
        return Number(q('UPDATE jobs SET not_before = ? WHERE backend = ? AND not_before > ? AND lease_until <= ?').run(now, backend, now, now).changes);
      });
    },
    async get(id) {
      const r = q('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
      return r ? jobFromRow(r) : undefined;
    },
    async ofKey(kind, bucket, key) {
      return (q('SELECT * FROM jobs WHERE bucket = ? AND key = ? AND kind = ? ORDER BY id').all(bucket, key, kind) as Row[]).map(jobFromRow);
    },
    async list(o) {
      const { sql, params } = listSql('jobs', o);
      return (q(sql).all(...(params as never[])) as Row[]).map(jobFromRow);
    },
    cancel(id) {
      return batch(() => Number(q('DELETE FROM jobs WHERE id = ?').run(id).changes) > 0);
    },
    async summary() {
      const [a, b, c, d, e, f] = SUMMARY_SQL('jobs').map((sql) => q(sql).all() as Row[]);
      return summaryOf(a!, b!, c!, d!, e!, f!);
    },
    async locations(bucket, backend) {
      return (q("SELECT key, location FROM jobs WHERE bucket = ? AND backend = ? AND kind IN ('copy', 'remove')").all(bucket, backend) as Row[]).map(copyAt);
    },
    reclaim(replica, owner) {
      const prefix = `${replica}/`;
      return batch(() => Number(q('UPDATE jobs SET lease_owner = NULL, lease_until = 0 WHERE substr(lease_owner, 1, ?) = ? AND lease_owner <> ?').run(prefix.length, prefix, owner).changes));
    },
  };
}

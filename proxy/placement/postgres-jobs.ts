// The job queue in the shared PostgreSQL index (jobs.ts). Claims use FOR UPDATE SKIP LOCKED, so
// replicas claiming at once never get the same job and never wait on each other.
import type pg from 'pg';
import { queryWith } from './postgres-lazy.ts';
import { JOB_COLUMNS, SUMMARY_SQL, copyAt, jobFromRow, jobParams, listSql, singleJobSql, summaryOf, type JobStore, type Row } from './jobs.ts';

export function jobsSchemaSql(s: string): string {
  return `
CREATE TABLE IF NOT EXISTS ${s}.jobs (
  id BIGSERIAL PRIMARY KEY, kind TEXT NOT NULL, bucket TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, backend TEXT NOT NULL,
  location TEXT, etag TEXT, progress TEXT, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
  lease_owner TEXT, lease_until BIGINT NOT NULL, not_before BIGINT NOT NULL, created BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_due ON ${s}.jobs (not_before, id);
CREATE INDEX IF NOT EXISTS jobs_at ON ${s}.jobs (bucket, backend);
CREATE INDEX IF NOT EXISTS jobs_by_key ON ${s}.jobs (bucket, key, kind);
DO $$ BEGIN
  IF to_regclass('${s}.jobs_single') IS NULL THEN
    ${singleJobSql(`${s}.jobs`, 'jobs_single').join(';\n    ')};
  END IF;
END $$;`;
}

export function postgresJobs(pool: pg.Pool, s: string): JobStore {
  const t = `${s}.jobs`;
  const all = async (sql: string, params: unknown[]): Promise<Row[]> => (await pool.query(sql, params)).rows as Row[];
  return {
    async enqueue(specs, o = {}) {
      if (!specs.length) return [];
      const now = Date.now();
      const n = JOB_COLUMNS.length;
      const values = specs.map((_, i) => `(${JOB_COLUMNS.map((__, j) => `$${i * n + j + 1}`).join(', ')})`).join(', ');
      const r = await queryWith(pool, `INSERT INTO ${t} (${JOB_COLUMNS.join(', ')}) VALUES ${values} RETURNING id`, specs.flatMap((sp) => jobParams(sp, now, o)), o);
      return (r.rows as Row[]).map((x) => Number(x.id));
    },
    async enqueueSingle(spec) {
      const insert = `INSERT INTO ${t} (${JOB_COLUMNS.join(', ')}) VALUES (${JOB_COLUMNS.map((_, j) => `$${j + 1}`).join(', ')}) ON CONFLICT DO NOTHING RETURNING *`;
      // The one there may finish between the two statements: then it is inserted on the next try.
      for (let tries = 0; tries < 5; tries++) {
        const [made] = await all(insert, jobParams(spec, Date.now(), {}));
        if (made) return { job: jobFromRow(made), created: true };
        const [there] = await all(`SELECT * FROM ${t} WHERE kind = $1 AND bucket = $2 AND backend = $3`, [spec.kind, spec.bucket, spec.backend]);
        if (there) return { job: jobFromRow(there), created: false };
      }
      throw new Error(`${spec.kind} of ${spec.bucket} neither queued nor found queued`);
    },
    async claim(owner, limit, leaseMs) {
      const now = Date.now();
      const rows = await all(`UPDATE ${t} SET lease_owner = $1, lease_until = $2 WHERE id IN (
        SELECT id FROM ${t} WHERE not_before <= $3 AND lease_until <= $3 ORDER BY not_before, id LIMIT $4 FOR UPDATE SKIP LOCKED
      ) RETURNING *`, [owner, now + leaseMs, now, limit]);
      return rows.map(jobFromRow).sort((a, b) => a.notBefore.getTime() - b.notBefore.getTime() || a.id - b.id);
    },
    async complete(id, owner, o) {
      return ((await queryWith(pool, `DELETE FROM ${t} WHERE id = $1 AND lease_owner = $2`, [id, owner], o)).rowCount ?? 0) > 0;
    },
    async release(id, owner, o) {
      await all(`UPDATE ${t} SET lease_owner = NULL, lease_until = 0, not_before = $1, progress = COALESCE($2, progress),
        attempts = attempts + $3, last_error = COALESCE($4, last_error) WHERE id = $5 AND lease_owner = $6`,
      [o.notBefore.getTime(), o.progress ?? null, o.error === undefined ? 0 : 1, o.error ?? null, id, owner]);
    },
    async wake(backend) {
      const now = Date.now();
      return (await pool.query(`UPDATE ${t} SET not_before = $1 WHERE backend = $2 AND not_before > $1 AND lease_until <= $1`, [now, backend])).rowCount ?? 0;
    },
    async get(id) {
      const r = await all(`SELECT * FROM ${t} WHERE id = $1`, [id]);
      return r[0] ? jobFromRow(r[0]) : undefined;
    },
    async ofKey(kind, bucket, key) {
      return (await all(`SELECT * FROM ${t} WHERE bucket = $1 AND key = $2 AND kind = $3 ORDER BY id`, [bucket, key, kind])).map(jobFromRow);
    },
    async list(o) {
      const { sql, params } = listSql(t, o);
      let n = 0;
      return (await all(sql.replace(/\?/g, () => `$${++n}`), params)).map(jobFromRow);
    },
    async cancel(id) {
      return ((await pool.query(`DELETE FROM ${t} WHERE id = $1`, [id])).rowCount ?? 0) > 0;
    },
    async summary() {
      const [a, b, c, d, e, f] = await Promise.all(SUMMARY_SQL(t).map((sql) => all(sql, [])));
      return summaryOf(a!, b!, c!, d!, e!, f!);
    },
    async locations(bucket, backend) {
      return (await all(`SELECT key, location FROM ${t} WHERE bucket = $1 AND backend = $2 AND kind IN ('copy', 'remove')`, [bucket, backend])).map(copyAt);
    },
    async reclaim(replica, owner) {
      const prefix = `${replica}/`;
      return (await pool.query(`UPDATE ${t} SET lease_owner = NULL, lease_until = 0 WHERE substr(lease_owner, 1, $1) = $2 AND lease_owner <> $3`, [prefix.length, prefix, owner])).rowCount ?? 0;
    },
  };
}

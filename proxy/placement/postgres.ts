// The shared placement index on PostgreSQL, for several gateway replicas. Keys are `COLLATE "C"`
// (byte order of the UTF-8 encoding, as S3 lists). Writes to one key are serialised with a
// transaction-scoped advisory lock, so the record a put replaces is always the one it read and
// the usage counters stay exact; counter rows are updated in name order so two writers moving
// bytes between the same backends cannot deadlock.
import pg from 'pg';
import type { ScanOptions } from '../store/types.ts';
import { findSql } from './find.ts';
import { postgresFindSql } from './find-schema.ts';
import { OBJECT_COLUMNS, UPLOAD_COLUMNS, foundFromRow, intentFromRow, objectFromRow, objectParams, originMarkFromRow, partFromRow, uploadFromRow, uploadParams, type Row } from './rows.ts';
import { keyRange, relocated, usageDeltas, type BackendUsage, type PlacedObject, type PlacementIndex } from './types.ts';
import { jobsSchemaSql, postgresJobs } from './postgres-jobs.ts';
import { queryWith } from './postgres-lazy.ts';

export interface PostgresIndexOptions {
  /** Schema holding the tables (created when missing). */
  schema?: string;
  poolSize?: number;
}

/** `?` placeholders (shared SQL fragments) as PostgreSQL's `$n`. */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function schemaSql(s: string): string {
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.objects (
  bucket TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, backend TEXT NOT NULL, size BIGINT NOT NULL, etag TEXT NOT NULL,
  last_modified BIGINT NOT NULL, content_type TEXT, cache_control TEXT, content_disposition TEXT, content_encoding TEXT,
  content_language TEXT, expires TEXT, user_meta TEXT NOT NULL, checksums TEXT NOT NULL, checksum_type TEXT, parts_count INTEGER,
  PRIMARY KEY (bucket, key)
);
ALTER TABLE ${s}.objects ADD COLUMN IF NOT EXISTS location TEXT;
ALTER TABLE ${s}.objects ADD COLUMN IF NOT EXISTS copies TEXT;
CREATE TABLE IF NOT EXISTS ${s}.backend_usage (backend TEXT PRIMARY KEY, bytes BIGINT NOT NULL, objects BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.intents (
  id BIGSERIAL PRIMARY KEY, owner TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL, backend TEXT NOT NULL,
  op TEXT NOT NULL, started BIGINT NOT NULL
);
ALTER TABLE ${s}.intents ADD COLUMN IF NOT EXISTS location TEXT;
CREATE INDEX IF NOT EXISTS intents_by_owner ON ${s}.intents (owner, id);
CREATE TABLE IF NOT EXISTS ${s}.uploads (
  upload_id TEXT COLLATE "C" PRIMARY KEY, bucket TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, backend TEXT NOT NULL,
  backend_upload_id TEXT NOT NULL, initiated BIGINT NOT NULL, checksum_algorithm TEXT, headers TEXT NOT NULL
);
ALTER TABLE ${s}.uploads ADD COLUMN IF NOT EXISTS checksum_type TEXT;
CREATE INDEX IF NOT EXISTS uploads_by_key ON ${s}.uploads (bucket, key, initiated, upload_id);
CREATE INDEX IF NOT EXISTS uploads_by_age ON ${s}.uploads (initiated);
CREATE TABLE IF NOT EXISTS ${s}.meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.origin_marks (
  bucket TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, kind TEXT NOT NULL, attempts INTEGER NOT NULL, error TEXT,
  at BIGINT NOT NULL, PRIMARY KEY (bucket, key)
);
CREATE TABLE IF NOT EXISTS ${s}.parts (
  upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, etag TEXT NOT NULL, size BIGINT NOT NULL,
  last_modified BIGINT NOT NULL, checksums TEXT NOT NULL, PRIMARY KEY (upload_id, part_number)
);`;
}

export async function openPostgresIndex(url: string, opts: PostgresIndexOptions = {}): Promise<PlacementIndex> {
  const schema = opts.schema ?? 'floodgate';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`index schema must be a lower-case SQL identifier, got "${schema}"`);
  const s = `"${schema}"`;
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10 });
  // A replica's pool survives the database restarting: a broken idle client is just dropped.
  pool.on('error', () => {});
  {
    const c = await pool.connect();
    try {
      // Replicas starting together would race on CREATE TABLE IF NOT EXISTS.
      await c.query(`SELECT pg_advisory_lock(hashtext('floodgate-placement-schema'))`);
      await c.query(schemaSql(s));
      const r = (await c.query(`SELECT to_regclass('${s}.object_meta') IS NULL AS meta, to_regclass('${s}.object_copies') IS NULL AS copies`)).rows[0];
      const fresh = { meta: r.meta === true, copies: r.copies === true };
      await c.query(postgresFindSql(s, fresh));
      await c.query(jobsSchemaSql(s));
      await c.query(`SELECT pg_advisory_unlock(hashtext('floodgate-placement-schema'))`);
    } finally {
      c.release();
    }
  }

  const all = async (sql: string, params: unknown[]): Promise<Row[]> => (await pool.query(numbered(sql), params)).rows as Row[];

  async function tx<T>(lockKey: string | undefined, fn: (run: (sql: string, params: unknown[]) => Promise<Row[]>) => Promise<T>): Promise<T> {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      if (lockKey !== undefined) await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [lockKey]);
      const out = await fn(async (sql, params) => (await c.query(numbered(sql), params)).rows as Row[]);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  const bumpSql = `INSERT INTO ${s}.backend_usage (backend, bytes, objects) VALUES (?, ?, ?)
    ON CONFLICT (backend) DO UPDATE SET bytes = ${s}.backend_usage.bytes + EXCLUDED.bytes, objects = ${s}.backend_usage.objects + EXCLUDED.objects`;

  async function bump(run: (sql: string, params: unknown[]) => Promise<Row[]>, deltas: [string, number, number][]): Promise<void> {
    const merged = new Map<string, [number, number]>();
    for (const [b, bytes, objects] of deltas) {
      const m = merged.get(b) ?? [0, 0];
      merged.set(b, [m[0] + bytes, m[1] + objects]);
    }
    for (const b of [...merged.keys()].sort()) await run(bumpSql, [b, ...merged.get(b)!]);
  }

  const lockOf = (bucket: string, key: string) => `${bucket.length}:${bucket}/${key}`;
  const updates = OBJECT_COLUMNS.filter((c) => c !== 'bucket' && c !== 'key').map((c) => `${c} = EXCLUDED.${c}`).join(', ');
  const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ');

  const index: PlacementIndex = {
    kind: 'postgres',
    groupsWrites: false,
    jobs: postgresJobs(pool, s),
    async get(bucket, key) {
      const r = await all(`SELECT * FROM ${s}.objects WHERE bucket = ? AND key = ?`, [bucket, key]);
      return r[0] ? objectFromRow(r[0]) : undefined;
    },
    put(obj: PlacedObject, intent?: number) {
      return tx(lockOf(obj.bucket, obj.key), async (run) => {
        const r = await run(`SELECT * FROM ${s}.objects WHERE bucket = ? AND key = ?`, [obj.bucket, obj.key]);
        const prev = r[0] ? objectFromRow(r[0]) : undefined;
        await run(`INSERT INTO ${s}.objects (${OBJECT_COLUMNS.join(', ')}) VALUES (${marks(OBJECT_COLUMNS.length)})
          ON CONFLICT (bucket, key) DO UPDATE SET ${updates}`, objectParams(obj));
        await bump(run, usageDeltas(prev, obj));
        if (intent !== undefined) await run(`DELETE FROM ${s}.intents WHERE id = ?`, [intent]);
        return prev;
      });
    },
    delete(bucket, key, o = {}) {
      return tx(lockOf(bucket, key), async (run) => {
        const r = await run(`SELECT * FROM ${s}.objects WHERE bucket = ? AND key = ?`, [bucket, key]);
        const prev = r[0] ? objectFromRow(r[0]) : undefined;
        const matches = prev && (!o.only || (prev.backend === o.only.backend && prev.etag === o.only.etag));
        if (prev && matches) {
          await run(`DELETE FROM ${s}.objects WHERE bucket = ? AND key = ?`, [bucket, key]);
          await bump(run, usageDeltas(prev, undefined));
        }
        if (o.intent !== undefined) await run(`DELETE FROM ${s}.intents WHERE id = ?`, [o.intent]);
        return matches ? prev : undefined;
      });
    },
    updateCopies(bucket, key, expect, change) {
      return tx(lockOf(bucket, key), async (run) => {
        const r = await run(`SELECT * FROM ${s}.objects WHERE bucket = ? AND key = ?`, [bucket, key]);
        const prev = r[0] ? objectFromRow(r[0]) : undefined;
        if (!prev || prev.backend !== expect.backend || prev.etag !== expect.etag) return undefined;
        const copies = change(prev.copies ?? []);
        const next: PlacedObject = { ...prev, copies };
        if (!copies.length) delete next.copies;
        await run(`UPDATE ${s}.objects SET copies = ? WHERE bucket = ? AND key = ?`, [copies.length ? JSON.stringify(copies) : null, bucket, key]);
        await bump(run, usageDeltas(prev, next));
        return next;
      });
    },
    relocate(bucket, key, expect, to) {
      return tx(lockOf(bucket, key), async (run) => {
        const r = await run(`SELECT * FROM ${s}.objects WHERE bucket = ? AND key = ? FOR UPDATE`, [bucket, key]);
        const prev = r[0] ? objectFromRow(r[0]) : undefined;
        const next = relocated(prev, expect, to);
        if (!next) return undefined;
        await run(`UPDATE ${s}.objects SET backend = ?, location = ? WHERE bucket = ? AND key = ?`, [next.backend, next.location, bucket, key]);
        await bump(run, usageDeltas(prev, next));
        return next;
      });
    },
    async scan(bucket, o: ScanOptions) {
      const { where, params } = keyRange(o.prefix, o.after);
      return (await all(`SELECT * FROM ${s}.objects WHERE bucket = ? AND ${where} ORDER BY key LIMIT ?`, [bucket, ...params, o.limit])).map(objectFromRow);
    },
    async find(q) {
      const { sql, params } = findSql(q, { table: (t) => `${s}.${t}`, byteOrder: ' COLLATE "C"' });
      return (await all(sql, params)).map(foundFromRow);
    },
    async usage() {
      const out = new Map<string, BackendUsage>();
      for (const r of await all(`SELECT backend, bytes, objects FROM ${s}.backend_usage`, [])) out.set(String(r.backend), { bytes: Number(r.bytes), objects: Number(r.objects) });
      return out;
    },
    async beginIntent(i, o) {
      const r = await queryWith(pool, numbered(`INSERT INTO ${s}.intents (owner, bucket, key, backend, op, started, location) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
        [i.owner, i.bucket, i.key, i.backend, i.op, Date.now(), i.location ?? null], o);
      return Number((r.rows as Row[])[0]!.id);
    },
    async syncIntent(id) {
      // A synchronous commit of a write: the WAL is flushed up to it, the lazy intent included.
      await all(`UPDATE ${s}.intents SET started = started WHERE id = ?`, [id]);
    },
    async endIntent(id, o) {
      await queryWith(pool, numbered(`DELETE FROM ${s}.intents WHERE id = ?`), [id], o);
    },
    async intents(owner) {
      return (await all(`SELECT * FROM ${s}.intents WHERE owner = ? ORDER BY id`, [owner])).map(intentFromRow);
    },
    async intentsOn(bucket, backend) {
      return (await all(`SELECT * FROM ${s}.intents WHERE bucket = ? AND backend = ? ORDER BY id`, [bucket, backend])).map(intentFromRow);
    },
    async putUpload(u) {
      const sets = UPLOAD_COLUMNS.filter((c) => c !== 'upload_id').map((c) => `${c} = EXCLUDED.${c}`).join(', ');
      await all(`INSERT INTO ${s}.uploads (${UPLOAD_COLUMNS.join(', ')}) VALUES (${marks(UPLOAD_COLUMNS.length)}) ON CONFLICT (upload_id) DO UPDATE SET ${sets}`, uploadParams(u));
    },
    async getUpload(id) {
      const r = await all(`SELECT * FROM ${s}.uploads WHERE upload_id = ?`, [id]);
      return r[0] ? uploadFromRow(r[0]) : undefined;
    },
    async deleteUpload(id) {
      await tx(undefined, async (run) => {
        await run(`DELETE FROM ${s}.parts WHERE upload_id = ?`, [id]);
        await run(`DELETE FROM ${s}.uploads WHERE upload_id = ?`, [id]);
      });
    },
    async listUploads(bucket, o) {
      const { where, params } = keyRange(o.prefix, '');
      const marker = o.uploadIdMarker ? (await all(`SELECT initiated FROM ${s}.uploads WHERE upload_id = ?`, [o.uploadIdMarker]))[0] : undefined;
      const rows = marker
        ? await all(`SELECT * FROM ${s}.uploads WHERE bucket = ? AND ${where} AND (key > ? OR (key = ? AND (initiated > ? OR (initiated = ? AND upload_id > ?))))
            ORDER BY key, initiated, upload_id LIMIT ?`, [bucket, ...params, o.keyMarker, o.keyMarker, Number(marker.initiated), Number(marker.initiated), o.uploadIdMarker, o.limit])
        : await all(`SELECT * FROM ${s}.uploads WHERE bucket = ? AND ${where} AND key > ? ORDER BY key, initiated, upload_id LIMIT ?`, [bucket, ...params, o.keyMarker, o.limit]);
      return rows.map(uploadFromRow);
    },
    async uploadsBefore(date, limit) {
      return (await all(`SELECT * FROM ${s}.uploads WHERE initiated < ? ORDER BY initiated LIMIT ?`, [date.getTime(), limit])).map(uploadFromRow);
    },
    async putPart(p) {
      await all(`INSERT INTO ${s}.parts (upload_id, part_number, etag, size, last_modified, checksums) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (upload_id, part_number) DO UPDATE SET etag = EXCLUDED.etag, size = EXCLUDED.size, last_modified = EXCLUDED.last_modified, checksums = EXCLUDED.checksums`,
      [p.uploadId, p.partNumber, p.etag, p.size, p.lastModified.getTime(), JSON.stringify(p.checksums)]);
    },
    async parts(id, after, limit) {
      return (await all(`SELECT * FROM ${s}.parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?`, [id, after, limit])).map(partFromRow);
    },
    async getOriginMark(bucket, key) {
      const r = await all(`SELECT * FROM ${s}.origin_marks WHERE bucket = ? AND key = ? AND kind = 'deleted'`, [bucket, key]);
      return r[0] ? originMarkFromRow(r[0]) : undefined;
    },
    async setOriginMark(bucket, key) {
      await all(`INSERT INTO ${s}.origin_marks (bucket, key, kind, attempts, error, at) VALUES (?, ?, 'deleted', 0, NULL, ?)
        ON CONFLICT (bucket, key) DO UPDATE SET kind = 'deleted', attempts = 0, error = NULL, at = EXCLUDED.at`, [bucket, key, Date.now()]);
    },
    async originMarksOf(bucket, keys) {
      if (!keys.length) return [];
      return (await all(`SELECT * FROM ${s}.origin_marks WHERE bucket = ? AND kind = 'deleted' AND key = ANY(?::text[])`, [bucket, [...keys]])).map(originMarkFromRow);
    },
    async getMeta(name) {
      return (await all(`SELECT value FROM ${s}.meta WHERE name = ?`, [name]))[0]?.value as string | undefined;
    },
    async setMeta(name, value) {
      if (value === undefined) return void await all(`DELETE FROM ${s}.meta WHERE name = ?`, [name]);
      await all(`INSERT INTO ${s}.meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`, [name, value]);
    },
    async close() {
      await pool.end();
    },
  };
  return index;
}

// The embedded placement index: node:sqlite in WAL mode with synchronous=FULL, so a resolved
// write survives a power cut (a lazy one, batch.ts, only once a durable commit follows). Keys compare with BINARY collation, i.e. memcmp over UTF-8: the
// byte order S3 lists in.
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ScanOptions } from '../store/types.ts';
import { createBatcher } from './batch.ts';
import { findDrivers, findSql, type Driver } from './find.ts';
import { prepareSqliteFind } from './find-schema.ts';
import { OBJECT_COLUMNS, UPLOAD_COLUMNS, foundFromRow, intentFromRow, objectFromRow, objectParams, originMarkFromRow, partFromRow, uploadFromRow, uploadParams, type Row } from './rows.ts';
import { keyRange, relocated, usageDeltas, type BackendUsage, type PlacedObject, type PlacementIndex } from './types.ts';
import { JOBS_SCHEMA, addSingleJobIndex, sqliteJobs } from './sqlite-jobs.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS objects (
  bucket TEXT NOT NULL, key TEXT NOT NULL, backend TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
  last_modified INTEGER NOT NULL, content_type TEXT, cache_control TEXT, content_disposition TEXT, content_encoding TEXT,
  content_language TEXT, expires TEXT, user_meta TEXT NOT NULL, checksums TEXT NOT NULL, checksum_type TEXT, parts_count INTEGER,
  location TEXT, PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS backend_usage (backend TEXT PRIMARY KEY, bytes INTEGER NOT NULL, objects INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS intents (
  id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL,
  backend TEXT NOT NULL, op TEXT NOT NULL, started INTEGER NOT NULL, location TEXT
);
CREATE TABLE IF NOT EXISTS uploads (
  upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, backend TEXT NOT NULL, backend_upload_id TEXT NOT NULL,
  initiated INTEGER NOT NULL, checksum_algorithm TEXT, headers TEXT NOT NULL, checksum_type TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, initiated, upload_id);
CREATE INDEX IF NOT EXISTS uploads_by_age ON uploads (initiated);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS origin_marks (
  bucket TEXT NOT NULL, key TEXT NOT NULL, kind TEXT NOT NULL, attempts INTEGER NOT NULL, error TEXT, at INTEGER NOT NULL,
  PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parts (
  upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, etag TEXT NOT NULL, size INTEGER NOT NULL,
  last_modified INTEGER NOT NULL, checksums TEXT NOT NULL, PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
`;

/**
 * Indexes made before a column existed get it: empty `location`, the object is at its usual
 * name; empty `copies`, it has one copy; empty `checksum_type`, the upload's checksum (if any) is COMPOSITE.
 */
function addMissingColumns(db: DatabaseSync): void {
  for (const [table, column] of [['objects', 'location'], ['objects', 'copies'], ['intents', 'location'], ['uploads', 'checksum_type']]) {
    const cols = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
    if (!cols.includes(column!)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} TEXT`);
  }
}

/** find(): a filter's index is read whole (then sorted by key) only when it yields fewer rows than this. */
const FIND_COUNT_CAP = 10_000;

export function openSqliteIndex(path: string): PlacementIndex {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = FULL');
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec(SCHEMA);
  db.exec(JOBS_SCHEMA);
  addMissingColumns(db);
  addSingleJobIndex(db);
  prepareSqliteFind(db);
  const batch = createBatcher(db);
  const cache = new Map<string, StatementSync>();
  const q = (sql: string): StatementSync => {
    let s = cache.get(sql);
    if (!s) cache.set(sql, (s = db.prepare(sql)));
    return s;
  };
  const marks = (n: number) => Array.from({ length: n }, () => '?').join(', ');
  const insertObject = `INSERT OR REPLACE INTO objects (${OBJECT_COLUMNS.join(', ')}) VALUES (${marks(OBJECT_COLUMNS.length)})`;
  const bump = 'INSERT INTO backend_usage (backend, bytes, objects) VALUES (?, ?, ?) ON CONFLICT (backend) DO UPDATE SET bytes = bytes + excluded.bytes, objects = objects + excluded.objects';
  const getRow = (bucket: string, key: string) => q('SELECT * FROM objects WHERE bucket = ? AND key = ?').get(bucket, key) as Row | undefined;
  let closed = false;

  const index: PlacementIndex = {
    kind: 'sqlite',
    groupsWrites: true,
    jobs: sqliteJobs(q, batch),
    async get(bucket, key) {
      const r = getRow(bucket, key);
      return r ? objectFromRow(r) : undefined;
    },
    put(obj, intent) {
      return batch(() => {
        const r = getRow(obj.bucket, obj.key);
        const prev = r ? objectFromRow(r) : undefined;
        q(insertObject).run(...(objectParams(obj) as never[]));
        for (const d of usageDeltas(prev, obj)) q(bump).run(...d);
        if (intent !== undefined) q('DELETE FROM intents WHERE id = ?').run(intent);
        return prev;
      });
    },
    delete(bucket, key, opts = {}) {
      return batch(() => {
        const r = getRow(bucket, key);
        const prev = r ? objectFromRow(r) : undefined;
        const matches = prev && (!opts.only || (prev.backend === opts.only.backend && prev.etag === opts.only.etag));
        if (prev && matches) {
          q('DELETE FROM objects WHERE bucket = ? AND key = ?').run(bucket, key);
          for (const d of usageDeltas(prev, undefined)) q(bump).run(...d);
        }
        if (opts.intent !== undefined) q('DELETE FROM intents WHERE id = ?').run(opts.intent);
        return matches ? prev : undefined;
      });
    },
    updateCopies(bucket, key, expect, change) {
      return batch(() => {
        const r = getRow(bucket, key);
        const prev = r ? objectFromRow(r) : undefined;
        if (!prev || prev.backend !== expect.backend || prev.etag !== expect.etag) return undefined;
        const copies = change(prev.copies ?? []);
        const next: PlacedObject = { ...prev, copies };
        if (!copies.length) delete next.copies;
        q('UPDATE objects SET copies = ? WHERE bucket = ? AND key = ?').run(copies.length ? JSON.stringify(copies) : null, bucket, key);
        for (const d of usageDeltas(prev, next)) q(bump).run(...d);
        return next;
      });
    },
    relocate(bucket, key, expect, to) {
      return batch(() => {
        const r = getRow(bucket, key);
        const prev = r ? objectFromRow(r) : undefined;
        const next = relocated(prev, expect, to);
        if (!next) return undefined;
        q('UPDATE objects SET backend = ?, location = ? WHERE bucket = ? AND key = ?').run(next.backend, next.location!, bucket, key);
        for (const d of usageDeltas(prev, next)) q(bump).run(...d);
        return next;
      });
    },
    async scan(bucket, o: ScanOptions) {
      const { where, params } = keyRange(o.prefix, o.after);
      return (q(`SELECT * FROM objects WHERE bucket = ? AND ${where} ORDER BY key LIMIT ?`).all(bucket, ...params, o.limit) as Row[]).map(objectFromRow);
    },
    async find(fq) {
      // Start where the fewest rows are (counted up to a cap); at the cap every filter matches
      // plenty, and the key order fills a page soonest. Statements are not cached like the
      // fixed ones: the filters combine into too many shapes.
      const dialect = { table: (t: string) => t, byteOrder: '' };
      let best: { driver: Driver; n: number } = { driver: 'key', n: FIND_COUNT_CAP };
      for (const c of findDrivers(fq, dialect, FIND_COUNT_CAP)) {
        const n = Number((db.prepare(c.sql).get(...(c.params as never[])) as Row).n);
        if (n < best.n) best = { driver: c.driver, n };
      }
      const { sql, params } = findSql(fq, dialect, best.driver);
      return (db.prepare(sql).all(...(params as never[])) as Row[]).map(foundFromRow);
    },
    async usage() {
      const out = new Map<string, BackendUsage>();
      for (const r of q('SELECT backend, bytes, objects FROM backend_usage').all() as Row[]) out.set(String(r.backend), { bytes: Number(r.bytes), objects: Number(r.objects) });
      return out;
    },
    beginIntent(i, o) {
      return batch(() => Number(q('INSERT INTO intents (owner, bucket, key, backend, op, started, location) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(i.owner, i.bucket, i.key, i.backend, i.op, Date.now(), i.location ?? null).lastInsertRowid), o);
    },
    syncIntent(id) {
      // The row is deleted and inserted again: an UPDATE to the same values dirties no page, and
      // a commit with no page to write syncs nothing.
      return batch(() => {
        const r = q('SELECT * FROM intents WHERE id = ?').get(id) as Row | undefined;
        if (!r) return;
        q('DELETE FROM intents WHERE id = ?').run(id);
        const cols = Object.keys(r);
        q(`INSERT INTO intents (${cols.join(', ')}) VALUES (${marks(cols.length)})`).run(...(cols.map((c) => r[c]) as never[]));
      });
    },
    endIntent(id, o) {
      return batch(() => { q('DELETE FROM intents WHERE id = ?').run(id); }, o);
    },
    async intents(owner) {
      return (q('SELECT * FROM intents WHERE owner = ? ORDER BY id').all(owner) as Row[]).map(intentFromRow);
    },
    async intentsOn(bucket, backend) {
      return (q('SELECT * FROM intents WHERE bucket = ? AND backend = ? ORDER BY id').all(bucket, backend) as Row[]).map(intentFromRow);
    },
    putUpload(u) {
      return batch(() => { q(`INSERT OR REPLACE INTO uploads (${UPLOAD_COLUMNS.join(', ')}) VALUES (${marks(UPLOAD_COLUMNS.length)})`).run(...(uploadParams(u) as never[])); });
    },
    async getUpload(id) {
      const r = q('SELECT * FROM uploads WHERE upload_id = ?').get(id) as Row | undefined;
      return r ? uploadFromRow(r) : undefined;
    },
    deleteUpload(id) {
      return batch(() => {
        q('DELETE FROM parts WHERE upload_id = ?').run(id);
        q('DELETE FROM uploads WHERE upload_id = ?').run(id);
      });
    },
    async listUploads(bucket, o) {
      const { where, params } = keyRange(o.prefix, '');
      const marker = o.uploadIdMarker ? q('SELECT initiated FROM uploads WHERE upload_id = ?').get(o.uploadIdMarker) as Row | undefined : undefined;
      const rows = marker
        ? q(`SELECT * FROM uploads WHERE bucket = ? AND ${where} AND (key > ? OR (key = ? AND (initiated > ? OR (initiated = ? AND upload_id > ?))))
             ORDER BY key, initiated, upload_id LIMIT ?`).all(bucket, ...params, o.keyMarker, o.keyMarker, Number(marker.initiated), Number(marker.initiated), o.uploadIdMarker, o.limit)
        : q(`SELECT * FROM uploads WHERE bucket = ? AND ${where} AND key > ? ORDER BY key, initiated, upload_id LIMIT ?`).all(bucket, ...params, o.keyMarker, o.limit);
      return (rows as Row[]).map(uploadFromRow);
    },
    async uploadsBefore(date, limit) {
      return (q('SELECT * FROM uploads WHERE initiated < ? ORDER BY initiated LIMIT ?').all(date.getTime(), limit) as Row[]).map(uploadFromRow);
    },
    putPart(p) {
      return batch(() => {
        q('INSERT OR REPLACE INTO parts (upload_id, part_number, etag, size, last_modified, checksums) VALUES (?, ?, ?, ?, ?, ?)')
          .run(p.uploadId, p.partNumber, p.etag, p.size, p.lastModified.getTime(), JSON.stringify(p.checksums));
      });
    },
    async parts(id, after, limit) {
      return (q('SELECT * FROM parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?').all(id, after, limit) as Row[]).map(partFromRow);
    },
    async getOriginMark(bucket, key) {
      const r = q("SELECT * FROM origin_marks WHERE bucket = ? AND key = ? AND kind = 'deleted'").get(bucket, key) as Row | undefined;
      return r ? originMarkFromRow(r) : undefined;
    },
    setOriginMark(bucket, key) {
      return batch(() => {
        q(`INSERT INTO origin_marks (bucket, key, kind, attempts, error, at) VALUES (?, ?, 'deleted', 0, NULL, ?)
           ON CONFLICT (bucket, key) DO UPDATE SET kind = 'deleted', attempts = 0, error = NULL, at = excluded.at`).run(bucket, key, Date.now());
      });
    },
    async originMarksOf(bucket, keys) {
      const out = [];
      for (let i = 0; i < keys.length; i += 500) {
        const chunk = keys.slice(i, i + 500);
        out.push(...(q(`SELECT * FROM origin_marks WHERE bucket = ? AND kind = 'deleted' AND key IN (${marks(chunk.length)})`).all(bucket, ...chunk) as Row[]).map(originMarkFromRow));
      }
      return out;
    },
    async getMeta(name) {
      return (q('SELECT value FROM meta WHERE name = ?').get(name) as { value: string } | undefined)?.value;
    },
    setMeta(name, value) {
      return batch(() => {
        if (value === undefined) q('DELETE FROM meta WHERE name = ?').run(name);
        else q('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)').run(name, value);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      // Let queued writes commit first.
      await batch(() => undefined);
      db.close();
    },
  };
  return index;
}

// The embedded store's metadata: buckets, objects (with the blobs holding their bytes), and
// multipart uploads with their parts, in node:sqlite (WAL, synchronous=FULL when durable). Keys
// compare with BINARY collation — memcmp over UTF-8, the byte order S3 lists in.
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { createBatcher, type Batcher } from '../../placement/batch.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS buckets (name TEXT PRIMARY KEY, created INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bucket_cors (bucket TEXT PRIMARY KEY, rules TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS objects (
  bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL, last_modified INTEGER NOT NULL,
  headers TEXT NOT NULL, checksums TEXT NOT NULL, checksum_type TEXT, parts_count INTEGER, segments TEXT NOT NULL,
  PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
  upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, initiated INTEGER NOT NULL,
  headers TEXT NOT NULL, checksum_algorithm TEXT, checksum_type TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, initiated, upload_id);
CREATE TABLE IF NOT EXISTS parts (
  upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
  checksums TEXT NOT NULL, last_modified INTEGER NOT NULL, PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
`;

export interface ObjectRow {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  last_modified: number;
  headers: string;
  checksums: string;
  checksum_type: string | null;
  parts_count: number | null;
  segments: string;
}

export interface UploadRow {
  upload_id: string;
  bucket: string;
  key: string;
  initiated: number;
  headers: string;
  checksum_algorithm: string | null;
  checksum_type: string | null;
}

export interface PartRow {
  upload_id: string;
  part_number: number;
  blob: string;
  size: number;
  etag: string;
  checksums: string;
  last_modified: number;
}

export interface MetaDb {
  /** A cached prepared statement. */
  q(sql: string): StatementSync;
  /** Runs `fn` in a group-committed write transaction; resolves once durable. */
  write: Batcher;
  close(): void;
}

/** Stores made before a column existed get it (uploads of then: COMPOSITE or no checksum). */
function addMissingColumns(db: DatabaseSync): void {
  const cols = (db.prepare('PRAGMA table_info(uploads)').all() as { name: string }[]).map((c) => c.name);
  if (!cols.includes('checksum_type')) db.exec('ALTER TABLE uploads ADD COLUMN checksum_type TEXT');
}

export function openMetaDb(path: string, durable: boolean): MetaDb {
  // Owner-only before SQLite opens it: its -wal and -shm files take the database file's mode.
  closeSync(openSync(path, 'a', 0o600));
  for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(`PRAGMA synchronous = ${durable ? 'FULL' : 'NORMAL'}`);
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec(SCHEMA);
  addMissingColumns(db);
  const cache = new Map<string, StatementSync>();
  return {
    q(sql) {
      let s = cache.get(sql);
      if (!s) cache.set(sql, (s = db.prepare(sql)));
      return s;
    },
    write: createBatcher(db),
    close: () => db.close(),
  };
}

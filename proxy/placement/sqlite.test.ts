import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteIndex } from './sqlite.ts';
import { placementSuite } from './suite.fixture.ts';
import { bruteForce, copiesBackfillSuite, findSuite, QUERIES, seedRecords } from './find.fixture.ts';
import { findDrivers, findSql } from './find.ts';
import { duplicateMovesSql, jobsSuite, singleJobsBackfillSuite } from './jobs-suite.fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'floodgate-index-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

placementSuite('sqlite', async () => openSqliteIndex(join(dir, `index-${n++}.db`)));
findSuite('sqlite', async () => openSqliteIndex(join(dir, `index-${n++}.db`)));
jobsSuite('sqlite', async () => openSqliteIndex(join(dir, `index-${n++}.db`)));

test('sqlite: committed writes survive reopening; WAL and synchronous=FULL are on', async () => {
  const path = join(dir, 'durable', 'index.db');
  const ix = openSqliteIndex(path);
  await ix.put({ bucket: 'vb', key: 'k', backend: 'b1', size: 3, etag: 'e', lastModified: new Date(5), checksums: {}, userMeta: {} });
  await ix.close();
  const again = openSqliteIndex(path);
  assert.equal((await again.get('vb', 'k'))?.etag, 'e');
  assert.deepEqual((await again.usage()).get('b1'), { bytes: 3, objects: 1 });
  await again.close();
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(path);
  assert.equal((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal');
  db.close();
});

test('sqlite: an origin mark of the \'failed\' kind an older gateway wrote hides nothing (failed copies are jobs now)', async () => {
  const path = join(dir, 'old-marks.db');
  const ix = openSqliteIndex(path);
  await ix.setOriginMark('vb', 'gone', 'deleted');
  await ix.close();
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(path);
  db.prepare("INSERT INTO origin_marks (bucket, key, kind, attempts, error, at) VALUES ('vb', 'old', 'failed', 3, 'origin said 500', 0)").run();
  db.close();
  const again = openSqliteIndex(path);
  try {
    assert.equal(await again.getOriginMark('vb', 'old'), undefined);
    assert.deepEqual((await again.originMarksOf('vb', ['old', 'gone'])).map((m) => m.key), ['gone']);
    assert.equal((await again.getOriginMark('vb', 'gone'))?.kind, 'deleted');
  } finally {
    await again.close();
  }
});

test('sqlite: a failing write in a group commit fails alone', async () => {
  const ix = openSqliteIndex(join(dir, 'group.db'));
  const good = ix.put({ bucket: 'vb', key: 'ok', backend: 'b1', size: 1, etag: 'e', lastModified: new Date(), checksums: {}, userMeta: {} });
  // A record whose JSON column cannot be written (circular metadata) fails inside the batch.
  const meta: Record<string, unknown> = {};
  meta.self = meta;
  const bad = ix.put({ bucket: 'vb', key: 'bad', backend: 'b1', size: 1, etag: 'e', lastModified: new Date(), checksums: {}, userMeta: meta as Record<string, string> });
  await good;
  await assert.rejects(bad);
  assert.ok(await ix.get('vb', 'ok'));
  assert.equal(await ix.get('vb', 'bad'), undefined);
  assert.deepEqual((await ix.usage()).get('b1'), { bytes: 1, objects: 1 });
  await ix.close();
});

test('sqlite: an index made before records had a backend-side name and uploads a checksum type opens with the columns added', async () => {
  const path = join(dir, 'old.db');
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(path);
  db.exec(`CREATE TABLE objects (
    bucket TEXT NOT NULL, key TEXT NOT NULL, backend TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    last_modified INTEGER NOT NULL, content_type TEXT, cache_control TEXT, content_disposition TEXT, content_encoding TEXT,
    content_language TEXT, expires TEXT, user_meta TEXT NOT NULL, checksums TEXT NOT NULL, checksum_type TEXT, parts_count INTEGER,
    PRIMARY KEY (bucket, key)) WITHOUT ROWID;
    CREATE TABLE intents (id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL,
    backend TEXT NOT NULL, op TEXT NOT NULL, started INTEGER NOT NULL);
    CREATE TABLE uploads (upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, backend TEXT NOT NULL, backend_upload_id TEXT NOT NULL,
    initiated INTEGER NOT NULL, checksum_algorithm TEXT, headers TEXT NOT NULL) WITHOUT ROWID;
    INSERT INTO uploads VALUES ('u-old', 'vb', 'k', 'b1', 'be', 5, 'crc32', '{"userMeta":{}}');
    INSERT INTO objects VALUES ('vb', 'old', 'b1', 2, 'e', 5, NULL, NULL, NULL, NULL, NULL, NULL, '{}', '{}', NULL, NULL);`);
  db.close();
  const ix = openSqliteIndex(path);
  const old = await ix.get('vb', 'old');
  assert.equal(old?.etag, 'e');
  assert.equal(old?.location, undefined);
  await ix.put({ bucket: 'vb', key: 'new', backend: 'b1', size: 1, etag: 'f', lastModified: new Date(6), checksums: {}, userMeta: {}, location: 'x/1/new' });
  assert.equal((await ix.get('vb', 'new'))?.location, 'x/1/new');
  // An upload from before checksum types: no type recorded (COMPOSITE), and new ones keep theirs.
  assert.equal((await ix.getUpload('u-old'))?.checksumType, undefined);
  await ix.putUpload({ uploadId: 'u-new', bucket: 'vb', key: 'k', backend: 'b1', backendUploadId: 'be2', initiated: new Date(7), checksumAlgorithm: 'crc32', checksumType: 'FULL_OBJECT', headers: { userMeta: {} } });
  assert.equal((await ix.getUpload('u-new'))?.checksumType, 'FULL_OBJECT');
  await ix.close();
});

test('sqlite: an index made before metadata search gets its metadata rows from the records once, then from every write', async () => {
  const path = join(dir, 'pre-find.db');
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(path);
  db.exec(`CREATE TABLE objects (
    bucket TEXT NOT NULL, key TEXT NOT NULL, backend TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    last_modified INTEGER NOT NULL, content_type TEXT, cache_control TEXT, content_disposition TEXT, content_encoding TEXT,
    content_language TEXT, expires TEXT, user_meta TEXT NOT NULL, checksums TEXT NOT NULL, checksum_type TEXT, parts_count INTEGER,
    location TEXT, PRIMARY KEY (bucket, key)) WITHOUT ROWID;
    INSERT INTO objects VALUES ('vb', 'old-1', 'b1', 2, 'e', 5, 'text/plain', NULL, NULL, NULL, NULL, NULL, '{"team":"red","env":"prod"}', '{}', NULL, NULL, NULL);
    INSERT INTO objects VALUES ('vb', 'old-2', 'b1', 2, 'e', 5, NULL, NULL, NULL, NULL, NULL, NULL, '{"team":"blue"}', '{}', NULL, NULL, NULL);`);
  db.close();
  const keys = async (ix: Awaited<ReturnType<typeof openSqliteIndex>>, name: string, value?: string) =>
    (await ix.find({ bucket: 'vb', prefix: '', after: '', meta: [{ name, value }], limit: 10 })).map((o) => o.key);
  const ix = openSqliteIndex(path);
  assert.deepEqual(await keys(ix, 'team', 'red'), ['old-1']);
  assert.deepEqual(await keys(ix, 'team'), ['old-1', 'old-2']);
  await ix.put({ bucket: 'vb', key: 'old-1', backend: 'b1', size: 1, etag: 'f', lastModified: new Date(6), checksums: {}, userMeta: { team: 'blue' } });
  await ix.delete('vb', 'old-2');
  await ix.close();
  // Reopened: filled once only, so the overwrite and the delete stay visible.
  const again = openSqliteIndex(path);
  assert.deepEqual(await keys(again, 'team', 'blue'), ['old-1']);
  assert.deepEqual(await keys(again, 'env'), []);
  await again.close();
});

copiesBackfillSuite('sqlite', async () => openSqliteIndex(join(dir, 'pre-copies.db')), async () => {
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(join(dir, 'pre-copies.db'));
  db.exec('DROP TRIGGER objects_copies_insert; DROP TRIGGER objects_copies_update; DROP TRIGGER objects_copies_delete; DROP TABLE object_copies');
  db.close();
});

singleJobsBackfillSuite('sqlite', async () => openSqliteIndex(join(dir, 'pre-single.db')), async () => {
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(join(dir, 'pre-single.db'));
  db.exec('DROP INDEX jobs_single');
  const r = db.prepare(duplicateMovesSql('jobs')).run();
  db.close();
  return Number(r.changes);
});

test('sqlite: find — the scan may start from any filter\'s index (the cheapest is picked per page): every start gives the same pages', async () => {
  const path = join(dir, 'drivers.db');
  const ix = openSqliteIndex(path);
  const records = seedRecords(1500, 3);
  for (let i = 0; i < records.length; i += 100) await Promise.all(records.slice(i, i + 100).map((o) => ix.put(o)));
  await ix.close();
  const { DatabaseSync } = await import('node:sqlite');
  const db = new DatabaseSync(path);
  const dialect = { table: (t: string) => t, byteOrder: '' };
  try {
    for (const [title, q] of QUERIES) {
      const want = bruteForce(records, { ...q, after: '' }).map((o) => o.key);
      for (const { driver } of findDrivers({ ...q, after: '', limit: 1 }, dialect, 10)) {
        const got: string[] = [];
        for (let after = '', pages = 0; pages < 1000; pages++) {
          const { sql, params } = findSql({ ...q, after, limit: 50 }, dialect, driver);
          const page = (db.prepare(sql).all(...(params as never[])) as { key: string }[]).map((r) => r.key);
          got.push(...page);
          if (page.length < 50) break;
          after = page.at(-1)!;
        }
        assert.deepEqual(got, want, `${title}, starting from ${driver}`);
      }
    }
  } finally {
    db.close();
  }
});

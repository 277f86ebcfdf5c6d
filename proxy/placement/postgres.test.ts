import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openPostgresIndex } from './postgres.ts';
import { OBJECT_COLUMNS, objectParams } from './rows.ts';
import { startPostgres, type PostgresServer } from './postgres.fixture.ts';
import { placementSuite } from './suite.fixture.ts';
import { copiesBackfillSuite, findSuite } from './find.fixture.ts';
import { duplicateMovesSql, jobsSuite, singleJobsBackfillSuite } from './jobs-suite.fixture.ts';

let server: PostgresServer;
before(async () => { server = await startPostgres(); });
after(async () => { await server?.stop(); });
let n = 0;

placementSuite('postgres', () => openPostgresIndex(server.url, { schema: `suite_${n++}` }));
let findSchema = '';
findSuite('postgres', () => openPostgresIndex(server.url, { schema: (findSchema = `suite_${n++}`) }), async (records) => {
  const c = new pg.Client({ connectionString: server.url });
  await c.connect();
  try {
    for (let i = 0; i < records.length; i += 500) {
      const rows = records.slice(i, i + 500);
      const w = OBJECT_COLUMNS.length;
      const values = rows.map((_, r) => `(${OBJECT_COLUMNS.map((__, k) => `$${r * w + k + 1}`).join(', ')})`).join(', ');
      await c.query(`INSERT INTO "${findSchema}".objects (${OBJECT_COLUMNS.join(', ')}) VALUES ${values}`, rows.flatMap(objectParams));
    }
    // What autovacuum does after a bulk load: without statistics the planner guesses a table this
    // size has one row and picks plans that are slow (never wrong) for the metadata joins.
    await c.query(`ANALYZE "${findSchema}".objects, "${findSchema}".object_meta`);
  } finally {
    await c.end();
  }
});
jobsSuite('postgres', () => openPostgresIndex(server.url, { schema: `suite_${n++}` }));

test('postgres: two replicas on one schema see each other and keep one set of counters', async () => {
  const a = await openPostgresIndex(server.url, { schema: 'shared' });
  const b = await openPostgresIndex(server.url, { schema: 'shared' });
  const rec = (backend: string, size: number) => ({ bucket: 'vb', key: 'k', backend, size, etag: `e${size}`, lastModified: new Date(), checksums: {}, userMeta: {} });
  await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).put(rec(`b${i % 3}`, i + 1))));
  const seen = await a.get('vb', 'k');
  assert.deepEqual(await b.get('vb', 'k'), seen);
  let objects = 0, bytes = 0;
  for (const u of (await b.usage()).values()) { objects += u.objects; bytes += u.bytes; }
  assert.equal(objects, 1);
  assert.equal(bytes, seen!.size);
  await a.close();
  await b.close();
});

test('postgres: two replicas asking for the same rebalance at once queue one', async () => {
  const [a, b] = await Promise.all([0, 1].map(() => openPostgresIndex(server.url, { schema: 'shared_single' })));
  try {
    const asks = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a! : b!).jobs.enqueueSingle({ kind: 'rebalance', bucket: 'vb', key: '', backend: '' })));
    assert.deepEqual([asks.filter((x) => x.created).length, new Set(asks.map((x) => x.job.id)).size], [1, 1]);
    assert.equal((await b!.jobs.list({ after: 0, limit: 10 })).length, 1);
  } finally {
    await a!.close();
    await b!.close();
  }
});

singleJobsBackfillSuite('postgres', () => openPostgresIndex(server.url, { schema: 'pre_single' }), async () => {
  const c = new pg.Client({ connectionString: server.url });
  await c.connect();
  try {
    await c.query('DROP INDEX pre_single.jobs_single');
    return (await c.query(duplicateMovesSql('pre_single.jobs'))).rowCount ?? 0;
  } finally {
    await c.end();
  }
});

test('postgres: a bad schema name is refused before any SQL', async () => {
  await assert.rejects(openPostgresIndex(server.url, { schema: 'x"; drop table y; --' }), /lower-case SQL identifier/);
});

copiesBackfillSuite('postgres', () => openPostgresIndex(server.url, { schema: 'pre_copies' }), async () => {
  const c = new pg.Client({ connectionString: server.url });
  await c.connect();
  await c.query('DROP TABLE pre_copies.object_copies; DROP FUNCTION pre_copies.objects_copies_sync CASCADE');
  await c.end();
});

test('postgres: an index made before metadata search gets its metadata rows from the records once, then from every write', async () => {
  const rec = (key: string, userMeta: Record<string, string>) => ({ bucket: 'vb', key, backend: 'b1', size: 1, etag: 'e', lastModified: new Date(5), checksums: {}, userMeta });
  const ix = await openPostgresIndex(server.url, { schema: 'pre_find' });
  await ix.put(rec('old-1', { team: 'red', env: 'prod' }));
  await ix.put(rec('old-2', { team: 'blue' }));
  await ix.close();
  // As it was before: no metadata table, no trigger.
  const c = new pg.Client({ connectionString: server.url });
  await c.connect();
  await c.query('DROP TABLE pre_find.object_meta; DROP FUNCTION pre_find.objects_meta_sync CASCADE');
  await c.end();
  const keys = async (i: typeof ix, name: string, value?: string) => (await i.find({ bucket: 'vb', prefix: '', after: '', meta: [{ name, value }], limit: 10 })).map((o) => o.key);
  const a = await openPostgresIndex(server.url, { schema: 'pre_find' });
  assert.deepEqual(await keys(a, 'team', 'red'), ['old-1']);
  assert.deepEqual(await keys(a, 'team'), ['old-1', 'old-2']);
  await a.put(rec('old-1', { team: 'blue' }));
  await a.delete('vb', 'old-2');
  await a.close();
  const b = await openPostgresIndex(server.url, { schema: 'pre_find' });
  assert.deepEqual(await keys(b, 'team', 'blue'), ['old-1']);
  assert.deepEqual(await keys(b, 'env'), []);
  await b.close();
});

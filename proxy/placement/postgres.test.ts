import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openPostgresIndex } from './postgres.ts';
import { startPostgres, type PostgresServer } from './postgres.fixture.ts';
import { placementSuite } from './suite.fixture.ts';

let server: PostgresServer;
before(async () => { server = await startPostgres(); });
after(async () => { await server?.stop(); });
let n = 0;

placementSuite('postgres', () => openPostgresIndex(server.url, { schema: `suite_${n++}` }));

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

test('postgres: a bad schema name is refused before any SQL', async () => {
  await assert.rejects(openPostgresIndex(server.url, { schema: 'x"; drop table y; --' }), /lower-case SQL identifier/);
});

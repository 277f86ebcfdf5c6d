// Two gateway replicas sharing one PostgreSQL placement index over the same MinIO backends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { startMinio, type Minio } from '../backends/s3/minio.fixture.ts';
import { openS3Store, type S3Store } from '../backends/s3/store.ts';
import { startPostgres, type PostgresServer } from '../placement/postgres.fixture.ts';
import { S3Error } from '../s3/errors.ts';
import { openVirtualStore, parseBalancingConfig, type VirtualStore } from './index.ts';

let minio: Minio;
let pgServer: PostgresServer;
let direct: S3Store;

before(async () => {
  [minio, pgServer] = await Promise.all([startMinio(), startPostgres()]);
  direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  for (const b of ['rep-a', 'rep-b', 'rep-c']) await direct.createBucket(b);
});

after(async () => {
  await direct?.close();
  await minio?.close();
  await pgServer?.stop();
});

const open = (replica: string) => openVirtualStore(parseBalancingConfig({
  backends: ['a', 'b', 'c'].map((n) => ({ name: n, endpoint: minio.endpoint, bucket: `rep-${n}`, credentials: minio.credentials })),
  virtualBuckets: [{ name: 'shared', backends: ['a', 'b', 'c'], strategy: 'round-robin' }],
  index: { kind: 'postgres', url: pgServer.url, schema: 'replicas' },
  replica,
}));

const input = (s: string) => ({ body: Readable.from([Buffer.from(s)]), size: Buffer.byteLength(s), headers: { userMeta: {} }, checksums: {} });
async function text(store: VirtualStore, key: string): Promise<string> {
  const r = await store.getObject('shared', key, {});
  const chunks: Buffer[] = [];
  for await (const c of r.body!) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

test('replicas on a PostgreSQL index see each other\'s writes, overwrites and deletes; one copy per key', async () => {
  const a = await open('gw-a');
  const b = await open('gw-b');
  try {
    await a.putObject('shared', 'k', input('from a'));
    assert.equal(await text(b, 'k'), 'from a');
    // b's rotation starts at backend a as well, so its overwrite of k lands on another backend
    // after one write of its own: the copy a wrote must go.
    await b.putObject('shared', 'other', input('x'));
    await b.putObject('shared', 'k', input('from b'));
    assert.equal(await text(a, 'k'), 'from b');
    const copies = [];
    for (const n of ['a', 'b', 'c']) copies.push(...(await direct.scan(`rep-${n}`, { prefix: 'shared/k', after: '', limit: 10 })).map(() => n));
    assert.equal(copies.length, 1);
    // Concurrent writers of different keys from both replicas.
    await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).putObject('shared', `c/${i}`, input(`v${i}`))));
    assert.equal((await a.scan('shared', { prefix: 'c/', after: '', limit: 100 })).length, 40);
    await a.deleteObject('shared', 'c/1');
    await assert.rejects(b.getObject('shared', 'c/1', {}), (e: S3Error) => e.code === 'NoSuchKey');
    // Usage is shared through the index: both replicas agree after their periodic refresh.
    const usage = await a.index.usage();
    const objects = [...usage.values()].reduce((t, u) => t + u.objects, 0);
    assert.equal(objects, 41);
  } finally {
    await a.close();
    await b.close();
  }
});

test('the index URL from a file (a mounted Secret), as the operator renders it; a missing or empty file is a config error', async () => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-pgurl-'));
  const openWith = (urlFile: string) => openVirtualStore(parseBalancingConfig({
    backends: [{ name: 'a', endpoint: minio.endpoint, bucket: 'rep-a', credentials: minio.credentials }],
    virtualBuckets: [{ name: 'shared', backends: ['a'] }],
    index: { kind: 'postgres', urlFile, schema: 'replicas' },
    replica: 'gw-file',
  }));
  try {
    writeFileSync(join(dir, 'url'), pgServer.url + '\n');
    const s = await openWith(join(dir, 'url'));
    try {
      assert.equal(s.index.kind, 'postgres');
      await s.putObject('shared', 'from-file', input('x'));
      assert.equal(await text(s, 'from-file'), 'x');
    } finally {
      await s.close();
    }
    await assert.rejects(openWith(join(dir, 'missing')), /index\.urlFile: cannot read .*missing/);
    writeFileSync(join(dir, 'empty'), ' \n');
    await assert.rejects(openWith(join(dir, 'empty')), /index\.urlFile: .*empty is empty/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Read-through origins (lazy migration), against real MinIO: an origin bucket of 1,000 objects on
// one MinIO server, the virtual buckets' two backends on another, @aws-sdk/client-s3 through the
// gateway. GETs, HEADs and ranges answered with the origin's bytes and the objects copied in;
// listings (V2 and V1, delimiters, pages) with every key once, during a migration too; tombstones
// and PUTs over origin keys; a failed copy retried; the origin down → 503, not a crash; the
// migration job through the admin API (a second run copies nothing), on sqlite and PostgreSQL,
// resumed after its gateway stops; bad origin configs refused with the field named.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import {
  DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { startMinio, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store, type S3Store } from '../proxy/backends/s3/store.ts';
import { startPostgres, type PostgresServer } from '../proxy/placement/postgres.fixture.ts';
import { openPostgresIndex } from '../proxy/placement/postgres.ts';
import { loadState } from '../proxy/virtual/origin/migrate.ts';
import { startFront } from '../proxy/front.ts';
import type { Gateway } from '../proxy/server.ts';
import { createLogger } from '../proxy/observability/log.ts';
import type { StatusSnapshot } from '../proxy/health/status.ts';
import { openVirtualStore, parseBalancingConfig, type VirtualStore } from '../proxy/virtual/index.ts';
import { newCredentials, ROOT, spawnGateway, tempDir, until } from './lib/gateway.ts';
import { bytes, s3Error } from './lib/s3.ts';

const run = promisify(execFile);
const N = 1000;
/** The smaller origin the resume tests migrate (the first SMALL keys, same bytes). */
const SMALL = 300;
const creds = newCredentials();
const ADMIN = 'admin-token-for-tests';
const plain = (c: { accessKeyId: string; secretAccessKey: string }) => ({ accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey });
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

let originMinio: Minio;
let backMinio: Minio;
let origin: S3Store;
let back: S3Store;
let dir: string;
/** The origin's objects: key → bytes. */
const seeded = new Map<string, Buffer>();
const seqOf = (key: string) => [...seeded.keys()].indexOf(key);
let allKeys: string[];
let smallKeys: string[];

function keyOf(i: number): string {
  if (i % 100 === 7) return `top-${String(i).padStart(4, '0')}`;
  if (i % 250 === 3) return `d${i % 5}/grün-${i}`;
  return `d${i % 5}/${i % 3 ? 'x' : 'y'}/obj-${String(i).padStart(4, '0')}`;
}

before(async () => {
  [originMinio, backMinio] = await Promise.all([startMinio(), startMinio()]);
  origin = openS3Store({ name: 'origin', endpoint: originMinio.endpoint, region: 'us-east-1', credentials: originMinio.credentials, pathStyle: true });
  back = openS3Store({ name: 'back', endpoint: backMinio.endpoint, region: 'us-east-1', credentials: backMinio.credentials, pathStyle: true });
  await origin.createBucket('legacy');
  await origin.createBucket('legacy-small');
  for (const b of ['lazy-a', 'lazy-b', 'bulk-a', 'bulk-b', 'pg-a', 'pg-b', 'kill-a', 'kill-b']) await back.createBucket(b);
  dir = tempDir('floodgate-origin-');
  for (let i = 0; i < N; i++) seeded.set(keyOf(i), randomBytes(200 + ((i * 37) % 3000)));
  const entries = [...seeded];
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < entries.length) {
      const i = next++;
      const [key, body] = entries[i]!;
      for (const bucket of i < SMALL ? ['legacy', 'legacy-small'] : ['legacy']) {
        await origin.putObject(bucket, key, {
          body: Readable.from([body]), size: body.length, checksums: {},
          headers: { contentType: i % 2 ? 'image/png' : 'text/plain; charset=utf-8', userMeta: { seq: String(i), tag: 'grün' } },
        });
      }
    }
  }));
  allKeys = [...seeded.keys()].sort(byteOrder);
  smallKeys = [...seeded.keys()].slice(0, SMALL).sort(byteOrder);
});

after(async () => {
  await origin?.close();
  await back?.close();
  await Promise.all([originMinio?.close(), backMinio?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Opened {
  store: VirtualStore;
  gw: Gateway;
  s3: S3Client;
  close(): Promise<void>;
}

function balancing(vb: string, prefix: string, extra: { migrate?: object; index?: object; replica?: string; originBucket?: string } = {}) {
  return parseBalancingConfig({
    backends: [
      { name: `${prefix}-a`, endpoint: backMinio.endpoint, bucket: `${prefix}-a`, credentials: plain(backMinio.credentials) },
      { name: `${prefix}-b`, endpoint: backMinio.endpoint, bucket: `${prefix}-b`, credentials: plain(backMinio.credentials) },
    ],
    virtualBuckets: [{
      name: vb, backends: [`${prefix}-a`, `${prefix}-b`],
      origin: { endpoint: originMinio.endpoint, bucket: extra.originBucket ?? 'legacy', credentials: plain(originMinio.credentials), retryInterval: '300ms', ...(extra.migrate ? { migrate: extra.migrate } : {}) },
    }],
    health: { interval: '300ms', recoveryInterval: '200ms', failureThreshold: 2, recoveryThreshold: 1, probeTimeout: '2s' },
    timeouts: { connect: '2s', firstByte: '10s', idle: '10s' },
    ...(extra.index ? { index: extra.index } : {}),
    ...(extra.replica ? { replica: extra.replica } : {}),
  });
}

async function open(vb: string, prefix: string, extra: Parameters<typeof balancing>[2] = {}): Promise<Opened> {
  const store = await openVirtualStore(balancing(vb, prefix, extra), { dataDir: join(dir, vb) });
  const gw = await startFront({
    store, virtual: store, adminToken: ADMIN, keys: (id) => (id === creds.accessKeyId ? creds.secretAccessKey : undefined),
    host: '127.0.0.1', port: 0, domains: ['localhost'], region: 'us-east-1', idleTimeoutMs: 10_000, logger: createLogger('error'),
  });
  const s3 = new S3Client({ endpoint: gw.url, region: 'us-east-1', forcePathStyle: true, credentials: plain(creds), maxAttempts: 1 });
  return { store, gw, s3, async close() { s3.destroy(); await gw.close(); await store.close(); } };
}

/** Every key of a ListObjectsV2 walk in pages of `maxKeys`. */
async function listV2(s3: S3Client, bucket: string, maxKeys: number, prefix?: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  for (let page = 0; page < 200; page++) {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: maxKeys, ContinuationToken: token, Prefix: prefix }));
    keys.push(...(r.Contents ?? []).map((c) => c.Key!));
    if (!r.IsTruncated) return keys;
    token = r.NextContinuationToken;
  }
  throw new Error('listing did not end');
}

/** Where a key of `vb` is stored on the backend buckets `<prefix>-a|b`: one entry per copy. */
async function copiesOf(prefix: string, vb: string, key: string): Promise<{ bucket: string; etag: string }[]> {
  const out = [];
  for (const b of [`${prefix}-a`, `${prefix}-b`]) {
    for (const m of await back.scan(b, { prefix: `${vb}/${key}`, after: '', limit: 10 })) if (m.key === `${vb}/${key}`) out.push({ bucket: b, etag: m.etag });
  }
  return out;
}

const admin = (gw: Gateway, bucket: string, method = 'GET', token = ADMIN) =>
  fetch(`${gw.url}/_floodgate/admin/migrations?bucket=${bucket}`, { method, headers: { authorization: `Bearer ${token}` } });
const originStatus = (store: VirtualStore, vb: string) => (store.status() as StatusSnapshot).virtualBuckets.find((v) => v.name === vb)!.origin!;

describe('read-through from the origin (sqlite index)', () => {
  const vb = 'lazy';
  let o: Opened;
  before(async () => { o = await open(vb, 'lazy'); });
  after(async () => { await o?.close(); });

  test('GET, HEAD and ranges return the origin\'s bytes and metadata; the objects are copied onto the backends', async () => {
    const sample = allKeys.filter((_, i) => i % 20 === 0);
    for (const key of sample) {
      const r = await o.s3.send(new GetObjectCommand({ Bucket: vb, Key: key }));
      assert.equal(md5(await bytes(r.Body)), md5(seeded.get(key)!), key);
      assert.equal(r.ETag, `"${md5(seeded.get(key)!)}"`);
      assert.equal(r.Metadata?.seq, String(seqOf(key)));
      assert.match(r.ContentType ?? '', /^(image\/png|text\/plain; charset=utf-8)$/);
    }
    const key = sample[1]!;
    const body = seeded.get(key)!;
    const ranged = await o.s3.send(new GetObjectCommand({ Bucket: vb, Key: allKeys[5]!, Range: 'bytes=10-49' }));
    assert.equal(ranged.ContentRange, `bytes 10-49/${seeded.get(allKeys[5]!)!.length}`);
    assert.deepEqual(await bytes(ranged.Body), seeded.get(allKeys[5]!)!.subarray(10, 50));
    const head = await o.s3.send(new HeadObjectCommand({ Bucket: vb, Key: allKeys[6]! }));
    assert.equal(head.ContentLength, seeded.get(allKeys[6]!)!.length);
    assert.equal(head.Metadata?.seq !== undefined, true);
    await o.store.origins.idle();
    for (const k of [...sample, allKeys[5]!, allKeys[6]!]) {
      const rec = await o.store.index.get(vb, k);
      assert.ok(rec, `${k} is indexed after its read`);
      assert.equal(rec.etag, md5(seeded.get(k)!), 'same ETag as the origin');
      assert.deepEqual([rec.userMeta, rec.contentType], [{ seq: String(seqOf(k)), tag: 'grün' }, seqOf(k) % 2 ? 'image/png' : 'text/plain; charset=utf-8'], 'same metadata');
      assert.deepEqual(await copiesOf('lazy', vb, k), [{ bucket: `${rec.backend}`, etag: rec.etag }], `one copy of ${k}, where the index says`);
    }
    const st = originStatus(o.store, vb);
    assert.equal(st.copied, sample.length + 2);
    assert.equal(st.copiedBytes, [...sample, allKeys[5]!, allKeys[6]!].reduce((n, k) => n + seeded.get(k)!.length, 0));
    // Served from the backend now, with the origin's metadata.
    const again = await o.s3.send(new GetObjectCommand({ Bucket: vb, Key: key }));
    assert.deepEqual(await bytes(again.Body), body);
    assert.equal(again.Metadata?.seq, String(seqOf(key)));
    const missing = await s3Error(o.s3.send(new GetObjectCommand({ Bucket: vb, Key: 'not/on/the/origin' })));
    assert.equal(missing.name, 'NoSuchKey');
  });

  test('a multipart origin object is copied part by part: the same ETag ("-2"), bytes and metadata', async () => {
    const key = 'mp/two-parts.bin';
    const parts = [randomBytes(5 * 1024 * 1024), randomBytes(100_000)];
    const id = await origin.createMultipartUpload('legacy', key, { contentType: 'application/x-test', userMeta: { kind: 'multipart' } });
    const done = [];
    for (const [i, p] of parts.entries()) {
      const r = await origin.uploadPart('legacy', key, id, i + 1, { body: Readable.from([p]), size: p.length, headers: { userMeta: {} }, checksums: {} });
      done.push({ partNumber: i + 1, etag: r.etag, checksums: {} });
    }
    const meta = await origin.completeMultipartUpload('legacy', key, id, done);
    assert.match(meta.etag, /-2$/);
    try {
      const r = await o.s3.send(new GetObjectCommand({ Bucket: vb, Key: key }));
      assert.equal(md5(await bytes(r.Body)), md5(Buffer.concat(parts)));
      await o.store.origins.idle();
      const rec = await o.store.index.get(vb, key);
      assert.deepEqual([rec?.etag, rec?.size, rec?.contentType, rec?.userMeta], [meta.etag, 5 * 1024 * 1024 + 100_000, 'application/x-test', { kind: 'multipart' }]);
      assert.equal((await copiesOf('lazy', vb, key))[0]?.etag, meta.etag, 'the backend holds it with the origin\'s ETag');
      const part2 = await o.s3.send(new GetObjectCommand({ Bucket: vb, Key: key, PartNumber: 2 }));
      assert.deepEqual(await bytes(part2.Body), parts[1]);
    } finally {
      // Not part of the 1,000 the other tests count.
      await origin.deleteObject('legacy', key);
      await o.s3.send(new DeleteObjectCommand({ Bucket: vb, Key: key }));
    }
  });

  test('a listing merges origin keys with copied ones: each key once, in byte order, in pages, with delimiters (V2 and V1)', async () => {
    assert.deepEqual(await listV2(o.s3, vb, 97), allKeys);
    assert.deepEqual(await listV2(o.s3, vb, 1000, 'd3/'), allKeys.filter((k) => k.startsWith('d3/')));
    const v2 = await o.s3.send(new ListObjectsV2Command({ Bucket: vb, Delimiter: '/' }));
    assert.deepEqual(v2.CommonPrefixes?.map((p) => p.Prefix), ['d0/', 'd1/', 'd2/', 'd3/', 'd4/']);
    assert.deepEqual(v2.Contents?.map((c) => c.Key), allKeys.filter((k) => !k.includes('/')));
    // V1 with a marker, a delimiter under a prefix, in pages of 2.
    const seen: string[] = [];
    let marker: string | undefined;
    for (let i = 0; i < 20; i++) {
      const r = await o.s3.send(new ListObjectsCommand({ Bucket: vb, Prefix: 'd1/', Delimiter: '/', MaxKeys: 2, Marker: marker }));
      seen.push(...(r.CommonPrefixes ?? []).map((p) => p.Prefix!), ...(r.Contents ?? []).map((c) => c.Key!));
      if (!r.IsTruncated) break;
      marker = r.NextMarker;
    }
    assert.deepEqual(seen.sort(byteOrder), [...new Set(allKeys.filter((k) => k.startsWith('d1/')).map((k) => (k.slice(3).includes('/') ? k.slice(0, k.indexOf('/', 3) + 1) : k)))].sort(byteOrder));
  });

  test('a DELETE hides the origin\'s copy (tombstone) and never deletes from the origin; a PUT over an origin key wins', async () => {
    const [gone, copiedThenGone, overwritten] = [allKeys[100]!, allKeys[0]!, allKeys[200]!];
    await o.s3.send(new DeleteObjectCommand({ Bucket: vb, Key: gone }));
    await o.s3.send(new DeleteObjectCommand({ Bucket: vb, Key: copiedThenGone }));
    // The copied one's backend DELETE runs after the answer; its remove job is done with it.
    await o.store.jobs.idle(20_000);
    for (const k of [gone, copiedThenGone]) {
      assert.equal((await s3Error(o.s3.send(new GetObjectCommand({ Bucket: vb, Key: k })))).name, 'NoSuchKey');
      assert.equal((await s3Error(o.s3.send(new HeadObjectCommand({ Bucket: vb, Key: k })))).$metadata.httpStatusCode, 404);
      assert.equal((await origin.getObject('legacy', k, { head: true })).meta.size, seeded.get(k)!.length, 'still on the origin');
      assert.deepEqual(await copiesOf('lazy', vb, k), []);
    }
    await o.s3.send(new PutObjectCommand({ Bucket: vb, Key: overwritten, Body: 'mine now' }));
    assert.equal((await bytes((await o.s3.send(new GetObjectCommand({ Bucket: vb, Key: overwritten }))).Body)).toString(), 'mine now');
    const listed = await listV2(o.s3, vb, 250);
    assert.deepEqual(listed, allKeys.filter((k) => k !== gone && k !== copiedThenGone));
    const v2 = await o.s3.send(new ListObjectsV2Command({ Bucket: vb, StartAfter: allKeys[199], MaxKeys: 1 }));
    assert.equal(v2.Contents?.[0]?.ETag, `"${md5(Buffer.from('mine now'))}"`, 'the listing shows the PUT, not the origin\'s object');
    // Written again after the delete: the new object is served.
    await o.s3.send(new PutObjectCommand({ Bucket: vb, Key: gone, Body: 'back' }));
    assert.equal((await bytes((await o.s3.send(new GetObjectCommand({ Bucket: vb, Key: gone }))).Body)).toString(), 'back');
    await o.s3.send(new DeleteObjectCommand({ Bucket: vb, Key: gone }));
    assert.equal((await s3Error(o.s3.send(new GetObjectCommand({ Bucket: vb, Key: gone })))).name, 'NoSuchKey');
  });

  test('a copy that fails (backends down) never breaks the GET; its job keeps the error and is retried until it lands', async () => {
    const key = allKeys[301]!;
    const failing = async () => (await o.store.jobs.refreshSummary()).errors.find((e) => e.kind === 'origin-copy' && e.key === key);
    await backMinio.stop();
    try {
      const r = await o.s3.send(new GetObjectCommand({ Bucket: vb, Key: key }));
      assert.deepEqual(await bytes(r.Body), seeded.get(key)!);
      await o.store.origins.idle();
      const job = await until('the failed copy recorded on its job', failing);
      assert.ok(job.attempts >= 1 && job.lastError.length > 0, JSON.stringify(job));
      assert.ok(originStatus(o.store, vb).copyFailures >= 1);
      assert.equal(originStatus(o.store, vb).copiesQueued, 1, 'the job waits in the queue');
      assert.equal(await o.store.index.get(vb, key), undefined);
    } finally {
      await backMinio.start();
    }
    await until('the retried copy lands and its job is gone', async () =>
      (await o.store.index.get(vb, key)) !== undefined && (await failing()) === undefined, 60_000);
    assert.equal((await copiesOf('lazy', vb, key)).length, 1);
  });

  test('the origin unreachable: reads and listings that need it get 503 ServiceUnavailable; copied objects are still served', async () => {
    const copied = allKeys[20]!;
    assert.ok(await o.store.index.get(vb, copied));
    await originMinio.stop();
    try {
      const e = await s3Error(o.s3.send(new GetObjectCommand({ Bucket: vb, Key: allKeys[401]! })));
      assert.equal(e.name, 'ServiceUnavailable');
      assert.match(e.message, /read-through origin of bucket lazy is unavailable/);
      assert.doesNotMatch(e.message, new RegExp(String(originMinio.port)), 'the origin endpoint is not told to clients');
      assert.equal((await s3Error(o.s3.send(new HeadObjectCommand({ Bucket: vb, Key: allKeys[402]! })))).$metadata.httpStatusCode, 503);
      assert.equal((await s3Error(o.s3.send(new ListObjectsV2Command({ Bucket: vb })))).name, 'ServiceUnavailable');
      assert.deepEqual(await bytes((await o.s3.send(new GetObjectCommand({ Bucket: vb, Key: copied }))).Body), seeded.get(copied)!);
    } finally {
      await originMinio.start();
    }
    assert.deepEqual(await bytes((await o.s3.send(new GetObjectCommand({ Bucket: vb, Key: allKeys[401]! }))).Body), seeded.get(allKeys[401]!)!);
  });
});

describe('the migration job (admin API)', () => {
  const vb = 'bulk';
  let o: Opened;
  before(async () => { o = await open(vb, 'bulk', { migrate: { objectsPerSecond: 400, concurrency: 4 } }); });
  after(async () => { await o?.close(); });

  test('the admin API wants its token and an origin bucket', async () => {
    assert.equal((await admin(o.gw, vb, 'GET', 'wrong-token-here')).status, 401);
    assert.equal((await fetch(`${o.gw.url}/_floodgate/admin/migrations?bucket=${vb}`, { method: 'POST' })).status, 401);
    const none = await admin(o.gw, 'nosuchbucket');
    assert.equal(none.status, 404);
    assert.match(((await none.json()) as { error: string }).error, /has no origin/);
    assert.equal((await admin(o.gw, vb)).status, 404, 'never ran');
    assert.equal((await admin(o.gw, vb, 'DELETE')).status, 404, 'nothing to cancel');
  });

  test('listings during the migration show every key once; it finishes with every object on the backends; a second run copies nothing', async () => {
    const deleted = allKeys[500]!;
    await o.s3.send(new DeleteObjectCommand({ Bucket: vb, Key: deleted }));
    const started = await admin(o.gw, vb, 'POST');
    assert.equal(started.status, 200);
    assert.equal(((await started.json()) as { run: number }).run, 1);
    assert.equal((await admin(o.gw, vb, 'POST')).status, 409, 'one run at a time');
    const want = allKeys.filter((k) => k !== deleted);
    let listings = 0;
    let sawPartial = false;
    for (;;) {
      const st = originStatus(o.store, vb).migration!;
      if (st.state === 'done') break;
      assert.ok(st.state === 'counting' || st.state === 'running', st.state);
      if (st.copied > 0 && st.copied < want.length) sawPartial = true;
      if (listings < 4) {
        assert.deepEqual(await listV2(o.s3, vb, 333), want, `listing ${listings} during the migration`);
        listings++;
      } else await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(sawPartial && listings >= 2, `listed while partly migrated (${listings} listings)`);
    await o.store.origins.migrationDone(vb);
    const done = (await (await admin(o.gw, vb)).json()) as NonNullable<ReturnType<typeof originStatus>['migration']>;
    assert.deepEqual([done.state, done.copied, done.failed, done.skipped, done.totalObjects, done.remainingObjects],
      ['done', want.length, 0, 1, N, 0]);
    assert.equal(done.copiedBytes, want.reduce((n, k) => n + seeded.get(k)!.length, 0));
    assert.equal(done.remainingBytes, 0);
    const usage = await o.store.index.usage();
    assert.equal((usage.get('bulk-a')?.objects ?? 0) + (usage.get('bulk-b')?.objects ?? 0), want.length);
    assert.ok((usage.get('bulk-a')?.objects ?? 0) > 0 && (usage.get('bulk-b')?.objects ?? 0) > 0, 'spread over both backends');
    for (const k of [want[0]!, want[333]!, want.at(-1)!]) assert.equal((await copiesOf('bulk', vb, k))[0]?.etag, md5(seeded.get(k)!));
    assert.deepEqual(await copiesOf('bulk', vb, deleted), [], 'the tombstone holds through the migration');
    assert.deepEqual(await listV2(o.s3, vb, 1000), want);
    const metrics = await (await fetch(`${o.gw.url}/metrics`)).text();
    assert.match(metrics, /floodgate_origin_migration_remaining_objects\{bucket="bulk"\} 0/);
    assert.match(metrics, new RegExp(`floodgate_origin_migration_copied_objects\\{bucket="bulk"\\} ${want.length}`));

    assert.equal((await admin(o.gw, vb, 'POST')).status, 200);
    await o.store.origins.migrationDone(vb);
    const second = (await (await admin(o.gw, vb)).json()) as typeof done;
    assert.deepEqual([second.run, second.state, second.copied, second.copiedBytes, second.skipped, second.failed], [2, 'done', 0, 0, N, 0]);
  });

  test('a run whose origin is down keeps retrying with its error shown; DELETE cancels it wherever it runs, and its job ends', async () => {
    const migrateJobs = async () => (await o.store.jobs.refreshSummary()).perBucket.filter((r) => r.kind === 'migrate' && r.bucket === vb).length;
    await originMinio.stop();
    try {
      assert.equal((await admin(o.gw, vb, 'POST')).status, 200);
      const failing = await until('the failed page recorded', async () => {
        const m = (await (await admin(o.gw, vb)).json()) as { run: number; state: string; lastError?: string };
        return m.lastError ? m : undefined;
      });
      assert.deepEqual([failing.run, failing.state], [3, 'counting']);
      assert.match(failing.lastError!, /read-through origin of bucket bulk is unavailable/);
      assert.equal(await migrateJobs(), 1, 'its job waits to try again');
      const cancelled = await admin(o.gw, vb, 'DELETE');
      assert.equal(cancelled.status, 200);
      assert.equal(((await cancelled.json()) as { state: string }).state, 'cancelled');
      assert.equal((await admin(o.gw, vb, 'DELETE')).status, 404, 'nothing left to cancel');
    } finally {
      await originMinio.start();
    }
    await until('the cancelled run\'s job is gone', async () => (await migrateJobs()) === 0 || undefined);
    const after = (await (await admin(o.gw, vb)).json()) as { run: number; state: string; copied: number };
    assert.deepEqual([after.run, after.state, after.copied], [3, 'cancelled', 0], 'it stays cancelled');
  });
});

describe('the migration resumes where it stopped (PostgreSQL index)', () => {
  let pg: PostgresServer;
  before(async () => { pg = await startPostgres(); });
  after(async () => { await pg?.stop(); });

  test('a gateway stopped mid-run leaves its cursor in the index; the next one resumes it and copies the rest once', async () => {
    const vb = 'pgbulk';
    const extra = { migrate: { enabled: true, objectsPerSecond: 100 }, index: { kind: 'postgres', url: pg.url, schema: 'origin_resume' }, replica: 'gw-0', originBucket: 'legacy-small' };
    const first = await open(vb, 'pg', extra);
    first.store.origins.autoStart();
    await until('a page migrated', async () => ((originStatus(first.store, vb).migration?.copied ?? 0) >= 100) || undefined, 120_000);
    await first.close();
    // As the stopped gateway left it (the next one resumes it as soon as it opens).
    const ix = await openPostgresIndex(pg.url, { schema: 'origin_resume' });
    const saved = await loadState({ index: ix }, vb).finally(() => ix.close());
    assert.equal(saved?.state, 'running', 'the run was left running');
    assert.ok(saved!.cursor > '', 'with a cursor');
    const second = await open(vb, 'pg', extra);
    try {
      second.store.origins.autoStart();
      await until('the migration done', async () => (originStatus(second.store, vb).migration?.state === 'done') || undefined, 120_000)
        .catch((e: Error) => { throw new Error(`${e.message}: ${JSON.stringify(originStatus(second.store, vb))}`); });
      const s = originStatus(second.store, vb).migration!;
      assert.deepEqual([s.run, s.resumes, s.copied + s.skipped, s.failed, s.remainingObjects], [1, 1, SMALL, 0, 0]);
      const usage = await second.store.index.usage();
      assert.equal((usage.get('pg-a')?.objects ?? 0) + (usage.get('pg-b')?.objects ?? 0), SMALL);
      let onBackends = 0;
      for (const b of ['pg-a', 'pg-b']) onBackends += (await back.scan(b, { prefix: `${vb}/`, after: '', limit: 5000 })).length;
      assert.equal(onBackends, SMALL, 'each object copied once');
    } finally {
      await second.close();
    }
  });
});

describe('floodgate gateway with an origin, as a process', () => {
  const vb = 'moving';
  const config = (extra: object = {}) => ({
    credentials: [plain(creds)],
    admin: { token: ADMIN },
    backends: ['kill-a', 'kill-b'].map((b) => ({ name: b, endpoint: backMinio.endpoint, bucket: b, credentials: plain(backMinio.credentials) })),
    virtualBuckets: [{ name: vb, backends: ['kill-a', 'kill-b'], origin: { endpoint: originMinio.endpoint, bucket: 'legacy-small', credentials: plain(originMinio.credentials), migrate: { enabled: true, objectsPerSecond: 100 } } }],
    ...extra,
  });
  const writeConfig = (name: string, cfg: object) => {
    const path = join(dir, `${name}.yaml`);
    writeFileSync(path, stringify(cfg));
    return path;
  };
  const status = async (url: string) => ((await (await fetch(`${url}/status`)).json()) as StatusSnapshot).virtualBuckets.find((v) => v.name === vb)?.origin;

  test('kill -9 mid-migration: the restarted gateway resumes the run and finishes it, each object copied once', async () => {
    const path = writeConfig('moving', config());
    const data = join(dir, 'moving-data');
    const gw = await spawnGateway(data, creds, ['--config', path]);
    let copiedBefore = 0;
    try {
      copiedBefore = await until('a part migrated', async () => {
        const c = (await status(gw.url))?.migration?.copied ?? 0;
        return c >= 100 ? c : undefined;
      }, 120_000);
    } finally {
      await gw.stop('SIGKILL');
    }
    const killedAt = Date.now();
    const again = await spawnGateway(data, creds, ['--config', path]);
    try {
      const s = await until('the migration done', async () => {
        const m = (await status(again.url))?.migration;
        return m?.state === 'done' ? m : undefined;
      }, 120_000);
      assert.deepEqual([s.run, s.resumes, s.copied + s.skipped, s.failed, s.remainingObjects], [1, 1, SMALL, 0, 0]);
      const onBackends = [];
      for (const b of ['kill-a', 'kill-b']) onBackends.push(...await back.scan(b, { prefix: `${vb}/`, after: '', limit: 5000 }));
      assert.equal(onBackends.length, SMALL, 'each object once on the backends');
      // The copies the first gateway had settled were not made again after the restart.
      const early = onBackends.filter((m) => m.lastModified.getTime() <= killedAt + 1000).length;
      assert.ok(early >= copiedBefore, `${early} copies from before the kill, ${copiedBefore} settled then`);
      const s3 = new S3Client({ endpoint: again.url, region: 'us-east-1', forcePathStyle: true, credentials: plain(creds), maxAttempts: 1 });
      try {
        assert.deepEqual(await listV2(s3, vb, 1000), smallKeys);
      } finally {
        s3.destroy();
      }
    } finally {
      await again.stop();
    }
  });

  test('a bad origin config is refused with the field named', async () => {
    const good = { endpoint: originMinio.endpoint, bucket: 'legacy-small', credentials: plain(originMinio.credentials) };
    const withOrigin = (o: object) => { const cfg = config(); (cfg.virtualBuckets[0] as { origin: object }).origin = o; return cfg; };
    const cases: [object, RegExp][] = [
      [{ ...good, credentials: undefined }, /virtualBuckets\.0\.origin\.credentials: Invalid input/],
      [{ ...good, endpoint: 'ftp://x' }, /virtualBuckets\.0\.origin\.endpoint/],
      [{ ...good, endpoint: `http://u:p@127.0.0.1:${originMinio.port}` }, /virtualBuckets\.0\.origin\.endpoint: must not contain user info/],
      [{ ...good, endpoint: backMinio.endpoint, bucket: 'kill-a' }, /virtualBuckets\.0\.origin\.bucket: is the bucket of backend "kill-a"/],
      [{ ...good, migrate: { bandwidth: '5 parsecs' } }, /virtualBuckets\.0\.origin\.migrate\.bandwidth: expected a size/],
      [{ ...good, bukket: 'x' }, /virtualBuckets\.0\.origin: unknown field "bukket"/],
    ];
    for (const [o, want] of cases) {
      const { credentials: _c, admin: _a, ...balancingOnly } = withOrigin(o);
      assert.throws(() => parseBalancingConfig(balancingOnly), want);
    }
    // As the process reports them: a file that does not validate (exit 2), keys that cannot be read (exit 1).
    const runWith = async (cfg: object) => run(process.execPath, [join(ROOT, 'main.ts'), 'gateway', '--config', writeConfig('bad', cfg), '--data-dir', join(dir, 'bad-data'), '--listen', '127.0.0.1:0'], { timeout: 60_000 })
      .then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    const invalid = await runWith(withOrigin({ ...good, credentials: undefined }));
    assert.equal(invalid.code, 2, invalid.stderr);
    assert.match(invalid.stderr, /^floodgate gateway: .*bad\.yaml: virtualBuckets\.0\.origin\.credentials: Invalid input/m);
    const unreadable = await runWith(withOrigin({ ...good, credentials: { secretDir: join(dir, 'no-such-secret') } }));
    assert.equal(unreadable.code, 1, unreadable.stderr);
    assert.match(unreadable.stderr, /virtualBuckets\.moving\.origin\.credentials: cannot read accessKeyId from /);
  });
});

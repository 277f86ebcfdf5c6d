// Objects kept as several copies over three real MinIO servers (one per backend, so one can be
// killed), driven by @aws-sdk/client-s3 through an in-process gateway; what the backends really
// hold is read with a direct client and compared with the index.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { startMinio, type Minio } from '../backends/s3/minio.fixture.ts';
import { openS3Store, type S3Store } from '../backends/s3/store.ts';
import { startTestGateway, until, type TestGateway } from '../../e2e/lib/gateway.ts';
import { startPostgres, type PostgresServer } from '../placement/postgres.fixture.ts';
import { openVirtualStore, parseBalancingConfig, BalancingConfigError, type VirtualStore } from './index.ts';
import type { BalancingConfigInput } from './config.ts';
import { nameOf } from './location.ts';
import { copiesOf } from './copies.ts';
import type { PlacedObject } from '../placement/types.ts';

const NAMES = ['a', 'b', 'c'] as const;
const minios: Record<string, Minio> = {};
const direct: Record<string, S3Store> = {};
let dir: string;
let run = 0;
let pgServer: PostgresServer;

before(async () => {
  const [pgs, ...started] = await Promise.all([startPostgres(), ...NAMES.map(() => startMinio())]);
  pgServer = pgs;
  NAMES.forEach((n, i) => {
    minios[n] = started[i]!;
    direct[n] = openS3Store({ name: n, endpoint: started[i]!.endpoint, region: 'us-east-1', credentials: started[i]!.credentials, pathStyle: true, connectTimeoutMs: 1000 });
  });
  dir = mkdtempSync(join(tmpdir(), 'floodgate-copies-'));
});

after(async () => {
  for (const n of NAMES) {
    await direct[n]?.close();
    await minios[n]?.close();
  }
  await pgServer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

function rawConfig(bucket: string, vb: Record<string, unknown>, extra: Partial<BalancingConfigInput> = {}): BalancingConfigInput {
  return {
    backends: NAMES.map((n) => ({ name: n, endpoint: minios[n]!.endpoint, bucket, credentials: minios[n]!.credentials })),
    virtualBuckets: [{ name: 'rep', backends: [...NAMES], strategy: 'rendezvous', ...vb }],
    index: { kind: 'sqlite', path: join(dir, `${bucket}.db`) },
    replica: `copies-${bucket}`,
    health: { interval: '200ms', recoveryInterval: '100ms', failureThreshold: 2, recoveryThreshold: 1, probeTimeout: '1s' },
    timeouts: { connect: '1s', firstByte: '5s', idle: '5s' },
    jobs: { pollInterval: '100ms' },
    ...extra,
  };
}

interface Setup {
  store: VirtualStore;
  gw: TestGateway;
  s3: S3Client;
  bucket: string;
  close(): Promise<void>;
}

async function setup(vb: Record<string, unknown>, extra: Partial<BalancingConfigInput> = {}, bucket = `copies-${run++}`): Promise<Setup> {
  for (const n of NAMES) await direct[n]!.createBucket(bucket).catch(() => {});
  const store = await openVirtualStore(parseBalancingConfig(rawConfig(bucket, vb, extra)));
  const gw = await startTestGateway({ store });
  // One attempt: a GET that succeeds did so without the SDK retrying it.
  const s3 = gw.client({ maxAttempts: 1 });
  return { store, gw, s3, bucket, close: () => gw.close() };
}

async function put(s: Setup, key: string, body: Buffer): Promise<void> {
  await s.s3.send(new PutObjectCommand({ Bucket: 'rep', Key: key, Body: body, ContentType: 'application/x-test', Metadata: { k: key.slice(0, 20) } }));
}

/** PUTs `n` random objects `<prefix><i>` of `size(i)` bytes through `s` (or `via(i)`); what each key should hold. */
async function seed(s: Setup, prefix: string, n: number, size: (i: number) => number, via: (i: number) => Setup = () => s): Promise<Map<string, Buffer>> {
  const want = new Map<string, Buffer>();
  for (let i = 0; i < n; i++) {
    const body = randomBytes(size(i));
    await put(via(i), `${prefix}${i}`, body);
    want.set(`${prefix}${i}`, body);
  }
  return want;
}

async function get(s: Setup, key: string): Promise<Buffer> {
  const r = await s.s3.send(new GetObjectCommand({ Bucket: 'rep', Key: key }));
  return Buffer.from(await r.Body!.transformToByteArray());
}

/** Every backend object of the test's bucket, as `backend\nname`. */
async function physical(bucket: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const n of NAMES) for (const o of await direct[n]!.scan(bucket, { prefix: '', after: '', limit: 10_000 })) out.add(`${n}\n${o.key}`);
  return out;
}

/** Waits until the health monitor has marked `name` down (its probes run every 200 ms). */
async function markedDown(store: VirtualStore, name: string): Promise<void> {
  await until(`${name} marked down`, () => !store.health.healthy(name), 15_000);
}

async function records(store: VirtualStore): Promise<PlacedObject[]> {
  return store.index.scan('rep', { prefix: '', after: '', limit: 10_000 });
}

/** Each record's copies all written, on distinct backends, and the backends holding exactly those objects. */
async function assertSettled(s: Setup, copies: number, want: Map<string, Buffer>): Promise<void> {
  const recs = await records(s.store);
  assert.deepEqual(recs.map((r) => r.key).sort(), [...want.keys()].sort());
  const named = new Set<string>();
  for (const r of recs) {
    const cs = copiesOf(r);
    assert.equal(cs.length, copies, `${r.key}: ${JSON.stringify(cs)}`);
    assert.ok(cs.every((c) => !c.pending), `${r.key} still has a pending copy`);
    assert.equal(new Set(cs.map((c) => c.backend)).size, copies, `${r.key}: copies share a backend`);
    for (const c of cs) named.add(`${c.backend}\n${nameOf({ bucket: r.bucket, key: r.key, location: c.location })}`);
  }
  assert.deepEqual([...await physical(s.bucket)].sort(), [...named].sort(), 'backends hold exactly the copies the index names');
  for (const [key, body] of want) assert.equal(md5(await get(s, key)), md5(body), key);
}

/** Retries assertSettled(copies 2) until the queue's jobs have brought every backend in line, or ms pass. */
async function settles(s: Setup, want: Map<string, Buffer>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await s.store.jobs.idle(5_000);
      await assertSettled(s, 2, want);
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

test('copies 2: a PUT and a multipart Complete are on two backends when acknowledged; a delete removes both', async () => {
  const s = await setup({ copies: 2 });
  try {
    const body = randomBytes(3000);
    await put(s, 'one', body);
    const rec = (await s.store.index.get('rep', 'one'))!;
    const cs = copiesOf(rec);
    assert.equal(cs.length, 2);
    assert.ok(cs.every((c) => !c.pending));
    // Both copies are there, with the bytes and the metadata.
    for (const c of cs) {
      const r = await direct[c.backend]!.getObject(s.bucket, nameOf({ bucket: 'rep', key: 'one', location: c.location }), {});
      assert.equal(md5(Buffer.from(await r.body!.toArray().then((a) => Buffer.concat(a)))), md5(body));
      assert.equal(r.meta.contentType, 'application/x-test');
      assert.deepEqual(r.meta.userMeta, { k: 'one' });
    }
    const head = await s.s3.send(new HeadObjectCommand({ Bucket: 'rep', Key: 'one' }));
    assert.equal(head.ETag, `"${md5(body)}"`);
    const range = await s.s3.send(new GetObjectCommand({ Bucket: 'rep', Key: 'one', Range: 'bytes=10-19' }));
    assert.deepEqual(Buffer.from(await range.Body!.transformToByteArray()), body.subarray(10, 20));

    // One part: the last part of an upload may be small.
    const up = await s.s3.send(new CreateMultipartUploadCommand({ Bucket: 'rep', Key: 'multi' }));
    const p1 = randomBytes(2000);
    const e1 = (await s.s3.send(new UploadPartCommand({ Bucket: 'rep', Key: 'multi', UploadId: up.UploadId, PartNumber: 1, Body: p1 }))).ETag;
    await s.s3.send(new CompleteMultipartUploadCommand({ Bucket: 'rep', Key: 'multi', UploadId: up.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1 }] } }));
    const mrec = (await s.store.index.get('rep', 'multi'))!;
    assert.match(mrec.etag, /-1$/);
    assert.equal(copiesOf(mrec).filter((c) => !c.pending).length, 2);
    await s.store.jobs.idle(20_000);
    await assertSettled(s, 2, new Map([['one', body], ['multi', p1]]));

    // An overwrite replaces both copies; a delete removes every copy.
    const again = randomBytes(100);
    await put(s, 'one', again);
    await s.s3.send(new DeleteObjectCommand({ Bucket: 'rep', Key: 'multi' }));
    await s.store.jobs.idle(20_000);
    await assertSettled(s, 2, new Map([['one', again]]));
    await assert.rejects(get(s, 'multi'), { name: 'NoSuchKey' });
  } finally {
    await s.close();
  }
});

test('copies 3, write quorum 1: acknowledged after one copy; the queue writes the others, a down backend\'s once it is back', async () => {
  const s = await setup({ copies: 3, writeQuorum: 1 });
  try {
    await minios.c!.stop();
    await markedDown(s.store, 'c');
    const want = await seed(s, 'w/', 6, (i) => 500 + i);
    for (const [key, body] of want) assert.equal(md5(await get(s, key)), md5(body));
    // Every record names three copies on distinct backends; those for c wait for it.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const recs = await records(s.store);
      const pending = recs.flatMap((r) => copiesOf(r).filter((c) => c.pending));
      if (pending.length === want.size && pending.every((c) => c.backend === 'c')) break;
      assert.ok(Date.now() < deadline, `pending copies: ${JSON.stringify(pending)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const st = s.store.status();
    await s.store.jobs.refreshSummary();
    assert.equal(s.store.status().virtualBuckets[0]!.underReplicated, want.size, JSON.stringify(st.jobs));
    assert.ok((s.store.status().jobs?.failing.copy ?? 0) > 0, 'the waiting copies record why');
    await minios.c!.start();
    await s.store.jobs.idle(30_000);
    await assertSettled(s, 3, want);
    await s.store.jobs.refreshSummary();
    assert.equal(s.store.status().virtualBuckets[0]!.underReplicated, 0);
  } finally {
    if (!minios.c!.running()) await minios.c!.start();
    await s.close();
  }
});

test('copies 2 under a mixed load: one backend killed — every GET succeeds, no acknowledged write is lost; back — every copy is restored and nothing stale is left', async (t) => {
  const s = await setup({ copies: 2 });
  try {
    const want = new Map<string, Buffer>();
    const uncertain = new Set<string>();
    const version = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const body = randomBytes(200 + i * 37);
      await put(s, `k${i}`, body);
      want.set(`k${i}`, body);
    }
    let gets = 0;
    let outage = false;
    let outageGets = 0;
    const failedGets: string[] = [];
    let stop = false;
    let n = 20;
    const load = async (worker: number) => {
      for (let op = 0; !stop && op < 400; op++) {
        const keys = [...want.keys()].filter((k) => !uncertain.has(k));
        const key = keys[(op * 7 + worker) % keys.length]!;
        const kind = op % 5;
        // A GET that raced a write or delete of its key (by another worker) proves nothing.
        const v0 = version.get(key) ?? 0;
        const raced = () => uncertain.has(key) || (version.get(key) ?? 0) !== v0;
        try {
          if (kind <= 2) {
            const body = want.get(key)!;
            const got = await get(s, key);
            gets++;
            if (outage) outageGets++;
            if (md5(got) !== md5(body) && !raced()) failedGets.push(`${key}: wrong bytes`);
          } else if (kind === 3) {
            const k = op % 2 ? `k${n++}` : key;
            const body = randomBytes(100 + op);
            version.set(k, (version.get(k) ?? 0) + 1);
            uncertain.add(k);
            await put(s, k, body);
            want.set(k, body);
            uncertain.delete(k);
          } else if (keys.length > 10) {
            version.set(key, (version.get(key) ?? 0) + 1);
            uncertain.add(key);
            await s.s3.send(new DeleteObjectCommand({ Bucket: 'rep', Key: key }));
            want.delete(key);
            uncertain.delete(key);
          }
        } catch (e) {
          if (kind <= 2 && !raced()) failedGets.push(`${key}: ${(e as Error).name} ${(e as Error).message}`);
        }
      }
    };
    const workers = [0, 1, 2].map(load);
    await new Promise((r) => setTimeout(r, 1000));
    await minios.c!.stop();
    outage = true;
    await new Promise((r) => setTimeout(r, 3000));
    outage = false;
    await minios.c!.start();
    await new Promise((r) => setTimeout(r, 1000));
    stop = true;
    await Promise.all(workers);
    assert.deepEqual(failedGets, []);
    t.diagnostic(`${gets} GETs, ${outageGets} while c was down`);
    assert.ok(outageGets >= 3, `only ${outageGets} GETs ran while c was down`);
    // Writes whose answer never came may or may not have happened: settle them from the index.
    for (const k of uncertain) {
      want.delete(k);
      const rec = await s.store.index.get('rep', k);
      if (rec) want.set(k, await get(s, k));
    }
    // Queued removals of copies on c (and the sweeper's intents) finish once c is back.
    await settles(s, want, 40_000);
  } finally {
    if (!minios.c!.running()) await minios.c!.start();
    await s.close();
  }
});

test('copies 2, a backend replaced by an empty one: the repair writes every copy it held again, first copies included', async () => {
  const s = await setup({ copies: 2 });
  try {
    const want = await seed(s, 'r/', 15, (i) => 300 + i);
    const onC = (await records(s.store)).filter((r) => copiesOf(r).some((c) => c.backend === 'c'));
    assert.ok(onC.some((r) => r.backend === 'c') && onC.some((r) => r.backend !== 'c'), 'c holds first copies and other copies');
    await minios.c!.stop();
    rmSync(join(minios.c!.dir, 'data'), { recursive: true, force: true });
    await markedDown(s.store, 'c');
    // Served from the other copies meanwhile.
    for (const [key, body] of want) assert.equal(md5(await get(s, key)), md5(body));
    await minios.c!.start();
    await direct.c!.createBucket(s.bucket);
    await settles(s, want, 30_000);
  } finally {
    if (!minios.c!.running()) await minios.c!.start();
    await s.close();
  }
});

test('copies 2, a DELETE while the first copy\'s backend is down, by a gateway replica that never comes back: no read sees the object again, and the queue removes its copy once the backend is back', async () => {
  const bucket = `copies-${run++}`;
  const s = await setup({ copies: 2 }, {}, bucket);
  let next: Setup | undefined;
  let down: (typeof NAMES)[number] | undefined;
  try {
    await put(s, 'gone', randomBytes(1000));
    await put(s, 'kept', randomBytes(1000));
    down = (await s.store.index.get('rep', 'gone'))!.backend as (typeof NAMES)[number];
    await minios[down]!.stop();
    await markedDown(s.store, down);
    await s.s3.send(new DeleteObjectCommand({ Bucket: 'rep', Key: 'gone' }));
    await assert.rejects(get(s, 'gone'), { name: 'NoSuchKey' });
    // This replica goes for good (its intents are its own); another one takes over the index.
    await s.close();
    await minios[down]!.start();
    next = await setup({ copies: 2 }, { replica: 'copies-successor' }, bucket);
    // Read repair may find the copy on the backend (its remove job not run yet): the object stays deleted.
    await assert.rejects(get(next, 'gone'), { name: 'NoSuchKey' });
    await until('the deleted object\'s copy removed', async () => ((await physical(bucket)).has(`${down}\nrep/gone`) ? undefined : true), 40_000);
    await assert.rejects(get(next, 'gone'), { name: 'NoSuchKey' });
    await next.store.jobs.idle(20_000);
    assert.equal((await records(next.store)).length, 1);
    assert.ok([...await physical(bucket)].every((n) => n.includes('kept')), 'only the kept object is left');
  } finally {
    if (down && !minios[down]!.running()) await minios[down]!.start();
    await next?.close();
  }
});

test('copies 2, a multipart object whose first copy\'s backend is replaced by an empty one: its parts are served from the other copy, and the repair rebuilds the first copy, ETag and parts alike', async () => {
  const s = await setup({ copies: 2 });
  try {
    // Two parts: every part but the last is at least 5 MiB.
    const p1 = randomBytes(5 * 1024 * 1024);
    const p2 = randomBytes(3000);
    const up = await s.s3.send(new CreateMultipartUploadCommand({ Bucket: 'rep', Key: 'mp', ContentType: 'application/x-mp' }));
    const etags = [];
    for (const [i, p] of [p1, p2].entries()) etags.push((await s.s3.send(new UploadPartCommand({ Bucket: 'rep', Key: 'mp', UploadId: up.UploadId, PartNumber: i + 1, Body: p }))).ETag);
    await s.s3.send(new CompleteMultipartUploadCommand({ Bucket: 'rep', Key: 'mp', UploadId: up.UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) } }));
    const rec = (await s.store.index.get('rep', 'mp'))!;
    assert.match(rec.etag, /-2$/);
    // The other copy is the same multipart object.
    const other = copiesOf(rec).find((c) => !c.first)!;
    const head = await direct[other.backend]!.getObject(s.bucket, nameOf({ bucket: 'rep', key: 'mp', location: other.location }), { head: true });
    assert.equal(head.meta.etag, rec.etag);
    const whole = Buffer.concat([p1, p2]);
    const want = new Map([['mp', whole]]);
    const part = async (n: number) => {
      const r = await s.s3.send(new GetObjectCommand({ Bucket: 'rep', Key: 'mp', PartNumber: n }));
      assert.equal(r.PartsCount, 2);
      return md5(Buffer.from(await r.Body!.transformToByteArray()));
    };
    const lost = rec.backend as (typeof NAMES)[number];
    await minios[lost]!.stop();
    rmSync(join(minios[lost]!.dir, 'data'), { recursive: true, force: true });
    await markedDown(s.store, lost);
    assert.equal(md5(await get(s, 'mp')), md5(whole));
    assert.equal(await part(2), md5(p2));
    await minios[lost]!.start();
    await direct[lost]!.createBucket(s.bucket);
    await settles(s, want, 40_000);
    const rebuilt = await direct[lost]!.getObject(s.bucket, nameOf(rec), { head: true });
    assert.equal(rebuilt.meta.etag, rec.etag);
    assert.equal(rebuilt.meta.contentType, 'application/x-mp');
    // Served by the rebuilt first copy alone.
    await minios[other.backend as (typeof NAMES)[number]]!.stop();
    await markedDown(s.store, other.backend);
    assert.equal(await part(1), md5(p1));
    assert.equal(md5(await get(s, 'mp')), md5(whole));
  } finally {
    for (const n of NAMES) if (!minios[n]!.running()) await minios[n]!.start();
    await s.close();
  }
});

test('copies lowered by a reload: the repair trims every record to the new count — copies on a backend marked down go first, the first copy always stays', async () => {
  const s = await setup({ copies: 3 });
  const lower = (copies: number) => s.store.reload(parseBalancingConfig(rawConfig(s.bucket, { copies })));
  try {
    const want = await seed(s, 't/', 8, (i) => 400 + i);
    await s.store.jobs.idle(20_000);
    await assertSettled(s, 3, want);
    const firsts = new Map((await records(s.store)).map((r) => [r.key, r.backend]));
    assert.ok([...firsts.values()].includes('c') && [...firsts.values()].some((b) => b !== 'c'), 'c holds first copies and other copies');
    // With c down, the copies on c are the ones that go (their removal waits for c). A record
    // whose first copy is on c keeps all three: what stays could not be checked.
    await minios.c!.stop();
    await markedDown(s.store, 'c');
    await lower(2);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const recs = await records(s.store);
      const trimmed = recs.filter((r) => r.backend !== 'c');
      if (trimmed.every((r) => copiesOf(r).length === 2)) {
        for (const r of trimmed) assert.deepEqual(copiesOf(r).map((c) => c.backend).sort(), ['a', 'b'], r.key);
        for (const r of recs.filter((x) => x.backend === 'c')) assert.equal(copiesOf(r).length, 3, r.key);
        break;
      }
      assert.ok(Date.now() < deadline, `not trimmed: ${JSON.stringify(recs.map((r) => copiesOf(r).length))}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    for (const [key, body] of want) assert.equal(md5(await get(s, key)), md5(body), key);
    await minios.c!.start();
    await settles(s, want, 40_000);
    await lower(1);
    await s.store.jobs.idle(30_000);
    await assertSettled(s, 1, want);
    for (const r of await records(s.store)) assert.equal(r.backend, firsts.get(r.key), `${r.key}: the first copy stayed`);
  } finally {
    if (!minios.c!.running()) await minios.c!.start();
    await s.close();
  }
});

test('postgres index shared by two gateway replicas: copies written by either replica\'s queue, each once; reads through the other', async () => {
  const index = { kind: 'postgres' as const, url: pgServer.url, schema: 'copies_shared' };
  const a = await setup({ copies: 3, writeQuorum: 1 }, { index, replica: 'gw-a' }, 'copies-pg');
  const b = await setup({ copies: 3, writeQuorum: 1 }, { index, replica: 'gw-b' }, 'copies-pg');
  try {
    await minios.c!.stop();
    for (const s of [a, b]) await markedDown(s.store, 'c');
    const want = await seed(a, 'p/', 8, (i) => 700 + i, (i) => i % 2 ? a : b);
    for (const [key, body] of want) assert.equal(md5(await get(i2(key) ? a : b, key)), md5(body));
    await minios.c!.start();
    await Promise.all([a.store.jobs.idle(30_000), b.store.jobs.idle(30_000)]);
    await assertSettled(a, 3, want);
    const ran = (s: Setup) => s.store.jobs.stats().done.copy;
    // 8 objects x 2 copies, each written once by one of the two replicas (each also wrote copies of its own PUTs).
    assert.equal(ran(a) + ran(b), 16, `a ran ${ran(a)}, b ran ${ran(b)}`);
  } finally {
    if (!minios.c!.running()) await minios.c!.start();
    await a.close();
    await b.close();
  }
});

const i2 = (key: string) => Number(key.slice(-1)) % 2 === 0;

test('bad copy settings are refused with the field named', () => {
  const check = (vb: Record<string, unknown>, re: RegExp) => assert.throws(() => parseBalancingConfig(rawConfig('x', vb)), (e: unknown) => e instanceof BalancingConfigError && re.test(e.message));
  check({ copies: 2, writeQuorum: 3 }, /virtualBuckets\.0\.writeQuorum: writeQuorum 3 exceeds copies 2/);
  check({ copies: 4 }, /virtualBuckets\.0\.copies: 4 copies need as many backends; the bucket has 3/);
  check({ copies: 0 }, /virtualBuckets\.0\.copies/);
  check({ copies: 2, writeQuorum: 0 }, /virtualBuckets\.0\.writeQuorum/);
});

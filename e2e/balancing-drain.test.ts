// Drain and rebalance jobs (proxy/virtual/moves.ts) against three real MinIO servers, the AWS
// SDK through the gateway, the admin API and `floodgate gateway jobs`:
//  - a gateway process drains one backend while four clients PUT, GET and DELETE (each key
//    owned by one client, so every answer is checked against exactly what was acknowledged), is
//    killed with SIGKILL mid-drain, restarted: the drain resumes from its recorded progress and
//    finishes; every acknowledged object reads back with its bytes (multipart ones with their
//    ETag), deleted ones stay deleted, the drained backend's bucket is empty (listed on MinIO),
//    /status says drained, and new writes never go there;
//  - with two copies of each object, on sqlite and PostgreSQL: a drain moves every copy off the
//    backend, keeping two copies of everything; a drain cancelled through the admin API stops, and
//    an undrain makes the backend writable again;
//  - a rebalance after a backend is added moves exactly the objects whose rendezvous placement changed;
//    a reload that changes the placement (backend set, weights) queues one itself, never a second;
//  - on sqlite and PostgreSQL, a gateway started with a placement changed while it was stopped
//    queues one, as does a switch to rendezvous (a switch away, a first or unchanged start none);
//    two replicas on one PostgreSQL index starting or reloading at once queue one between them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { stringify } from 'yaml';
import {
  CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command,
  PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { startMinios, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import type { S3Store } from '../proxy/backends/s3/store.ts';
import { startPostgres, type PostgresServer } from '../proxy/placement/postgres.fixture.ts';
import { startFront } from '../proxy/front.ts';
import type { Gateway } from '../proxy/server.ts';
import { createLogger } from '../proxy/observability/log.ts';
import type { StatusSnapshot, VirtualBucketStatus } from '../proxy/health/status.ts';
import { openVirtualStore, parseBalancingConfig, type VirtualStore } from '../proxy/virtual/index.ts';
import type { LogFn } from '../proxy/virtual/context.ts';
import { createBalancer } from '../proxy/balancer/index.ts';
import { runJobs } from '../proxy/admin/jobs-cli.ts';
import { decodeUploadId } from '../proxy/virtual/upload-id.ts';
import { DRAIN_SEEN_MS } from '../proxy/virtual/drains.ts';
import { objectPath, openRequest, readBody } from './lib/raw-s3.ts';
import type { JobView } from '../proxy/admin/jobs-route.ts';
import { newCredentials, spawnGateway, tempDir, until } from './lib/gateway.ts';
import { bytes, MiB } from './lib/s3.ts';

const creds = newCredentials();
const ADMIN = 'admin-token-for-drain-tests';
const plain = (c: { accessKeyId: string; secretAccessKey: string }) => ({ accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey });
const HEALTH = { interval: '300ms', recoveryInterval: '200ms', failureThreshold: 2, recoveryThreshold: 1, probeTimeout: '2s' };

let minios: Minio[] = [];
let direct: S3Store[] = [];
let dir: string;

before(async () => {
  ({ minios, direct } = await startMinios(3));
  dir = tempDir('floodgate-drain-');
});

after(async () => {
  for (const d of direct) await d.close();
  await Promise.all(minios.map((m) => m.close()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Backend buckets `<prefix>-0..2`, one on each MinIO server. */
async function backendsFor(prefix: string) {
  for (let i = 0; i < 3; i++) await direct[i]!.createBucket(`${prefix}-${i}`);
  return minios.map((m, i) => ({ name: `${prefix}${i}`, endpoint: m.endpoint, bucket: `${prefix}-${i}`, credentials: plain(m.credentials) }));
}

/** Every object name in backend bucket i of `prefix` (the index marker aside). */
async function namesOn(prefix: string, i: number): Promise<string[]> {
  const out: string[] = [];
  for (let after = ''; ;) {
    const page = await direct[i]!.scan(`${prefix}-${i}`, { prefix: '', after, limit: 1000 });
    out.push(...page.map((o) => o.key).filter((k) => !k.startsWith('.floodgate/index-marker/')));
    if (page.length < 1000) return out;
    after = page.at(-1)!.key;
  }
}

async function listAll(s3: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  for (let page = 0; page < 100; page++) {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    keys.push(...(r.Contents ?? []).map((c) => c.Key!));
    if (!r.IsTruncated) return keys.sort();
    token = r.NextContinuationToken;
  }
  throw new Error('listing did not end');
}

const s3At = (url: string) => new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: plain(creds), maxAttempts: 1 });
const vbStatus = async (url: string, vb: string) => ((await (await fetch(`${url}/status`)).json()) as StatusSnapshot).virtualBuckets.find((v) => v.name === vb)!;
const admin = (url: string, path: string, method = 'GET') => fetch(`${url}/_floodgate/admin/${path}`, { method, headers: { authorization: `Bearer ${ADMIN}` } });

/** What a key holds as far as its one client knows: the acceptable bodies (null: absent), several while an outcome is unknown. */
type Model = Map<string, (Buffer | null)[]>;

function matches(want: (Buffer | null)[], got: Buffer | null): boolean {
  return want.some((w) => (w === null ? got === null : got !== null && w.equals(got)));
}

async function read(s3: S3Client, bucket: string, key: string): Promise<Buffer | null> {
  try {
    return await bytes((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body);
  } catch (e) {
    if ((e as Error).name === 'NoSuchKey') return null;
    throw e;
  }
}

/**
 * Four clients, each owning the keys i % 4 == w, doing `ops` operations each (a third each PUT,
 * GET, DELETE) and checking every GET against the model. A request that fails without an S3
 * answer (the gateway killed) leaves both outcomes possible and stops that client.
 */
async function mixedLoad(s3: S3Client, bucket: string, keys: string[], model: Model, ops: number, stop: { now: boolean }, wrong: string[]): Promise<number> {
  let done = 0;
  await Promise.all([0, 1, 2, 3].map(async (w) => {
    const mine = keys.filter((_, i) => i % 4 === w);
    for (let n = 0; n < ops && !stop.now; n++) {
      const key = mine[(n * 7 + w) % mine.length]!;
      const op = n % 3;
      const before = model.get(key)!;
      try {
        if (op === 0) {
          const body = randomBytes(100 + (n % 900));
          model.set(key, [...before, body]);
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
          model.set(key, [body]);
        } else if (op === 1) {
          const got = await read(s3, bucket, key);
          if (!matches(before, got)) wrong.push(`${key}: read ${got === null ? 'nothing' : `${got.length} bytes`}, not what was acknowledged`);
          else model.set(key, [got]);
        } else {
          model.set(key, [...before, null]);
          await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
          model.set(key, [null]);
        }
        done++;
      } catch (e) {
        if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode) {
          // An S3 answer: nothing changed.
          model.set(key, before);
          wrong.push(`${key}: ${(e as Error).name} ${(e as Error).message}`);
        }
        return;
      }
    }
  }));
  return done;
}

async function checkAll(s3: S3Client, bucket: string, model: Model): Promise<void> {
  const wrong: string[] = [];
  for (const [key, want] of model) {
    const got = await read(s3, bucket, key);
    if (!matches(want, got)) wrong.push(`${key}: ${got === null ? 'missing' : `${got.length} bytes`} (${want.length} acceptable)`);
    model.set(key, [got]);
  }
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} objects not as acknowledged`);
  const present = [...model].filter(([, v]) => v[0] !== null).map(([k]) => k).sort();
  assert.deepEqual(await listAll(s3, bucket), present, 'the listing shows exactly the objects that exist');
}

/** PUTs each key (random bytes, 100 B–2 KiB), `parallel` at a time, and records it in the model. */
async function seed(s3: S3Client, bucket: string, keys: string[], model: Model, parallel = 1): Promise<void> {
  for (let i = 0; i < keys.length; i += parallel) {
    await Promise.all(keys.slice(i, i + parallel).map(async (k, j) => {
      const body = randomBytes(100 + ((i + j) * 37) % 2000);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: body }));
      model.set(k, [body]);
    }));
  }
}

async function putMultipart(s3: S3Client, bucket: string, key: string, body: Buffer): Promise<string> {
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
  const cut = 5 * MiB;
  const parts = [];
  for (const [n, chunk] of [[1, body.subarray(0, cut)], [2, body.subarray(cut)]] as const) {
    const r = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: n, Body: chunk }));
    parts.push({ PartNumber: n, ETag: r.ETag });
  }
  return (await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }))).ETag!;
}

/** A multipart upload round-robin put on `backend` (one of up to 6 tried), with one 3000-byte part. */
async function pinUpload(s3: S3Client, vb: string, backend: string): Promise<{ key: string; id: string; part: Buffer; ETag: string }> {
  for (let i = 0; i < 6; i++) {
    const key = `up/${i}`;
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: vb, Key: key }));
    if (decodeUploadId(UploadId!)?.backend !== backend) continue;
    const part = randomBytes(3000);
    const { ETag } = await s3.send(new UploadPartCommand({ Bucket: vb, Key: key, UploadId, PartNumber: 1, Body: part }));
    return { key, id: UploadId!, part, ETag: ETag! };
  }
  throw new Error(`round-robin put no upload on ${backend}`);
}

describe('a drain under load, the gateway killed with SIGKILL in the middle (process, sqlite index)', () => {
  test('the drain resumes and finishes: nothing lost, nothing stale, the backend empty and drained, no new writes there', { timeout: 300_000 }, async () => {
    const prefix = 'kd';
    const vb = 'drainme';
    const backends = await backendsFor(prefix);
    const path = join(dir, 'kill.yaml');
    writeFileSync(path, stringify({
      credentials: [plain(creds)],
      admin: { token: ADMIN },
      backends,
      virtualBuckets: [{ name: vb, backends: backends.map((b) => b.name), strategy: 'round-robin' }],
      health: HEALTH,
      // Slow enough to be caught in the middle; a short lease so the restarted gateway soon claims the dead one's job.
      jobs: { objectsPerSecond: 25, lease: '3s', pollInterval: '200ms' },
    }));
    const data = join(dir, 'kill-data');
    let gw = await spawnGateway(data, creds, ['--config', path]);
    let s3 = s3At(gw.url);
    try {
      const keys = Array.from({ length: 360 }, (_, i) => `o/${String(i).padStart(3, '0')}`);
      const model: Model = new Map();
      await seed(s3, vb, keys, model, 12);
      // Multipart objects (two parts): moved part by part, their ETag kept.
      const multipart = new Map<string, { body: Buffer; etag: string }>();
      for (let i = 0; i < 3; i++) {
        const body = randomBytes(5 * MiB + 1000 + i);
        multipart.set(`mp/${i}`, { body, etag: await putMultipart(s3, vb, `mp/${i}`, body) });
        model.set(`mp/${i}`, [body]);
      }
      const onDrained = async () => (await namesOn(prefix, 2)).length;
      assert.ok(await onDrained() >= 100, 'round-robin put a third of the objects on the backend to drain');
      assert.ok((await namesOn(prefix, 2)).some((n) => n.startsWith(`${vb}/mp/`)), 'a multipart object among them');
      // Open on the backend until after the restart: the drain cannot finish before the kill, and
      // the object it completes into is moved by the restarted gateway (however fast the first was).
      const upload = await pinUpload(s3, vb, `${prefix}2`);

      // Started with the CLI.
      let out = '';
      const cli = (args: string[]) => runJobs([...args, '--endpoint', gw.url, '--admin-token', ADMIN, '--json'], {}, { stdout: (t) => { out += t; }, stderr: (t) => { out += t; } });
      assert.equal(await cli(['drain', '--bucket', vb, '--backend', `${prefix}2`]), 0, out);
      const job = JSON.parse(out.trim().split('\n').at(-1)!) as JobView;
      assert.deepEqual([job.kind, job.bucket, job.backend], ['drain', vb, `${prefix}2`]);
      // Writable at once without it.
      assert.deepEqual((await vbStatus(gw.url, vb)).writable, [`${prefix}0`, `${prefix}1`]);

      const wrong: string[] = [];
      const stop = { now: false };
      const load = mixedLoad(s3, vb, keys, model, 10_000, stop, wrong);
      const movedBefore = await until('the drain recorded progress', async () => {
        const d = (await vbStatus(gw.url, vb)).drains[0];
        return (d?.progress?.moved ?? 0) >= 20 ? d!.progress!.moved : undefined;
      }, 120_000);
      await gw.stop('SIGKILL');
      stop.now = true;
      const donePhase1 = await load;
      assert.ok(donePhase1 > 0);
      assert.deepEqual(wrong.slice(0, 5), []);
      s3.destroy();

      gw = await spawnGateway(data, creds, ['--config', path]);
      s3 = s3At(gw.url);
      // Resumed, not restarted: the same job, its progress kept.
      const resumed = await until('the drain on /status', async () => (await vbStatus(gw.url, vb)).drains.find((d) => d.progress));
      assert.equal(resumed.state, 'draining');
      assert.equal(resumed.progress?.job, job.id);
      assert.ok((resumed.progress?.moved ?? 0) >= movedBefore, `progress kept: ${JSON.stringify(resumed)}`);
      const donePhase2 = await mixedLoad(s3, vb, keys, model, 60, { now: false }, wrong);
      assert.equal(donePhase2, 240);
      assert.deepEqual(wrong.slice(0, 5), []);
      await until('the drain waiting for the upload', async () => (await vbStatus(gw.url, vb)).drains[0]?.progress?.waiting, 120_000);
      await s3.send(new CompleteMultipartUploadCommand({ Bucket: vb, Key: upload.key, UploadId: upload.id, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: upload.ETag }] } }));
      model.set(upload.key, [upload.part]);

      const drained = await until('the drain finished', async () => {
        const d = (await vbStatus(gw.url, vb)).drains[0];
        return d?.state === 'drained' ? d : undefined;
      }, 180_000);
      // At least the completed upload was moved after the restart.
      assert.ok((drained.moved ?? 0) > movedBefore, JSON.stringify(drained));
      await checkAll(s3, vb, model);
      for (const [key, m] of multipart) {
        const r = await s3.send(new GetObjectCommand({ Bucket: vb, Key: key }));
        assert.equal(r.ETag, m.etag, `${key} keeps its multipart ETag`);
        assert.ok((await bytes(r.Body)).equals(m.body), `${key} bytes`);
      }
      // The old copies' removals run in the background.
      await until('the drained backend bucket empty', async () => (await onDrained()) === 0 || undefined, 60_000)
        .catch(async (e: Error) => { throw new Error(`${e.message}: ${(await namesOn(prefix, 2)).slice(0, 5).join(', ')}`); });
      // New objects never go there.
      for (let i = 0; i < 30; i++) await s3.send(new PutObjectCommand({ Bucket: vb, Key: `after/${i}`, Body: `after ${i}` }));
      assert.equal(await onDrained(), 0);
      const st = await vbStatus(gw.url, vb);
      assert.deepEqual([st.drains.map((d) => [d.backend, d.state]), st.writable], [[[`${prefix}2`, 'drained']], [`${prefix}0`, `${prefix}1`]]);
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      assert.match(metrics, new RegExp(`floodgate_backend_drained\\{bucket="${vb}",backend="${prefix}2"\\} 1`));
      assert.match(metrics, new RegExp(`floodgate_drain_moved_objects\\{bucket="${vb}",backend="${prefix}2"\\} ${drained.moved}`));
      // The job is gone from the queue.
      out = '';
      assert.equal(await cli(['list', '--kind', 'drain']), 0, out);
      assert.equal(out, '');
      // Usage errors exit 2, refusals 1, each saying why.
      const cases: [string[], number, RegExp][] = [
        [['bogus'], 2, /unknown command "bogus"/],
        [['cancel', 'x'], 2, /cancel: expected one job id/],
        [['drain', '--bucket', vb], 2, /drain: --backend is required/],
        [['list', '--kind', 'nope'], 2, /400: kind: expected one of/],
        [['cancel', '999999'], 1, /404: id: no job 999999/],
        [['undrain', '--bucket', vb, '--backend', `${prefix}0`], 1, /404: .* is not drained/],
      ];
      for (const [args, code, msg] of cases) {
        out = '';
        assert.equal(await cli(args), code, `${args.join(' ')}: ${out}`);
        assert.match(out, msg);
      }
      out = '';
      assert.equal(await runJobs(['list', '--endpoint', gw.url, '--admin-token', 'wrong-token'], {}, { stdout: () => {}, stderr: (t) => { out += t; } }), 1);
      assert.match(out, /401: missing or wrong bearer token/);
    } finally {
      s3.destroy();
      await gw.stop();
    }
  });
});

interface Opened {
  store: VirtualStore;
  gw: Gateway;
  s3: S3Client;
  close(): Promise<void>;
}

async function openInProcess(config: object, dataDir: string, log?: LogFn, backendDown?: (name: string) => boolean): Promise<Opened> {
  const store = await openVirtualStore(parseBalancingConfig(config), { dataDir, ...(log ? { log } : {}), ...(backendDown ? { backendDown } : {}) });
  const gw = await startFront({
    store, virtual: store, adminToken: ADMIN, keys: (id) => (id === creds.accessKeyId ? creds.secretAccessKey : undefined),
    host: '127.0.0.1', port: 0, domains: ['localhost'], region: 'us-east-1', idleTimeoutMs: 10_000, logger: createLogger('error'),
  });
  const s3 = s3At(gw.url);
  return { store, gw, s3, async close() { s3.destroy(); await gw.close(); await store.close(); } };
}

const statusOf = (store: VirtualStore, vb: string): VirtualBucketStatus => store.status().virtualBuckets.find((v) => v.name === vb)!;

let pg: PostgresServer | undefined;
after(async () => { await pg?.stop(); });

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`two copies of each object, a drain and a cancelled drain (${kind} index)`, () => {
    test('every copy leaves the drained backend, two remain of everything; a drain cancelled through the admin API stops, undrain makes it writable', { timeout: 240_000 }, async () => {
      const prefix = kind === 'sqlite' ? 'cs' : 'cp';
      const vb = `copies-${kind}`;
      const backends = await backendsFor(prefix);
      let index: object | undefined;
      if (kind === 'postgres') {
        pg ??= await startPostgres();
        index = { kind: 'postgres', url: pg.url, schema: 'drain_copies' };
      }
      const config = (jobs: object) => ({
        backends, virtualBuckets: [{ name: vb, backends: backends.map((b) => b.name), strategy: 'rendezvous', copies: 2 }],
        health: HEALTH, jobs: { pollInterval: '200ms', lease: '3s', ...jobs }, ...(index ? { index } : {}),
      });
      const o = await openInProcess(config({}), join(dir, vb));
      try {
        const model: Model = new Map();
        const keys = Array.from({ length: 90 }, (_, i) => `c/${i}`);
        await seed(o.s3, vb, keys, model);
        await o.store.jobs.idle(60_000);
        const from = `${prefix}1`;
        const r = await admin(o.gw.url, `jobs?kind=drain&bucket=${vb}&backend=${from}`, 'POST');
        assert.equal(r.status, 200, await r.clone().text());
        const wrong: string[] = [];
        const done = await mixedLoad(o.s3, vb, keys, model, 45, { now: false }, wrong);
        assert.equal(done, 180);
        assert.deepEqual(wrong.slice(0, 5), []);
        await until('drained', () => statusOf(o.store, vb).drains[0]?.state === 'drained', 120_000);
        await o.store.jobs.idle(60_000);
        await checkAll(o.s3, vb, model);
        const present = [...model].filter(([, v]) => v[0] !== null).map(([k]) => k);
        for (const k of present) {
          const rec = (await o.store.index.get(vb, k))!;
          const held = [rec.backend, ...(rec.copies ?? []).filter((c) => !c.pending).map((c) => c.backend)];
          assert.deepEqual([held.length, new Set(held).size, held.includes(from)], [2, 2, false], `${k}: ${JSON.stringify(rec)}`);
        }
        await until('the drained backend bucket empty', async () => (await namesOn(prefix, 1)).length === 0 || undefined, 60_000);

        // Undrain: writable again. Then a slow drain of another backend, cancelled.
        assert.equal((await admin(o.gw.url, `drains?bucket=${vb}&backend=${from}`, 'DELETE')).status, 200);
        assert.ok(statusOf(o.store, vb).writable.includes(from));
        await o.close();
        Object.assign(o, await openInProcess(config({ objectsPerSecond: 2 }), join(dir, vb)));
        const slow = await admin(o.gw.url, `jobs?kind=drain&bucket=${vb}&backend=${prefix}0`, 'POST');
        const id = ((await slow.json()) as { job: JobView }).job.id;
        const listed = await until('the drain job running', async () => {
          const l = (await (await admin(o.gw.url, 'jobs?kind=drain')).json()) as { jobs: JobView[] };
          return l.jobs.find((j) => j.id === id && j.state === 'running');
        }, 30_000);
        assert.equal(listed.backend, `${prefix}0`);
        assert.equal((await admin(o.gw.url, `jobs?id=${id}`, 'DELETE')).status, 200);
        assert.equal((await admin(o.gw.url, `jobs?id=${id}`, 'DELETE')).status, 404);
        const l = (await (await admin(o.gw.url, 'jobs')).json()) as { jobs: JobView[] };
        assert.deepEqual(l.jobs.filter((j) => j.kind === 'drain'), []);
        await o.store.jobs.idle(60_000);
        const moved = (await namesOn(prefix, 0)).length;
        assert.ok(moved > 0, 'the cancelled drain left objects where they were');
        // Still draining (no new writes) until undrained; then writable.
        assert.deepEqual(statusOf(o.store, vb).drains.map((d) => [d.backend, d.state]), [[`${prefix}0`, 'draining']]);
        assert.ok(!statusOf(o.store, vb).writable.includes(`${prefix}0`));
        assert.equal((await admin(o.gw.url, `drains?bucket=${vb}&backend=${prefix}0`, 'DELETE')).status, 200);
        assert.deepEqual(statusOf(o.store, vb).drains, []);
        assert.ok(statusOf(o.store, vb).writable.includes(`${prefix}0`));
        await checkAll(o.s3, vb, model);
      } finally {
        await o.close();
      }
    });
  });
}

/** Where rendezvous places a key over the backends named in `weights` (all up, none full). */
function rendezvousOver(weights: Record<string, number>): (key: string) => string | undefined {
  const pick = createBalancer('rendezvous');
  const candidates = Object.entries(weights).map(([name, weight]) => ({ name, healthy: true, weight, used: 0 }));
  return (key) => pick.pick(candidates, key, 0);
}

/** Waits for the bucket's rebalance to end; then every key is where `want` places it, with its bytes. */
async function rebalanced(o: Opened, vb: string, keys: string[], want: (k: string) => string | undefined, model: Model): Promise<void> {
  await until('the rebalance done', async () => {
    await o.store.jobs.refreshSummary();
    return !statusOf(o.store, vb).rebalance || undefined;
  }, 120_000);
  await o.store.jobs.idle(60_000);
  for (const k of keys) assert.equal(await o.store.locate(vb, k), want(k), k);
  await checkAll(o.s3, vb, model);
}

/** Logs to pass to openInProcess that collect the ids of the rebalances this process queued. */
function rebalancesStarted(): { log: LogFn; started: unknown[] } {
  const started: unknown[] = [];
  return { started, log: (_level, msg, f) => { if (msg === 'rebalance started') started.push(f?.job); } };
}

const rebalanceJobs = async (o: Opened) => (await o.store.index.jobs.list({ after: 0, limit: 10, kind: 'rebalance' })).map((j) => j.id);

describe('rebalance (sqlite index)', () => {
  test('after a backend is added, exactly the objects whose rendezvous placement changed move, and every object reads back', { timeout: 180_000 }, async () => {
    const prefix = 'rb';
    const vb = 'rebal';
    const backends = await backendsFor(prefix);
    const config = (names: string[]) => ({ backends, virtualBuckets: [{ name: vb, backends: names, strategy: 'rendezvous' }], health: HEALTH, jobs: { pollInterval: '200ms' } });
    const o = await openInProcess(config([`${prefix}0`, `${prefix}1`]), join(dir, vb));
    try {
      const model: Model = new Map();
      const keys = Array.from({ length: 120 }, (_, i) => `r/${i}`);
      await seed(o.s3, vb, keys, model);
      assert.equal((await namesOn(prefix, 2)).length, 0);
      await o.store.reload(parseBalancingConfig(config(backends.map((b) => b.name))));
      const want = rendezvousOver({ [`${prefix}0`]: 1, [`${prefix}1`]: 1, [`${prefix}2`]: 1 });
      const moving = keys.filter((k) => want(k) === `${prefix}2`);
      assert.ok(moving.length >= 20, `${moving.length} keys now placed on the new backend`);
      const r = await admin(o.gw.url, `jobs?kind=rebalance&bucket=${vb}`, 'POST');
      assert.equal(r.status, 200, await r.clone().text());
      await rebalanced(o, vb, keys, want, model);
      const names = await Promise.all([0, 1, 2].map((i) => namesOn(prefix, i)));
      assert.equal(names[2]!.length, moving.length, 'the new backend holds exactly the moved objects');
      assert.equal(names[0]!.length + names[1]!.length, keys.length - moving.length, 'their old copies are gone');
      // A strategy that does not place keys the same way every time cannot be rebalanced.
      await o.store.reload(parseBalancingConfig({ ...config(backends.map((b) => b.name)), virtualBuckets: [{ name: vb, backends: backends.map((b) => b.name), strategy: 'round-robin' }] }));
      const refused = await admin(o.gw.url, `jobs?kind=rebalance&bucket=${vb}`, 'POST');
      assert.equal(refused.status, 409);
      assert.match(((await refused.json()) as { error: string }).error, /rendezvous/);
    } finally {
      await o.close();
    }
  });
});

describe('a rebalance queued by a reload (sqlite index)', () => {
  test('a reload changing the backend set or a weight queues one rebalance (none while one is queued, none when placement stays); it moves the keys to their new placement', { timeout: 180_000 }, async () => {
    const prefix = 'ar';
    const vb = 'autorebal';
    const backends = await backendsFor(prefix);
    const config = (names: string[], weight2 = 1) => ({
      backends: backends.map((b) => (b.name === `${prefix}2` ? { ...b, weight: weight2 } : b)),
      virtualBuckets: [{ name: vb, backends: names, strategy: 'rendezvous' }], health: HEALTH, jobs: { pollInterval: '200ms' },
    });
    const { log, started } = rebalancesStarted();
    const o = await openInProcess(config([`${prefix}0`, `${prefix}1`]), join(dir, vb), log);
    try {
      const model: Model = new Map();
      const keys = Array.from({ length: 90 }, (_, i) => `a/${i}`);
      await seed(o.s3, vb, keys, model);
      const all = backends.map((b) => b.name);
      // Another replica holds a rebalance of the bucket: the reload adding a backend queues no second one.
      const [theirs] = await o.store.index.jobs.enqueue([{ kind: 'rebalance', bucket: vb, key: '', backend: '' }], { owner: 'another-replica/1/x', leaseMs: 3_600_000 });
      await o.store.reload(parseBalancingConfig(config(all)));
      assert.deepEqual([started, await rebalanceJobs(o)], [[], [theirs]]);
      assert.equal((await admin(o.gw.url, `jobs?id=${theirs}`, 'DELETE')).status, 200);
      // Placement unchanged (same backends and weights; the backends listed in another order): nothing queued.
      await o.store.reload(parseBalancingConfig({ ...config([...all].reverse()), gc: { minAge: '2h' } }));
      assert.deepEqual([started, await rebalanceJobs(o)], [[], []]);
      // A weight changed: one rebalance queued by the reload, no admin call; it moves the keys.
      await o.store.reload(parseBalancingConfig(config(all, 3)));
      assert.equal(started.length, 1, 'the reload queued a rebalance');
      const want = rendezvousOver({ [`${prefix}0`]: 1, [`${prefix}1`]: 1, [`${prefix}2`]: 3 });
      const moving = keys.filter((k) => want(k) === `${prefix}2`);
      assert.ok(moving.length >= 30, `${moving.length} keys now placed on the new backend`);
      await rebalanced(o, vb, keys, want, model);
      assert.equal((await namesOn(prefix, 2)).length, moving.length, 'the new backend holds exactly the moved objects');
      assert.equal(started.length, 1);
    } finally {
      await o.close();
    }
  });
});

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`rebalances queued by the placement the index last ran with (${kind} index)`, () => {
    test('a first start and an unchanged restart queue none; a switch to rendezvous queues one, a switch away none; a start after the backends changed while stopped queues one; the keys move', { timeout: 240_000 }, async () => {
      const prefix = kind === 'sqlite' ? 'ss' : 'sp';
      const vb = `startrebal-${kind}`;
      const backends = await backendsFor(prefix);
      const index = kind === 'postgres' ? { kind: 'postgres', url: (pg ??= await startPostgres()).url, schema: 'start_rebalance' } : undefined;
      const two = [`${prefix}0`, `${prefix}1`];
      const all = [...two, `${prefix}2`];
      const config = (strategy: string, names: string[]) => parseBalancingConfig({
        backends, virtualBuckets: [{ name: vb, backends: names, strategy }], health: HEALTH, jobs: { pollInterval: '200ms' }, ...(index ? { index } : {}),
      });
      const { log, started } = rebalancesStarted();
      const open = (strategy: string, names: string[]) => openInProcess(config(strategy, names), join(dir, vb), log);
      const o = await open('round-robin', two);
      try {
        const model: Model = new Map();
        const keys = Array.from({ length: 60 }, (_, i) => `s/${i}`);
        await seed(o.s3, vb, keys, model);
        await o.close();
        Object.assign(o, await open('round-robin', two));
        assert.deepEqual([started, await rebalanceJobs(o)], [[], []], 'a first start and an unchanged restart queue no rebalance');

        // Round-robin placed the keys by turn, not by score: the switch to rendezvous queues a rebalance.
        const byTwo = rendezvousOver({ [two[0]!]: 1, [two[1]!]: 1 });
        const misplaced = (await Promise.all(keys.map(async (k) => (await o.store.locate(vb, k)) !== byTwo(k)))).filter(Boolean).length;
        assert.ok(misplaced >= 10, `${misplaced} keys not where rendezvous places them`);
        await o.store.reload(config('rendezvous', two));
        assert.equal(started.length, 1, 'the switch to rendezvous queued a rebalance');
        await rebalanced(o, vb, keys, byTwo, model);

        // Stopped; the configuration gains a backend meanwhile. The start finds the change and queues the rebalance.
        await o.close();
        Object.assign(o, await open('rendezvous', all));
        assert.equal(started.length, 2, 'the start with another backend set queued a rebalance');
        const byAll = rendezvousOver({ [all[0]!]: 1, [all[1]!]: 1, [all[2]!]: 1 });
        await rebalanced(o, vb, keys, byAll, model);
        assert.equal((await namesOn(prefix, 2)).length, keys.filter((k) => byAll(k) === all[2]).length, 'the new backend holds exactly the moved objects');

        // A switch away moves nothing, at reload or at the next start.
        await o.store.reload(config('round-robin', all));
        await o.close();
        Object.assign(o, await open('round-robin', all));
        assert.deepEqual([started.length, await rebalanceJobs(o)], [2, []]);
      } finally {
        await o.close();
      }
    });
  });
}

describe('two replicas on one PostgreSQL index (in process)', () => {
  test('started at once with a changed placement, then reloaded at once, they queue one rebalance between them each time; the keys move', { timeout: 240_000 }, async () => {
    const prefix = 'tr';
    const vb = 'tworeplicas';
    const backends = await backendsFor(prefix);
    const url = (pg ??= await startPostgres()).url;
    const two = [`${prefix}0`, `${prefix}1`];
    const all = [...two, `${prefix}2`];
    const config = (replica: string, names: string[], weight2 = 1) => ({
      replica, backends: backends.map((b) => (b.name === all[2] ? { ...b, weight: weight2 } : b)),
      virtualBuckets: [{ name: vb, backends: names, strategy: 'rendezvous' }], health: HEALTH,
      // Slow: the rebalance is still running when the other replica asks for it.
      jobs: { pollInterval: '200ms', objectsPerSecond: 10 }, index: { kind: 'postgres', url, schema: 'two_replicas' },
    });
    const { log, started } = rebalancesStarted();
    const names = ['gw-a', 'gw-b'];
    const model: Model = new Map();
    const keys = Array.from({ length: 60 }, (_, i) => `t/${i}`);
    const first = await openInProcess(config(names[0]!, two), join(dir, vb, names[0]!), log);
    try {
      await seed(first.s3, vb, keys, model);
    } finally {
      await first.close();
    }
    const replicas = await Promise.all(names.map((r) => openInProcess(config(r, all), join(dir, vb, r), log)));
    try {
      assert.equal(started.length, 1, 'the two starts queued one rebalance');
      assert.equal((await rebalanceJobs(replicas[1]!)).length, 1);
      await rebalanced(replicas[0]!, vb, keys, rendezvousOver({ [all[0]!]: 1, [all[1]!]: 1, [all[2]!]: 1 }), model);
      await Promise.all(replicas.map((o, i) => o.store.reload(parseBalancingConfig(config(names[i]!, all, 3)))));
      assert.equal(started.length, 2, 'the two reloads queued one rebalance');
      assert.equal((await rebalanceJobs(replicas[0]!)).length, 1);
      await rebalanced(replicas[1]!, vb, keys, rendezvousOver({ [all[0]!]: 1, [all[1]!]: 1, [all[2]!]: 3 }), model);
    } finally {
      await Promise.all(replicas.map((o) => o.close()));
    }
  });
});

describe('a drain while another replica streams a PUT to the backend (PostgreSQL index, in process)', () => {
  test('the drain waits for the other replica\'s write, by its intent in the shared index, and then moves it: the backend ends empty', { timeout: 240_000 }, async () => {
    const prefix = 'lp';
    const vb = 'latewrite';
    const backends = await backendsFor(prefix);
    const url = (pg ??= await startPostgres()).url;
    const names = backends.map((b) => b.name);
    const config = (replica: string) => ({
      replica, backends, virtualBuckets: [{ name: vb, backends: names, strategy: 'round-robin' }], health: HEALTH,
      jobs: { pollInterval: '200ms' }, index: { kind: 'postgres', url, schema: 'late_write' },
    });
    const model: Model = new Map();
    const a = await openInProcess(config('gw-a'), join(dir, vb, 'a'));
    // Replica b sees the two other backends down while it chooses, so its PUT streams to lp2.
    const forced = new Set([names[0]!, names[1]!]);
    const b = await openInProcess(config('gw-b'), join(dir, vb, 'b'), undefined, (n) => forced.has(n));
    try {
      await seed(a.s3, vb, Array.from({ length: 30 }, (_, i) => `l/${i}`), model);
      const body = randomBytes(256 * 1024);
      const stream = new PassThrough();
      const put = openRequest(b.gw.url, {
        method: 'PUT', path: objectPath(vb, 'late/slow'), creds: plain(creds), body: stream,
        headers: { 'content-length': String(body.length) },
      });
      put.catch(() => {}); // awaited below; a failed assertion before that closes the gateway under it
      stream.write(body.subarray(0, 1000));
      await until('the slow PUT\'s intent in the shared index', async () => (await a.store.index.intentsOn(vb, `${prefix}2`)).length > 0 || undefined);
      forced.clear();
      const started = await a.store.moves.drain(vb, `${prefix}2`);
      assert.ok(started.ok, JSON.stringify(started));
      // Past the 5 s the drain gives replicas to see its mark, and more passes: still draining.
      const seenBy = Date.now() + DRAIN_SEEN_MS + 3_000;
      for (let i = 0; Date.now() < seenBy && i < 1_000; i++) {
        await a.store.jobs.refreshSummary();
        assert.equal(statusOf(a.store, vb).drains[0]?.state, 'draining', 'not drained while the other replica\'s PUT streams');
        await new Promise((r) => setTimeout(r, 250));
      }
      stream.end(body.subarray(1000));
      const res = await put;
      assert.equal(res.statusCode, 200, (await readBody(res)).toString());
      await readBody(res);
      model.set('late/slow', [body]);
      await until('the drain finished', async () => {
        await a.store.jobs.refreshSummary();
        return statusOf(a.store, vb).drains[0]?.state === 'drained' || undefined;
      }, 120_000);
      await checkAll(a.s3, vb, model);
      await until('the drained backend bucket empty', async () => (await namesOn(prefix, 2)).length === 0 || undefined, 60_000)
        .catch(async (e: Error) => { throw new Error(`${e.message}: ${(await namesOn(prefix, 2)).slice(0, 5).join(', ')}`); });
    } finally {
      await b.close();
      await a.close();
    }
  });
});

describe('a drain asked for by the configuration (sqlite index)', () => {
  test('drain: [backend] starts on reload, waits for a multipart upload open there, then moves it too; a name not of the bucket is refused', { timeout: 180_000 }, async () => {
    const prefix = 'cf';
    const vb = 'fromconfig';
    const backends = await backendsFor(prefix);
    const names = backends.map((b) => b.name);
    const config = (drain?: string[]) => ({ backends, virtualBuckets: [{ name: vb, backends: names, strategy: 'round-robin', ...(drain ? { drain } : {}) }], health: HEALTH, jobs: { pollInterval: '200ms' } });
    assert.throws(() => parseBalancingConfig(config(['nope'])), /virtualBuckets\.0\.drain\.0: "nope" is not a backend of this bucket/);
    const o = await openInProcess(config(), join(dir, vb));
    try {
      const model: Model = new Map();
      await seed(o.s3, vb, Array.from({ length: 30 }, (_, i) => `f/${i}`), model);
      // An upload pinned to the backend to drain, open when the drain begins.
      const upload = await pinUpload(o.s3, vb, `${prefix}2`);
      const { part, ETag } = upload;
      await o.store.reload(parseBalancingConfig(config([`${prefix}2`])));
      assert.ok(!statusOf(o.store, vb).writable.includes(`${prefix}2`), 'no new writes from the reload on');
      const waiting = await until('the drain waiting for the upload', async () => {
        await o.store.jobs.refreshSummary();
        return statusOf(o.store, vb).drains[0]?.progress?.waiting;
      }, 60_000);
      assert.match(waiting, /1 multipart uploads open on cf2/);
      await o.s3.send(new CompleteMultipartUploadCommand({ Bucket: vb, Key: upload.key, UploadId: upload.id, MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] } }));
      model.set(upload.key, [part]);
      await until('drained', () => statusOf(o.store, vb).drains[0]?.state === 'drained', 60_000);
      assert.notEqual(await o.store.locate(vb, upload.key), `${prefix}2`);
      // The other uploads are still open elsewhere: not in the listing.
      await checkAll(o.s3, vb, model);
      await until('the drained backend bucket empty', async () => (await namesOn(prefix, 2)).length === 0 || undefined, 60_000);
      // Undrain is refused while the configuration lists it.
      const r = await admin(o.gw.url, `drains?bucket=${vb}&backend=${prefix}2`, 'DELETE');
      assert.equal(r.status, 409);
    } finally {
      await o.close();
    }
  });
});

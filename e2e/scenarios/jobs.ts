// The gateway's background jobs on the cluster (issue 13): a read-through origin and its migration,
// a drain of one backend, and garbage collection of orphans put on a backend bucket by hand — all
// through the admin API of a VirtualBucket's gateway, checked with S3 clients through its Service
// and with MinIO's own listing of the backend buckets. One VirtualBucket (on the storage
// scenario's MinIO and BackendBuckets) serves the three, so its gateway pod starts once; the last
// deletes it and the origin bucket, so the scenarios after these see the cluster as before.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { contentOf, sizeOfKey } from '../apps/content.ts';
import { condition, type Kube } from './kube.ts';
import { adminApi, gatewayClient } from './apps.ts';
import { backendKeys, MINIO, NS, VB, type Scenario } from './platform.ts';

const JOBS_VB = `${VB}-jobs`;
const ORIGIN_BUCKET = 'legacy-photos';
const GC_MIN_AGE_MS = 2_000;
const PART = 5 * 1024 * 1024;
/** Keys end in -<bytes>b (e2e/apps/content.ts). The -parts- objects are multipart: 5 MiB + 1 MiB. */
const TAGGED = 'legacy/b-70000b';
const ORIGIN_KEYS = ['legacy/a-1500b', TAGGED, 'legacy/c-300000b', 'legacy/d-5b', 'legacy/parts-6291456b'];
const READ_FIRST = ORIGIN_KEYS[0]!;
const DRAIN_KEYS = [...Array.from({ length: 10 }, (_, i) => `drain/${i}-${700 + i * 40_000}b`), 'drain/parts-1-6291456b', 'drain/parts-2-6291456b'];

const jobsBucket = async (k: Kube) => (await k.get('virtualbucket', NS, JOBS_VB))!;

/** A PUT of the key's content, in 5 MiB parts when its name says -parts-. */
async function put(s3: S3Client, bucket: string, key: string, extra: { ContentType?: string; Metadata?: Record<string, string> } = {}): Promise<void> {
  const params = { Bucket: bucket, Key: key, Body: contentOf(key, sizeOfKey(key)), ...extra };
  if (key.includes('/parts-')) await new Upload({ client: s3, params, partSize: PART, queueSize: 1 }).done();
  else await s3.send(new PutObjectCommand(params));
}

/** What a copy or a move must keep: ETag (a multipart "-N" one too), content type, user metadata. */
async function headsOf(s3: S3Client, bucket: string, keys: string[]): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const h = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    out[key] = { etag: h.ETag, contentType: h.ContentType, metadata: h.Metadata };
  }
  return out;
}

const everywhere = (placed: Record<string, string[]>) => Object.values(placed).flat().sort();

const origin: Scenario = {
  name: 'a VirtualBucket with a read-through origin (a MinIO bucket, keys from a Secret): a GET serves the origin\'s bytes and copies the object onto a backend bucket; a migration through the admin API copies the rest; the status shows its progress',
  async run(k) {
    const minio = await gatewayClient(k, NS, MINIO.service, MINIO.secret);
    let seeded: Record<string, unknown>;
    try {
      await minio.s3.send(new CreateBucketCommand({ Bucket: ORIGIN_BUCKET }));
      for (const key of ORIGIN_KEYS) await put(minio.s3, ORIGIN_BUCKET, key, key === TAGGED ? { ContentType: 'image/jpeg', Metadata: { team: 'red' } } : {});
      seeded = await headsOf(minio.s3, ORIGIN_BUCKET, ORIGIN_KEYS);
    } finally {
      minio.close();
    }
    await k.apply('jobs.yaml', { NS, JOBS_VB, ORIGIN_BUCKET, GC_MIN_AGE: `${GC_MIN_AGE_MS}ms` });
    const vb = await k.waitFor('the VirtualBucket with an origin to be Ready', async () => {
      const v = await k.get('virtualbucket', NS, JOBS_VB);
      return condition(v, 'Ready')?.status === 'True' && v.status.origin ? v : undefined;
    }, 240_000);
    const b = vb.status.bucketName;
    const c = await gatewayClient(k, NS, `${JOBS_VB}-gateway`, vb.status.accessSecret);
    const admin = await adminApi(k, NS, vb);
    try {
      assert.deepEqual((await c.listAll('legacy/')).sort(), [...ORIGIN_KEYS].sort(), 'the listing shows the origin\'s keys');
      assert.deepEqual(everywhere(await backendKeys(k, b)), [], 'nothing copied in before a read');
      assert.ok(await c.verify(READ_FIRST), `the origin's bytes of ${READ_FIRST}`);
      await k.waitFor(`the gateway to copy ${READ_FIRST} in`, async () => (await admin.bucketStatus(b)).origin?.copied === 1);
      assert.deepEqual(everywhere(await backendKeys(k, b)), [READ_FIRST], 'the object read is on a backend bucket, and only it');

      await admin.call('POST', `migrations?bucket=${b}`);
      const run = await k.waitFor('the migration run to end', async () => {
        const m = await admin.call('GET', `migrations?bucket=${b}`);
        return m.state === 'counting' || m.state === 'running' ? undefined : m;
      }, 180_000);
      assert.deepEqual({ state: run.state, copied: run.copied, skipped: run.skipped, failed: run.failed, remaining: run.remainingObjects },
        { state: 'done', copied: ORIGIN_KEYS.length - 1, skipped: 1, failed: 0, remaining: 0 }, JSON.stringify(run));
      assert.deepEqual(everywhere(await backendKeys(k, b)), [...ORIGIN_KEYS].sort(), 'every origin object on a backend bucket, once');
      assert.deepEqual(await headsOf(c.s3, c.bucket, ORIGIN_KEYS), seeded, 'ETags, content types and metadata as on the origin');
      for (const key of ORIGIN_KEYS) assert.ok(await c.verify(key), `bytes of ${key}`);
    } finally {
      c.close();
      admin.close();
    }
    // What the operator copied from the gateway's /status into the VirtualBucket (every 30 s).
    const progress = await k.waitFor('the VirtualBucket status to show the migration done', async () => {
      const o = (await jobsBucket(k)).status?.origin;
      return o?.migration === 'Done' ? o : undefined;
    });
    assert.deepEqual(progress, {
      reads: 1, copied: 1, copyFailures: 0, migration: 'Done', migrationRun: 1, migratedObjects: ORIGIN_KEYS.length - 1,
      migratedBytes: ORIGIN_KEYS.slice(1).reduce((n, key) => n + sizeOfKey(key), 0), skippedObjects: 1, failedObjects: 0, remainingObjects: 0, remainingBytes: 0,
    });
  },
};

const drain: Scenario = {
  name: 'a drain through the admin API empties one backend bucket onto the other (MinIO\'s own listing); every object reads byte-identical through the Service; undrained, it takes writes again',
  async run(k) {
    const vb = await jobsBucket(k);
    const b = vb.status.bucketName;
    const c = await gatewayClient(k, NS, `${JOBS_VB}-gateway`, vb.status.accessSecret);
    const admin = await adminApi(k, NS, vb);
    try {
      // Round-robin alternates, so each backend gets some, and one of the two multipart objects.
      for (const key of DRAIN_KEYS) await put(c.s3, c.bucket, key);
      const keys = [...ORIGIN_KEYS, ...DRAIN_KEYS].sort();
      const heads = await headsOf(c.s3, c.bucket, keys);
      const before = await backendKeys(k, b);
      assert.deepEqual(everywhere(before), keys);
      assert.ok(before['backend-a']!.length > 0 && before['backend-b']!.some((key) => key.includes('/parts-')), JSON.stringify(before));

      const { job } = await admin.call('POST', `jobs?kind=drain&bucket=${b}&backend=minio-b`);
      assert.equal(job?.kind, 'drain');
      const drained = await k.waitFor('the gateway to mark minio-b drained', async () =>
        (await admin.bucketStatus(b)).drains.find((d) => d.backend === 'minio-b' && d.state === 'drained'), 180_000);
      assert.equal(drained.moved, before['backend-b']!.length, 'every copy on minio-b moved');
      assert.deepEqual((await admin.call('GET', 'jobs?kind=drain')).jobs, [], 'the drain job is done');
      // The old copies' removals may finish just after the drain is marked.
      const after = await k.waitFor('backend-b to hold none of the bucket\'s objects', async () => {
        const placed = await backendKeys(k, b);
        return placed['backend-b']!.length === 0 ? placed : undefined;
      }, 60_000);
      assert.deepEqual(after['backend-a'], keys, 'all on backend-a');
      assert.deepEqual(await headsOf(c.s3, c.bucket, keys), heads, 'ETags, content types and metadata unchanged');
      for (const key of keys) assert.ok(await c.verify(key), `bytes of ${key}`);

      const st = await k.waitFor('the VirtualBucket status to show minio-b Drained', async () =>
        (await jobsBucket(k)).status?.drains?.find((d: any) => d.backend === 'minio-b' && d.state === 'Drained'));
      assert.equal(st.moved, drained.moved);
      await admin.call('DELETE', `drains?bucket=${b}&backend=minio-b`);
      const v = await admin.bucketStatus(b);
      assert.deepEqual({ drains: v.drains, writable: v.writable }, { drains: [], writable: ['minio-a', 'minio-b'] }, 'undrained: minio-b takes writes again');
    } finally {
      c.close();
      admin.close();
    }
  },
};

const gc: Scenario = {
  name: 'gc through the admin API deletes the orphans put on a backend bucket by hand under the VirtualBucket\'s names, and nothing else (MinIO\'s own listing); then the VirtualBucket and the origin bucket are deleted',
  async run(k) {
    const vb = await jobsBucket(k);
    const b = vb.status.bucketName;
    const keys = [...ORIGIN_KEYS, ...DRAIN_KEYS].sort();
    const minio = await gatewayClient(k, NS, MINIO.service, MINIO.secret);
    const admin = await adminApi(k, NS, vb);
    try {
      // One under <bucket>/ and one under a name of its own, as a crashed write would leave them.
      const orphans = [`${b}/stray/by-hand-100b`, `.floodgate/w/${b}/00000000deadbeef/stray/own-name-100b`];
      for (const name of orphans) await minio.s3.send(new PutObjectCommand({ Bucket: 'backend-a', Key: name, Body: contentOf(name, 100) }));
      const stored = await minio.listAll('', 'backend-a');
      await sleep(GC_MIN_AGE_MS + 2_000); // older than the VirtualBucket's gc.minAge

      const started = await admin.call('POST', `gc?bucket=${b}`);
      assert.deepEqual([...started.queued].sort(), ['minio-a', 'minio-b']);
      const runs = await k.waitFor('both gc runs to finish', async () => {
        const r = (await admin.call('GET', `gc?bucket=${b}`)).runs as { backend: string; state: string }[];
        return r.length === 2 && r.every((x) => x.state !== 'running') ? r : undefined;
      }, 120_000);
      const summary = (backend: string) => {
        const r: any = runs.find((x) => x.backend === backend);
        return { state: r.state, orphans: r.orphans, removed: r.removed, young: r.young, records: r.records, missing: r.missing, errors: r.errors };
      };
      assert.deepEqual(summary('minio-a'), { state: 'done', orphans: 2, removed: 2, young: 0, records: keys.length, missing: 0, errors: 0 });
      assert.deepEqual(summary('minio-b'), { state: 'done', orphans: 0, removed: 0, young: 0, records: keys.length, missing: 0, errors: 0 });
      assert.deepEqual((await minio.listAll('', 'backend-a')).sort(), stored.filter((name) => !orphans.includes(name)).sort(),
        'backend-a holds everything it held but the orphans (other virtual buckets\' objects, markers)');
      assert.deepEqual(everywhere(await backendKeys(k, b)), keys, 'every object of the bucket is still there');
    } finally {
      minio.close();
      admin.close();
    }
    // Gone again, so the scenarios after these see the cluster as before.
    await k.kubectl(['delete', 'virtualbucket', JOBS_VB, '-n', NS, '--timeout=120s']);
    await k.waitFor('its gateway pods to be gone', async () => (await k.list('pods', NS, `app.kubernetes.io/instance=${JOBS_VB}`)).length === 0);
    const root = await gatewayClient(k, NS, MINIO.service, MINIO.secret);
    try {
      await root.s3.send(new DeleteObjectsCommand({ Bucket: ORIGIN_BUCKET, Delete: { Objects: ORIGIN_KEYS.map((Key) => ({ Key })) } }));
      await root.s3.send(new DeleteBucketCommand({ Bucket: ORIGIN_BUCKET }));
    } finally {
      root.close();
    }
  },
};

/** In the order they run (each after the one before: one VirtualBucket). */
export const JOBS: Scenario[] = [origin, drain, gc];

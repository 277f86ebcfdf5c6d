// Garbage collection survives kill -9: a `floodgate gateway` process collecting 1,600 orphans
// put straight onto its MinIO backend (paced by jobs.objectsPerSecond, a page of 500 at a time)
// is killed after its first page; the restarted process takes its job back at once (not after
// the 5 min lease) and goes on from the cursor in the job's progress — the same run, its counts
// carried over — until every orphan is gone and every object written through the gateway stays.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { stringify } from 'yaml';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startMinio, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store, type S3Store } from '../proxy/backends/s3/store.ts';
import type { GcStatus, StatusSnapshot } from '../proxy/health/status.ts';
import { newCredentials, spawnGateway, tempDir, until } from './lib/gateway.ts';
import { bytes } from './lib/s3.ts';

const ORPHANS = 1600;
const ADMIN = 'gc-kill-admin-token';
const creds = newCredentials();
let minio: Minio;
let direct: S3Store;
let dir: string;

before(async () => {
  minio = await startMinio();
  direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  await direct.createBucket('gck-a');
  dir = tempDir('floodgate-gc-kill-');
});

after(async () => {
  await direct?.close();
  await minio?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const gcOf = async (url: string): Promise<GcStatus | undefined> =>
  ((await (await fetch(`${url}/status`)).json()) as StatusSnapshot).virtualBuckets.find((v) => v.name === 'swept')?.gc?.[0];

test('kill -9 mid-collection: the restarted gateway resumes the same run from its cursor and collects every orphan', async () => {
  const path = join(dir, 'gc.yaml');
  writeFileSync(path, stringify({
    credentials: [{ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey }],
    admin: { token: ADMIN },
    backends: [{ name: 'gck-a', endpoint: minio.endpoint, bucket: 'gck-a', credentials: { accessKeyId: minio.credentials.accessKeyId, secretAccessKey: minio.credentials.secretAccessKey } }],
    virtualBuckets: [{ name: 'swept', backends: ['gck-a'] }],
    gc: { minAge: '1s' },
    // A 500-object page, then 2 s before the next: time to kill it between pages.
    jobs: { objectsPerSecond: 250 },
  }));
  const data = join(dir, 'data');
  // Started before the orphans exist: a new index is first rebuilt from the backends, which would adopt them.
  const gw = await spawnGateway(data, creds, ['--config', path]);
  const s3 = (url: string) => new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1 });
  let seen: GcStatus;
  try {
    const c = s3(gw.url);
    for (const k of ['a-1', 'a-2', 'z-3']) await c.send(new PutObjectCommand({ Bucket: 'swept', Key: k, Body: `kept ${k}` }));
    c.destroy();
    const names = Array.from({ length: ORPHANS }, (_, i) => `swept/o-${String(i).padStart(4, '0')}`);
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < names.length) await direct.putObject('gck-a', names[next++]!, { body: Readable.from([Buffer.from('orphan')]), size: 6, headers: { userMeta: {} }, checksums: {} });
    }));
    await new Promise((r) => setTimeout(r, 1_200));
    const started = await fetch(`${gw.url}/_floodgate/admin/gc?bucket=swept`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(started.status, 200);
    seen = await until('the first page collected', async () => {
      const g = await gcOf(gw.url);
      return g && g.state === 'running' && g.removed >= 500 ? g : undefined;
    }, 60_000);
  } finally {
    await gw.stop('SIGKILL');
  }
  assert.ok(seen.removed < ORPHANS, `killed mid-run (${seen.removed} removed)`);
  const again = await spawnGateway(data, creds, ['--config', path]);
  try {
    const done = await until('the run finished after the restart', async () => {
      const g = await gcOf(again.url);
      return g?.state === 'done' ? g : undefined;
    }, 120_000);
    assert.equal(done.startedAt, seen.startedAt, 'the same run, resumed from its progress');
    assert.ok(done.removed >= seen.removed && done.scanned >= seen.scanned, 'its counts carried over');
    assert.equal(done.errors, 0, JSON.stringify(done.lastErrors));
    const left = (await direct.scan('gck-a', { prefix: 'swept/', after: '', limit: 5000 })).map((m) => m.key);
    assert.deepEqual(left, ['swept/a-1', 'swept/a-2', 'swept/z-3'], 'every orphan gone, every object written through the gateway kept');
    const c = s3(again.url);
    try {
      assert.equal((await bytes((await c.send(new GetObjectCommand({ Bucket: 'swept', Key: 'z-3' }))).Body)).toString(), 'kept z-3');
    } finally {
      c.destroy();
    }
  } finally {
    await again.stop();
  }
});

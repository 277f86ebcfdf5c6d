// A gateway pod that restarts without its index (the pod's volume lost, a new node) must not
// serve an incomplete listing: `floodgate gateway --config` over two buckets on a real MinIO, its
// index file deleted between runs. /readyz stays 503 — and S3 calls answer 503 — until the index
// is rebuilt from the backends; then every object is listed. With MinIO down the rebuild cannot
// complete, so the gateway stays unready for as long as it is down.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort, startMinio, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store } from '../proxy/backends/s3/store.ts';
import { newCredentials, ROOT, tempDir } from './lib/gateway.ts';

const creds = newCredentials();
const plain = (c: { accessKeyId: string; secretAccessKey: string }) => ({ accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey });
const VB = 'photos';
const COUNT = 300;
let minio: Minio;
let dir: string;
let configPath: string;
let port: number;
const procs: ChildProcess[] = [];

before(async () => {
  minio = await startMinio();
  const direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  for (const b of ['rb-one', 'rb-two']) await direct.createBucket(b);
  await direct.close();
  dir = tempDir('floodgate-rebuild-');
  port = await freePort();
  configPath = join(dir, 'gateway.yaml');
  writeFileSync(configPath, stringify({
    backends: ['rb-one', 'rb-two'].map((bucket) => ({ name: bucket, endpoint: minio.endpoint, bucket, credentials: plain(minio.credentials) })),
    virtualBuckets: [{ name: VB, backends: ['rb-one', 'rb-two'] }],
    index: { kind: 'sqlite', path: join(dir, 'data', 'index.db') },
    health: { interval: '500ms', recoveryInterval: '200ms', failureThreshold: 2, recoveryThreshold: 1, probeTimeout: '2s' },
    timeouts: { connect: '2s', firstByte: '10s', idle: '10s' },
  }));
});

after(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await minio?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The gateway as a pod runs it; not waited for (it may not become ready). */
function startGateway(): { proc: ChildProcess; exited: Promise<number | null>; logs: string[] } {
  const proc = spawn(process.execPath, [join(ROOT, 'main.ts'), 'gateway', '--config', configPath, '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data')], {
    env: { ...process.env, FLOODGATE_ACCESS_KEY: creds.accessKeyId, FLOODGATE_SECRET_KEY: creds.secretAccessKey, FLOODGATE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(proc);
  const logs: string[] = [];
  proc.stdout!.on('data', (d: Buffer) => logs.push(...d.toString().split('\n').filter(Boolean)));
  proc.stderr!.on('data', (d: Buffer) => logs.push(...d.toString().split('\n').filter(Boolean)));
  return { proc, logs, exited: new Promise((r) => proc.once('exit', (code) => r(code))) };
}

async function stopGateway(g: { proc: ChildProcess; exited: Promise<number | null> }): Promise<void> {
  g.proc.kill('SIGTERM');
  assert.equal(await g.exited, 0);
}

const url = () => `http://127.0.0.1:${port}`;
async function readyz(): Promise<number | undefined> {
  try {
    const r = await fetch(`${url()}/readyz`);
    await r.arrayBuffer();
    return r.status;
  } catch {
    return undefined; // not listening yet
  }
}

async function until(what: string, fn: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 100_000; i++) {
    if (await fn()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const client = () => new S3Client({ endpoint: url(), region: 'us-east-1', forcePathStyle: true, credentials: plain(creds), maxAttempts: 1 });

async function listAll(s3: S3Client): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  for (let i = 0; i < 100; i++) {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: VB, ContinuationToken: token, MaxKeys: 1000 }));
    keys.push(...(r.Contents ?? []).map((c) => c.Key!));
    if (!r.IsTruncated) return keys;
    token = r.NextContinuationToken;
  }
  throw new Error('listing did not end');
}

const written = Array.from({ length: COUNT }, (_, i) => `obj/${String(i).padStart(4, '0')}`);
const dropIndex = () => { for (const f of ['', '-wal', '-shm']) rmSync(join(dir, 'data', `index.db${f}`), { force: true }); };

test('objects written, the index file deleted, restart: never ready with a partial listing, then every object listed', async () => {
  let g = startGateway();
  await until('first start ready', async () => (await readyz()) === 200);
  const s3 = client();
  try {
    for (let i = 0; i < written.length; i += 20) {
      await Promise.all(written.slice(i, i + 20).map((Key) => s3.send(new PutObjectCommand({ Bucket: VB, Key, Body: Key }))));
    }
    assert.deepEqual(await listAll(s3), written);
    await stopGateway(g);

    dropIndex();
    g = startGateway();
    // Every look until ready: a listing is refused with 503, or — if the rebuild ended between
    // the two requests — complete. Never a short one.
    await until('ready after the rebuild', async () => {
      const code = await readyz();
      if (code === 200) return true;
      if (code === 503) {
        const keys = await listAll(s3).catch((e: any) => {
          assert.equal(e.$metadata?.httpStatusCode, 503, String(e));
          return undefined;
        });
        if (keys) assert.deepEqual(keys, written);
      }
      return false;
    });
    assert.deepEqual(await listAll(s3), written, 'every object listed once ready');
    assert.ok(g.logs.some((l) => l.includes('placement index older than its backends')), g.logs.join('\n'));
    await stopGateway(g);
  } finally {
    s3.destroy();
  }
});

test('the index lost while the backends are unreachable: /readyz stays 503 and S3 calls 503 until the rebuild can list them', async () => {
  dropIndex();
  await minio.stop();
  let g = startGateway();
  const s3 = client();
  try {
    await until('listening', async () => (await readyz()) !== undefined);
    // Several looks over a few seconds: still not ready, listings refused with 503.
    for (let i = 0; i < 5; i++) {
      assert.equal(await readyz(), 503);
      await assert.rejects(s3.send(new ListObjectsV2Command({ Bucket: VB })), (e: any) => {
        assert.equal(e.$metadata?.httpStatusCode, 503, String(e));
        assert.equal(e.name, 'ServiceUnavailable');
        return true;
      });
      await sleep(500);
    }
    assert.ok(g.logs.some((l) => l.includes('a backend cannot be listed')), g.logs.join('\n'));
    // Stopped while unready: the next start still rebuilds (a half-made index is never trusted).
    await stopGateway(g);
    g = startGateway();
    await until('listening again', async () => (await readyz()) !== undefined);
    assert.equal(await readyz(), 503);
    await minio.start();
    await until('ready once MinIO is back', async () => (await readyz()) === 200, 90_000);
    assert.deepEqual(await listAll(s3), written);
  } finally {
    s3.destroy();
    await stopGateway(g);
    if (!minio.running()) await minio.start();
  }
});

test('a restart with the index intact needs no rebuild', async () => {
  const g = startGateway();
  await until('ready', async () => (await readyz()) === 200);
  const s3 = client();
  try {
    assert.deepEqual(await listAll(s3), written);
    assert.ok(!g.logs.some((l) => l.includes('placement index older than its backends')), g.logs.join('\n'));
  } finally {
    s3.destroy();
    await stopGateway(g);
  }
});

test('an index restored from an older copy, gc every 100 ms: nothing is collected before the rebuild adopts the newer objects', async () => {
  // Objects written after the copy have no record in it: to a gc run before the rebuild they are
  // orphans. No background job may run until the index is current again.
  const withGc = (on: boolean) => writeFileSync(configPath, stringify({
    ...parse(readFileSync(configPath, 'utf8')), gc: on ? { interval: '100ms', minAge: '0s' } : undefined,
  }));
  const later = Array.from({ length: 100 }, (_, i) => `later/${String(i).padStart(4, '0')}`);
  let g = startGateway();
  await until('ready', async () => (await readyz()) === 200);
  const s3 = client();
  const saved = join(dir, 'index-copy');
  try {
    await stopGateway(g);
    mkdirSync(saved, { recursive: true });
    for (const f of ['', '-wal', '-shm']) if (existsSync(join(dir, 'data', `index.db${f}`))) copyFileSync(join(dir, 'data', `index.db${f}`), join(saved, `index.db${f}`));
    g = startGateway();
    await until('ready again', async () => (await readyz()) === 200);
    for (let i = 0; i < later.length; i += 20) {
      await Promise.all(later.slice(i, i + 20).map((Key) => s3.send(new PutObjectCommand({ Bucket: VB, Key, Body: Key }))));
    }
    await stopGateway(g);
    dropIndex();
    for (const f of ['', '-wal', '-shm']) if (existsSync(join(saved, `index.db${f}`))) copyFileSync(join(saved, `index.db${f}`), join(dir, 'data', `index.db${f}`));
    withGc(true);
    g = startGateway();
    await until('ready after the rebuild', async () => (await readyz()) === 200);
    // Several gc intervals once ready: every object is still listed and on its backend.
    await until('a gc run finished', async () => g.logs.some((l) => l.includes('"gc finished"')), 30_000);
    const direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
    try {
      const onBackends: string[] = [];
      for (const b of ['rb-one', 'rb-two']) onBackends.push(...(await direct.scan(b, { prefix: `${VB}/later/`, after: '', limit: 1000 })).map((m) => m.key.slice(VB.length + 1)));
      assert.deepEqual(onBackends.sort(), later, `no newer object collected\n${g.logs.filter((l) => /index|gc/.test(l)).join('\n')}`);
    } finally {
      await direct.close();
    }
    assert.deepEqual(await listAll(s3), [...later, ...written].sort());
    await stopGateway(g);
    // The newer objects are removed again, so the other tests see the set they wrote.
    withGc(false);
    g = startGateway();
    await until('ready without gc', async () => (await readyz()) === 200);
    for (const Key of later) await s3.send(new DeleteObjectCommand({ Bucket: VB, Key }));
    await stopGateway(g);
  } finally {
    s3.destroy();
    rmSync(saved, { recursive: true, force: true });
    if (g.proc.exitCode === null && g.proc.signalCode === null) await stopGateway(g);
  }
});

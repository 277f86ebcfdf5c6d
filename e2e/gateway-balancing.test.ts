// `floodgate gateway --config FILE` with backends and virtual buckets, as a real child process:
// three backends (two buckets on a real MinIO server, one embedded fs directory) behind one
// virtual bucket, driven by @aws-sdk/client-s3. Round trip and listing, buckets through S3 (configured,
// not created or deleted), /status, reload on a file
// edit (a backend added, the strategy changed) and on SIGHUP, redirect mode followed by the SDK,
// client checksums reaching MinIO, `floodgate gateway reindex`, and config errors naming the field.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import {
  CreateBucketCommand, DeleteBucketCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListBucketsCommand, ListObjectsV2Command,
  PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { startMinio, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store, type S3Store } from '../proxy/backends/s3/store.ts';
import type { StatusSnapshot } from '../proxy/health/status.ts';
import { newCredentials, ROOT, spawnGateway, tempDir, type SpawnedGateway } from './lib/gateway.ts';
import { bytes, s3Error } from './lib/s3.ts';
import { Readable } from 'node:stream';

const run = promisify(execFile);
const creds = newCredentials();
/** A copy: the AWS SDK adds fields to the credentials objects it is given. */
const plain = (c: { accessKeyId: string; secretAccessKey: string }) => ({ accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey });
const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
let minio: Minio;
let direct: S3Store;
let dir: string;

before(async () => {
  minio = await startMinio();
  direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  for (const b of ['fg-one', 'fg-two', 'fg-three']) await direct.createBucket(b);
  dir = tempDir('floodgate-gwbal-');
});

after(async () => {
  await direct?.close();
  await minio?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function config(name: string, opts: { extraBackend?: boolean; strategy?: string; redirect?: boolean } = {}) {
  const s3 = (n: string, bucket: string) => ({ name: n, endpoint: minio.endpoint, bucket, credentials: plain(minio.credentials) });
  const backends = [s3('minio-one', 'fg-one'), s3('minio-two', 'fg-two'), { name: 'local', kind: 'fs', path: join(dir, name, 'local') }];
  if (opts.extraBackend) backends.push(s3('minio-three', 'fg-three'));
  const virtualBuckets: object[] = [{ name, backends: backends.map((b) => b.name), strategy: opts.strategy ?? 'round-robin' }];
  if (opts.redirect) virtualBuckets.push({ name: `${name}-redir`, backends: ['minio-one', 'minio-two'], mode: 'redirect', redirectExpiry: '30s' });
  return {
    backends,
    virtualBuckets,
    health: { interval: '500ms', recoveryInterval: '200ms', failureThreshold: 2, recoveryThreshold: 1, probeTimeout: '2s' },
    timeouts: { connect: '2s', firstByte: '10s', idle: '10s' },
    credentials: [plain(creds)],
  };
}

function writeConfig(name: string, cfg: object): string {
  mkdirSync(join(dir, name), { recursive: true });
  const path = join(dir, name, 'gateway.yaml');
  writeFileSync(path, stringify(cfg));
  return path;
}

const client = (url: string) => new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: plain(creds), maxAttempts: 2 });
const status = async (url: string) => (await (await fetch(`${url}/status`)).json()) as StatusSnapshot;
const objects = (s: StatusSnapshot) => Object.fromEntries(s.backends.map((b) => [b.name, b.objects]));

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('floodgate gateway --config with three backends', () => {
  const vb = 'photos';
  let path: string;
  let gw: SpawnedGateway;
  let s3: S3Client;
  before(async () => {
    path = writeConfig(vb, config(vb, { redirect: true }));
    gw = await spawnGateway(join(dir, vb, 'data'), creds, ['--config', path]);
    s3 = client(gw.url);
  });
  after(async () => {
    s3?.destroy();
    await gw?.stop();
  });

  test('round trip and listing through the virtual bucket; /status shows the spread', async () => {
    const sums = new Map<string, string>();
    for (let i = 0; i < 30; i++) {
      const body = randomBytes(1000 + i * 97);
      const key = `set/${String(i).padStart(2, '0')}.bin`;
      await s3.send(new PutObjectCommand({ Bucket: vb, Key: key, Body: body }));
      sums.set(key, md5(body));
    }
    for (const [key, sum] of sums) assert.equal(md5(await bytes((await s3.send(new GetObjectCommand({ Bucket: vb, Key: key }))).Body)), sum, key);
    const keys: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 10; page++) {
      const r = await s3.send(new ListObjectsV2Command({ Bucket: vb, Prefix: 'set/', MaxKeys: 7, ContinuationToken: token }));
      keys.push(...(r.Contents ?? []).map((c) => c.Key!));
      if (!r.IsTruncated) break;
      token = r.NextContinuationToken;
    }
    assert.deepEqual(keys, [...sums.keys()].sort());

    const s = await status(gw.url);
    assert.equal(s.configGeneration, 1);
    assert.deepEqual(s.backends.map((b) => [b.name, b.kind, b.state]), [['minio-one', 's3', 'up'], ['minio-two', 's3', 'up'], ['local', 'fs', 'up']]);
    assert.deepEqual(objects(s), { 'minio-one': 10, 'minio-two': 10, local: 10 }, 'round-robin spreads 30 objects 10/10/10');
    assert.equal(s.backends[0]!.bucket, 'fg-one');
    const v = s.virtualBuckets.find((b) => b.name === vb)!;
    assert.deepEqual([v.strategy, v.mode, v.writable], ['round-robin', 'proxy', ['minio-one', 'minio-two', 'local']]);
    // What the backends hold, seen directly: keys namespaced under the virtual bucket.
    assert.equal((await direct.scan('fg-one', { prefix: `${vb}/set/`, after: '', limit: 100 })).length, 10);
    // Backend gauges on the gateway's /metrics.
    assert.match(await (await fetch(`${gw.url}/metrics`)).text(), /floodgate_backend_objects\{backend="local"\} 10/);
  });

  test('buckets through S3: CreateBucket of a configured name is BucketAlreadyOwnedByYou, of a new one AccessDenied saying where buckets are configured; DeleteBucket likewise', async () => {
    const err = (p: Promise<unknown>) => s3Error(p).then((e) => [e.$metadata.httpStatusCode, e.name, e.message]);
    assert.deepEqual((await err(s3.send(new CreateBucketCommand({ Bucket: vb })))).slice(0, 2), [409, 'BucketAlreadyOwnedByYou']);
    const [status, code, message] = await err(s3.send(new CreateBucketCommand({ Bucket: 'not-configured' })));
    assert.deepEqual([status, code], [403, 'AccessDenied']);
    assert.match(message as string, /not created through S3: add not-configured to virtualBuckets in the gateway's config file, or create a VirtualBucket resource/);
    // The naming rules come first, as for any bucket.
    assert.deepEqual((await err(s3.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })))).slice(0, 2), [400, 'InvalidBucketName']);
    const [dStatus, dCode, dMessage] = await err(s3.send(new DeleteBucketCommand({ Bucket: `${vb}-redir` })));
    assert.deepEqual([dStatus, dCode], [403, 'AccessDenied']);
    assert.match(dMessage as string, /remove photos-redir from virtualBuckets/);
    assert.deepEqual((await err(s3.send(new DeleteBucketCommand({ Bucket: 'not-configured' })))).slice(0, 2), [404, 'NoSuchBucket']);
    assert.deepEqual(((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name), [vb, `${vb}-redir`]);
    assert.equal((await s3Error(s3.send(new HeadBucketCommand({ Bucket: 'not-configured' })))).$metadata.httpStatusCode, 404);
  });

  test('client checksums, as headers (Buffer bodies) or aws-chunked trailers (stream bodies), are forwarded: MinIO stores and verifies them', async () => {
    const body = Buffer.from('checksummed through the gateway\n');
    const { crc32 } = await import('node:zlib');
    const value = Buffer.alloc(4);
    value.writeUInt32BE(crc32(body));
    // Three puts of each kind so copies land on both MinIO buckets; the fs backend does not report checksums back.
    for (const key of ['sum/a', 'sum/b', 'sum/c']) {
      await s3.send(new PutObjectCommand({ Bucket: vb, Key: key, Body: body, ChecksumCRC32: value.toString('base64') }));
      await s3.send(new PutObjectCommand({ Bucket: vb, Key: `${key}-stream`, Body: Readable.from([body]), ContentLength: body.length, ChecksumAlgorithm: 'CRC32' }));
    }
    let seen = 0; // stream (trailer) copies checked on MinIO; every header copy is checked too
    for (const bucket of ['fg-one', 'fg-two']) {
      for (const o of await direct.scan(bucket, { prefix: `${vb}/sum/`, after: '', limit: 10 })) {
        const r = await fetchHeadWithChecksum(bucket, o.key);
        assert.equal(r, value.toString('base64'), `${bucket}/${o.key} carries the client's CRC32`);
        if (o.key.endsWith('-stream')) seen++;
      }
    }
    assert.ok(seen >= 1, 'at least one trailer-checksummed copy on MinIO');
  });

  async function fetchHeadWithChecksum(bucket: string, key: string): Promise<string | undefined> {
    const c = new S3Client({ endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: plain(minio.credentials) });
    try {
      return (await c.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }))).ChecksumCRC32;
    } finally {
      c.destroy();
    }
  }

  test('redirect mode: GET answers 307 to a presigned MinIO URL, which fetch follows', async () => {
    const rb = `${vb}-redir`;
    const body = randomBytes(50_000);
    await s3.send(new PutObjectCommand({ Bucket: rb, Key: 'r/obj.bin', Body: body }));
    const url = await import('@aws-sdk/s3-request-presigner').then(({ getSignedUrl }) => getSignedUrl(s3, new GetObjectCommand({ Bucket: rb, Key: 'r/obj.bin' }), { expiresIn: 60 }));
    const manual = await fetch(url, { redirect: 'manual' });
    assert.equal(manual.status, 307);
    const location = new URL(manual.headers.get('location')!);
    assert.equal(location.origin, minio.endpoint);
    assert.match(location.pathname, /^\/fg-(one|two)\/photos-redir\/r\/obj\.bin$/);
    assert.match(location.search, /X-Amz-Expires=30/);
    assert.ok(Buffer.from(await (await fetch(url)).arrayBuffer()).equals(body), 'fetch follows the redirect');
    const headUrl = await import('@aws-sdk/s3-request-presigner').then(({ getSignedUrl }) => getSignedUrl(s3, new HeadObjectCommand({ Bucket: rb, Key: 'r/obj.bin' }), { expiresIn: 60 }));
    const head = await fetch(headUrl, { method: 'HEAD', redirect: 'manual' });
    assert.equal(head.status, 307, 'HEAD redirects too');
    const followed = await fetch(head.headers.get('location')!, { method: 'HEAD' });
    assert.equal(followed.status, 200, 'the presigned HEAD URL is valid on MinIO');
    assert.equal(followed.headers.get('content-length'), String(body.length));
    // PUT and listings stay proxied.
    assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: rb }))).KeyCount, 1);
    // The JS SDK does not follow a 307 on GetObject (its HTTP handler never follows redirects):
    // it surfaces the status. Redirect mode is for clients that follow (browsers, curl -L, fetch).
    const e = await s3.send(new GetObjectCommand({ Bucket: rb, Key: 'r/obj.bin' })).then(() => undefined, (err: { $metadata?: { httpStatusCode?: number } }) => err);
    assert.equal(e?.$metadata?.httpStatusCode, 307);
  });

  test('reload: editing the file adds a backend and switches the strategy; SIGHUP reloads too', async () => {
    // Under round-robin an overwrite moves the key to the next backend.
    const moves = async (key: string): Promise<number> => {
      let moved = 0;
      let before = objects(await status(gw.url));
      await s3.send(new PutObjectCommand({ Bucket: vb, Key: key, Body: 'v0' }));
      for (let i = 1; i <= 3; i++) {
        before = objects(await status(gw.url));
        await s3.send(new PutObjectCommand({ Bucket: vb, Key: key, Body: `v${i}` }));
        const now = objects(await status(gw.url));
        if (JSON.stringify(now) !== JSON.stringify(before)) moved++;
      }
      return moved;
    };
    assert.equal(await moves('rr/key'), 3, 'round-robin: every overwrite lands elsewhere');

    writeFileSync(path, stringify(config(vb, { redirect: true, extraBackend: true, strategy: 'rendezvous' })));
    const s = await until('the reload', async () => {
      const s = await status(gw.url);
      return s.configGeneration >= 2 ? s : undefined;
    });
    assert.deepEqual(s.backends.map((b) => b.name), ['minio-one', 'minio-two', 'local', 'minio-three']);
    assert.equal(s.virtualBuckets.find((b) => b.name === vb)!.strategy, 'rendezvous');
    // The switch queued a rebalance (the keys were placed by turn, not by score): let it finish,
    // so the moves counted next are the overwrites' own. Two looks 300 ms apart: none queued or
    // running, and no backend's count changed in between.
    let last = '';
    await until('the rebalance queued by the switch to rendezvous', async () => {
      await new Promise((r) => setTimeout(r, 300));
      const now = await status(gw.url);
      const idle = !now.virtualBuckets.find((b) => b.name === vb)!.rebalance;
      const seen = JSON.stringify(objects(now));
      const settled = idle && seen === last;
      last = idle ? seen : '';
      return settled ? true : undefined;
    }, 60_000);
    assert.equal(await moves('hash/key'), 0, 'rendezvous: overwrites stay on the key\'s backend');
    // The new backend takes writes: 40 new keys hashed over four backends reach all of them.
    for (let i = 0; i < 40; i++) await s3.send(new PutObjectCommand({ Bucket: vb, Key: `spread/${i}`, Body: String(i) }));
    assert.ok((await direct.scan('fg-three', { prefix: `${vb}/spread/`, after: '', limit: 100 })).length > 0, 'minio-three holds some keys');

    const gen = (await status(gw.url)).configGeneration;
    gw.proc.kill('SIGHUP');
    await until('the SIGHUP reload', async () => ((await status(gw.url)).configGeneration > gen ? true : undefined));
    // Still serving after both reloads.
    assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: vb, Key: 'hash/key' }))).Body!.transformToString(), 'v3');

    // A broken edit is refused and the running configuration stays.
    writeFileSync(path, 'backends: []\n');
    await new Promise((r) => setTimeout(r, 1000));
    const after = await status(gw.url);
    assert.equal(after.backends.length, 4);
    assert.equal(gw.proc.exitCode, null);
  });
});

test('floodgate gateway reindex: objects written behind the gateway are indexed', async () => {
  const vb = 'reidx';
  const path = writeConfig(vb, config(vb));
  const data = join(dir, vb, 'data');
  const gw = await spawnGateway(data, creds, ['--config', path]);
  const s3 = client(gw.url);
  try {
    await s3.send(new PutObjectCommand({ Bucket: vb, Key: 'known', Body: 'via gateway' }));
  } finally {
    s3.destroy();
    await gw.stop();
  }
  await direct.putObject('fg-two', `${vb}/behind/one`, { body: Readable.from([Buffer.from('behind')]), size: 6, headers: { userMeta: {} }, checksums: {} });
  const { stdout } = await run(process.execPath, [join(ROOT, 'main.ts'), 'gateway', 'reindex', '--config', path, '--data-dir', data], { timeout: 60_000 });
  assert.match(stdout, /reindex: 1 virtual buckets, 2 objects scanned: 1 added, 0 updated, 0 removed/);
  const again = await spawnGateway(data, creds, ['--config', path]);
  const s3b = client(again.url);
  try {
    const keys = (await s3b.send(new ListObjectsV2Command({ Bucket: vb }))).Contents?.map((c) => c.Key);
    assert.deepEqual(keys, ['behind/one', 'known']);
  } finally {
    s3b.destroy();
    await again.stop();
  }
});

test('a bad config file: the error names the field and the process exits non-zero', async () => {
  const cases: [object, RegExp][] = [
    [{ ...config('bad'), virtualBuckets: [{ name: 'bad', backends: ['minio-one'], strategy: 'fastest' }] }, /virtualBuckets\.0\.strategy: Invalid option/],
    [{ ...config('bad'), virtualBuckets: [{ name: 'bad', backends: ['minio-nine'] }] }, /virtualBuckets\.0\.backends\.0: no backend named "minio-nine"/],
    [{ ...config('bad'), bakends: [] }, /\(root\): unknown field "bakends"/],
    [{ ...config('bad'), faults: { token: 'short' } }, /faults\.token: Too small/],
  ];
  for (const [cfg, want] of cases) {
    const path = writeConfig('bad', cfg);
    const r = await run(process.execPath, [join(ROOT, 'main.ts'), 'gateway', '--config', path, '--data-dir', join(dir, 'bad', 'data'), '--listen', '127.0.0.1:0'], { timeout: 30_000 })
      .then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    assert.equal(r.code, 2, `exit code for ${want}`);
    assert.match(r.stderr, want);
    assert.match(r.stderr, /^floodgate gateway: .*gateway\.yaml: /m);
  }
});

// Every path where the gateway abandons a backend response body, against a balancing gateway over
// real MinIO: the process must keep serving afterwards (an unhandled undici body error would end
// this test process), and a client that stops reading is not an internal error.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { CopyObjectCommand, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCopyCommand, AbortMultipartUploadCommand, HeadObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { startMinio, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store, type S3Store } from '../proxy/backends/s3/store.ts';
import { openVirtualStore, parseBalancingConfig } from '../proxy/virtual/index.ts';
import { openRequest, objectPath } from './lib/raw-s3.ts';
import { startTestGateway, tempDir, type TestGateway } from './lib/gateway.ts';
import { bytes, s3Error } from './lib/s3.ts';

let minio: Minio;
let direct: S3Store;
let gw: TestGateway;
let dir: string;
// In the gateway's own process an unhandled body error ends it; the test runner only reports
// such errors, so they are collected here and every check below requires none.
const uncaught: unknown[] = [];
process.on('uncaughtException', (e) => { uncaught.push(e); });

before(async () => {
  minio = await startMinio();
  direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  for (const b of ['ab-one', 'ab-two']) await direct.createBucket(b);
  dir = tempDir('floodgate-abandon-');
  const store = await openVirtualStore(parseBalancingConfig({
    backends: ['ab-one', 'ab-two'].map((bucket) => ({ name: bucket, endpoint: minio.endpoint, bucket, credentials: minio.credentials })),
    virtualBuckets: [{ name: 'vbk', backends: ['ab-one', 'ab-two'] }],
    index: { kind: 'sqlite', path: join(dir, 'index.db') },
  }));
  gw = await startTestGateway({ store });
});

after(async () => {
  await gw?.close();
  await direct?.close();
  await minio?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function stillServing(): Promise<void> {
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(uncaught.map(String), []);
  const c = gw.client();
  await c.send(new PutObjectCommand({ Bucket: 'vbk', Key: 'alive', Body: 'yes' }));
  assert.equal((await bytes((await c.send(new GetObjectCommand({ Bucket: 'vbk', Key: 'alive' }))).Body)).toString(), 'yes');
}

test('UploadPartCopy with a copy-source-range past the end of a small source answers InvalidArgument and the gateway lives', async () => {
  const c = gw.client();
  for (const size of [5, 1024, 32 * 1024]) {
    const key = `small-${size}`;
    await c.send(new PutObjectCommand({ Bucket: 'vbk', Key: key, Body: randomBytes(size) }));
    const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: 'vbk', Key: `mp-${size}` }));
    const e = await s3Error(c.send(new UploadPartCopyCommand({
      Bucket: 'vbk', Key: `mp-${size}`, UploadId, PartNumber: 1, CopySource: `vbk/${key}`, CopySourceRange: `bytes=0-${size * 2}`,
    })));
    assert.equal(e.name, 'InvalidArgument');
    // A range starting past the end is refused too.
    const e2 = await s3Error(c.send(new UploadPartCopyCommand({
      Bucket: 'vbk', Key: `mp-${size}`, UploadId, PartNumber: 1, CopySource: `vbk/${key}`, CopySourceRange: `bytes=${size + 10}-${size + 20}`,
    })));
    assert.equal(e2.name, 'InvalidArgument');
    await c.send(new AbortMultipartUploadCommand({ Bucket: 'vbk', Key: `mp-${size}`, UploadId }));
    await stillServing();
  }
});

test('UploadPartCopy into an unknown upload releases the source body and the gateway lives', async () => {
  const c = gw.client();
  await c.send(new PutObjectCommand({ Bucket: 'vbk', Key: 'src', Body: randomBytes(64 * 1024) }));
  const e = await s3Error(c.send(new UploadPartCopyCommand({ Bucket: 'vbk', Key: 'nope', UploadId: 'bogus', PartNumber: 1, CopySource: 'vbk/src' })));
  assert.ok(['NoSuchUpload', 'InvalidArgument'].includes(e.name ?? ''), e.name);
  await stillServing();
  // A copy whose write is refused after the source was opened (a target bucket that does not
  // exist, a copy-source condition that fails) releases the source too.
  assert.equal((await s3Error(c.send(new CopyObjectCommand({ Bucket: 'no-such-vb', Key: 'x', CopySource: 'vbk/src' })))).name, 'NoSuchBucket');
  assert.equal((await s3Error(c.send(new CopyObjectCommand({ Bucket: 'vbk', Key: 'copy', CopySource: 'vbk/src', CopySourceIfMatch: '"0000"' })))).name, 'PreconditionFailed');
  await stillServing();
});

test('HEAD with a Range, and a GET the client stops reading, leave the gateway serving and log no internal error', async () => {
  const c = gw.client();
  const big = randomBytes(8 * 1024 * 1024);
  await c.send(new PutObjectCommand({ Bucket: 'vbk', Key: 'big', Body: big }));
  const h = await c.send(new HeadObjectCommand({ Bucket: 'vbk', Key: 'big', Range: 'bytes=0-9' }));
  assert.equal(h.ContentLength, 10);
  for (let i = 0; i < 3; i++) {
    const res = await openRequest(gw.url, { method: 'GET', path: objectPath('vbk', 'big'), creds: gw.creds });
    assert.equal(res.statusCode, 200);
    await new Promise<void>((r) => res.once('data', () => r()));
    res.destroy();
  }
  await stillServing();
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(gw.logs.filter((l) => /internal error/.test(l)), []);
});

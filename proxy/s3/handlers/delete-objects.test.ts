// DeleteObjects deletes the keys of one request a few at a time (a remote backend answering each
// delete in tens of milliseconds made 1000 keys outlast the client's timeout), and still answers
// every key in request order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startGateway } from '../../server.ts';
import { openFsStore } from '../../store/fs/index.ts';
import { createLogger } from '../../observability/log.ts';
import { DELETE_CONCURRENCY } from './objects.ts';
import type { ObjectStore } from '../../store/types.ts';

test('DeleteObjects runs several deletes at once, answers in request order, and reports per-key errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-delobjs-'));
  const fs = await openFsStore(dir, { fsync: false });
  let inFlight = 0;
  let peak = 0;
  // The real store, observed: how many deletes are running when each one starts.
  const store: ObjectStore = Object.assign(Object.create(fs) as ObjectStore, {
    async deleteObject(bucket: string, key: string) {
      peak = Math.max(peak, ++inFlight);
      try {
        await new Promise((r) => setTimeout(r, 5));
        return await fs.deleteObject(bucket, key);
      } finally {
        inFlight--;
      }
    },
  });
  const creds = { accessKeyId: 'AKDELOBJS', secretAccessKey: 'delete-objects-secret' };
  const gw = await startGateway({
    store, keys: (id) => (id === creds.accessKeyId ? creds.secretAccessKey : undefined), host: '127.0.0.1', port: 0,
    domains: ['localhost'], region: 'us-east-1', idleTimeoutMs: 5000, logger: createLogger('error', () => {}),
  });
  const s3 = new S3Client({ endpoint: gw.url, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1 });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: 'dels' }));
    const keys = Array.from({ length: 60 }, (_, i) => `k/${String(i).padStart(3, '0')}`);
    for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: 'dels', Key: k, Body: k }));
    await s3.send(new PutObjectCommand({ Bucket: 'dels', Key: 'kept', Body: 'x' }));
    const asked = [...keys.slice(0, 30), 'k/../bad', ...keys.slice(30), keys[0]!];
    const r = await s3.send(new DeleteObjectsCommand({ Bucket: 'dels', Delete: { Objects: asked.map((Key) => ({ Key })) } }));
    assert.deepEqual(r.Deleted?.map((d) => d.Key), asked.filter((k) => k !== 'k/../bad'));
    assert.deepEqual(r.Errors?.map((e) => [e.Key, e.Code]), [['k/../bad', 'InvalidArgument']]);
    assert.ok(peak > 1 && peak <= DELETE_CONCURRENCY, `peak concurrency ${peak}`);
    const left = await s3.send(new ListObjectsV2Command({ Bucket: 'dels' }));
    assert.deepEqual(left.Contents?.map((c) => c.Key), ['kept']);
  } finally {
    s3.destroy();
    await gw.close();
    await fs.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

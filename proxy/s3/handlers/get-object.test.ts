// A large GetObject from the embedded store whose client stops reading and then leaves: the
// gateway's write was still queued, so it fails with ECANCELED rather than a reset — the client
// gone, not an internal error (it was logged and counted as one), and the blob's fd is closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startGateway } from '../../server.ts';
import { openFsStore } from '../../store/fs/index.ts';
import { openFdsUnder, until } from '../../store/fs/fds.fixture.ts';
import { createLogger } from '../../observability/log.ts';

const MiB = 1024 * 1024;


test('a client that stops reading a GET and then leaves is the client gone, not an internal error; the blob fd is closed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-get-gone-'));
  const store = await openFsStore(dir, { fsync: false });
  const lines: { level: string; msg: string; errorCode?: string }[] = [];
  const creds = { accessKeyId: 'AKGETGONE', secretAccessKey: 'get-gone-secret' };
  const gw = await startGateway({
    store, keys: (id) => (id === creds.accessKeyId ? creds.secretAccessKey : undefined), host: '127.0.0.1', port: 0,
    domains: ['localhost'], region: 'us-east-1', idleTimeoutMs: 30_000,
    logger: createLogger('info', (line) => { lines.push(JSON.parse(line) as (typeof lines)[number]); }),
  });
  const s3 = new S3Client({ endpoint: gw.url, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1 });
  const blobs = join(dir, '.floodgate', 'store', 'blobs');
  try {
    await s3.send(new CreateBucketCommand({ Bucket: 'gone' }));
    await s3.send(new PutObjectCommand({ Bucket: 'gone', Key: 'big', Body: randomBytes(64 * MiB) }));
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'gone', Key: 'big' }), { expiresIn: 300 });
    const res = await new Promise<IncomingMessage>((resolve, reject) => get(url, { agent: false }, resolve).once('error', reject));
    assert.equal(res.statusCode, 200);
    res.pause();
    // Held back: nothing more arrives for 500 ms, so the gateway's next write is queued.
    let last = -1;
    for (let still = 0, deadline = Date.now() + 20_000; still < 5 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      const now = res.socket.bytesRead;
      still = now === last ? still + 1 : 0;
      last = now;
    }
    assert.ok(last < 64 * MiB, `${last} bytes arrived at a client that reads nothing`);
    assert.equal(openFdsUnder(blobs), 1, 'the GET holds its blob open');
    res.destroy();
    // The handler is done once its body is closed (its catch runs before the close completes).
    await until('the blob fd is closed once the client is gone', () => openFdsUnder(blobs) === 0);
    await until('the request is logged', () => lines.some((l) => l.msg === 'request'));
    assert.deepEqual(lines.filter((l) => l.level === 'error'), []);
    assert.equal(lines.find((l) => l.msg === 'request')?.errorCode, undefined);
  } finally {
    s3.destroy();
    await gw.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// Each S3 fault as an application sees it: @aws-sdk/client-s3 talking to the sidecar, which sits
// in front of a real S3 server (MinIO when built, else the Floodgate gateway).
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand,
  PutObjectCommand, S3ServiceException, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { startHarness, type Harness } from '../injector/testing/harness.ts';
import { bytes, sha } from './lib/s3.ts';

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; $metadata?: { attempts?: number; httpStatusCode?: number } }> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  assert.fail('expected the request to fail');
}

describe('S3 faults through the sidecar, seen by @aws-sdk/client-s3', () => {
  let h: Harness;
  const bucket = 'faults';
  const data = randomBytes(256 * 1024);
  before(async () => {
    h = await startHarness();
    const s3 = h.client();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'obj', Body: data }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'small', Body: 'hello' }));
  });
  afterEach(async () => { await h.api('DELETE', '/_floodgate/faults'); });
  after(() => h.close());

  test('SlowDown on the first 2 GETs: the SDK retries and then succeeds', async () => {
    const f = await h.inject({ kind: 'error', code: 'SlowDown', status: 503, retryAfter: 1, match: { operations: ['GetObject'] }, trigger: { firstN: 2 } });
    const got = await h.client().send(new GetObjectCommand({ Bucket: bucket, Key: 'obj' }));
    assert.equal(sha(await bytes(got.Body)), sha(data));
    assert.equal(got.$metadata.attempts, 3);
    const ledger = await h.api('GET', `/_floodgate/faults/ledger?faultId=${f.id}`);
    assert.deepEqual(ledger.body.entries.map((e: { decision: string }) => e.decision), ['fired', 'fired', 'skipped']);
  });

  test('an InternalError on a PUT whose body was never read: the SDK retries the upload and it lands', async () => {
    await h.inject({ kind: 'error', code: 'InternalError', status: 500, match: { operations: ['PutObject'] }, trigger: { firstN: 1 } });
    const big = randomBytes(3 * 1024 * 1024 + 1);
    const s3 = h.client();
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'retried-put', Body: big }));
    assert.equal(put.$metadata.attempts, 2);
    const got = await h.direct().send(new GetObjectCommand({ Bucket: bucket, Key: 'retried-put' }));
    assert.equal(sha(await bytes(got.Body)), sha(big));
    // The connection is still usable for the next request.
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'retried-put' }));
  });

  test('a SlowDown that does not stop exhausts the retries with the S3 error and Retry-After', async () => {
    await h.inject({ kind: 'error', code: 'SlowDown', status: 503, retryAfter: 2, match: { keyPrefix: 'sm' } });
    const e = await rejection(h.client({ maxAttempts: 2 }).send(new GetObjectCommand({ Bucket: bucket, Key: 'small' })));
    assert.ok(e instanceof S3ServiceException);
    assert.equal(e.name, 'SlowDown');
    assert.equal(e.message, 'Please reduce your request rate.');
    assert.equal(e.$metadata.httpStatusCode, 503);
    assert.equal(e.$metadata.attempts, 2);
    const raw = await fetch(`${h.sidecar.url}/${bucket}/small`);
    assert.equal(raw.headers.get('retry-after'), '2');
    assert.match(raw.headers.get('x-amz-request-id') ?? '', /^[0-9A-F]{16}$/);
    assert.match(await raw.text(), /<Code>SlowDown<\/Code>.*<RequestId>[0-9A-F]{16}<\/RequestId>/s);
    // Other keys are not matched.
    await h.client().send(new HeadObjectCommand({ Bucket: bucket, Key: 'obj' }));
  });

  test('HEAD gets the error status without a body; any code can be injected', async () => {
    await h.inject({ kind: 'error', code: 'AccessDenied', status: 403, match: { methods: ['HEAD'] } });
    const e = await rejection(h.client().send(new HeadObjectCommand({ Bucket: bucket, Key: 'obj' })));
    assert.equal(e.$metadata?.httpStatusCode, 403);
    await h.api('DELETE', '/_floodgate/faults');
    await h.inject({ kind: 'error', code: 'TotallyCustom', status: 418, message: 'I am a teapot' });
    const c = await rejection(h.client().send(new GetObjectCommand({ Bucket: bucket, Key: 'obj' })));
    assert.equal(c.name, 'TotallyCustom');
    assert.equal(c.message, 'I am a teapot');
  });

  test('corrupted bytes with the stored checksums kept fail the SDK checksum validation', async () => {
    await h.inject({ kind: 'corrupt', bytes: 3, match: { operations: ['GetObject'] } });
    const got = await h.client().send(new GetObjectCommand({ Bucket: bucket, Key: 'obj', ChecksumMode: 'ENABLED' }));
    const e = await rejection(bytes(got.Body));
    assert.match(e.message, /Checksum mismatch/i);
  });

  test('corrupted bytes with recomputed checksums pass validation: silent corruption', async () => {
    await h.inject({ kind: 'corrupt', bytes: 3, recomputeChecksums: true, trigger: { seed: 5 } });
    const got = await h.client().send(new GetObjectCommand({ Bucket: bucket, Key: 'obj', ChecksumMode: 'ENABLED' }));
    assert.ok(got.ChecksumCRC32 ?? got.ChecksumCRC64NVME ?? got.ChecksumCRC32C, 'the upstream returned a CRC checksum');
    const body = await bytes(got.Body);
    assert.equal(body.length, data.length);
    let diff = 0;
    for (let i = 0; i < body.length; i++) if (body[i] !== data[i]) diff++;
    assert.equal(diff, 3);
  });

  test('a truncated body raises an error instead of returning short data', async () => {
    await h.inject({ kind: 'truncate', fraction: 0.5 });
    const got = await h.client().send(new GetObjectCommand({ Bucket: bucket, Key: 'obj' }));
    assert.equal(got.ContentLength, data.length);
    const e = await rejection(bytes(got.Body));
    assert.ok(e instanceof Error);
  });

  test('latency before the first byte is measured at the client', async () => {
    await h.inject({ kind: 'latency', ms: 400, match: { operations: ['HeadObject'] } });
    const s3 = h.client();
    await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'small' })); // warm the connection
    const t0 = performance.now();
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'small' }));
    const took = performance.now() - t0;
    assert.ok(took >= 395 && took < 2400, `took ${took} ms`);
  });

  test('a reset before headers is a network error on every attempt; mid-body it breaks the body', async () => {
    await h.inject({ kind: 'reset', when: 'before-headers', match: { operations: ['HeadObject'] } });
    const e = await rejection(h.client({ maxAttempts: 2 }).send(new HeadObjectCommand({ Bucket: bucket, Key: 'small' })));
    assert.ok(!(e instanceof S3ServiceException), `got ${e.name}`);
    assert.match(`${e.code} ${e.message}`, /ECONNRESET|socket hang up/);
    await h.inject({ kind: 'reset', when: 'mid-body', afterBytes: 1000, match: { operations: ['GetObject'] } });
    const got = await h.client().send(new GetObjectCommand({ Bucket: bucket, Key: 'obj' }));
    await rejection(bytes(got.Body));
  });

  test('probability: within statistical bounds, and the same seed gives the same decisions', async () => {
    const s3 = h.client({ maxAttempts: 1 });
    const run = async (seed: number) => {
      const f = await h.inject({ kind: 'error', code: 'InternalError', status: 500, trigger: { probability: 0.3, seed }, match: { operations: ['HeadObject'] } });
      const out: number[] = [];
      for (let i = 0; i < 200; i++) out.push(await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'small' })).then(() => 0, () => 1));
      await h.api('DELETE', `/_floodgate/faults/${f.id}`);
      return out;
    };
    const a = await run(1234);
    const hits = a.reduce((s, x) => s + x, 0);
    // Binomial(200, 0.3): mean 60, sd 6.5; ±4.5 sd.
    assert.ok(hits >= 31 && hits <= 89, `hits=${hits}`);
    assert.deepEqual(await run(1234), a);
  });

  test('200 with an error body on CompleteMultipartUpload is an error to the SDK', async () => {
    const s3 = h.client();
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp200' }));
    const p = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp200', UploadId, PartNumber: 1, Body: 'part' }));
    await h.inject({ kind: 'error200', code: 'InternalError', match: { operations: ['CompleteMultipartUpload'] }, trigger: { firstN: 5 } });
    const e = await rejection(s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mp200', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p.ETag }] } })));
    assert.equal(e.name, 'InternalError');
  });

  test('stall: the client gives up on its own timeout; after the fault expires requests flow again', async () => {
    await h.inject({ kind: 'stall', duration: '1500ms', match: { operations: ['HeadObject'] } });
    const s3 = h.client({ maxAttempts: 1, requestHandler: { requestTimeout: 300, throwOnRequestTimeout: true } });
    const e = await rejection(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'small' })));
    assert.match(`${e.name} ${e.message}`, /Timeout/i);
    await new Promise((r) => setTimeout(r, 1600));
    await h.client().send(new HeadObjectCommand({ Bucket: bucket, Key: 'small' }));
  });

  test('bandwidth cap slows the body to about the rate', async () => {
    await h.inject({ kind: 'bandwidth', bytesPerSecond: '512Ki', match: { operations: ['GetObject'] } });
    const t0 = performance.now();
    const got = await h.client().send(new GetObjectCommand({ Bucket: bucket, Key: 'obj' }));
    assert.equal(sha(await bytes(got.Body)), sha(data));
    const took = performance.now() - t0;
    // 256 KiB at 512 KiB/s: at least ~0.4 s (the first slice leaves at once).
    assert.ok(took >= 400, `took ${took} ms`);
  });

  test('service down answers 503 ServiceUnavailable, or resets every connection', async () => {
    await h.inject({ kind: 'serviceDown', mode: 503 });
    const e = await rejection(h.client({ maxAttempts: 1 }).send(new GetObjectCommand({ Bucket: bucket, Key: 'small' })));
    assert.equal(e.name, 'ServiceUnavailable');
    await h.api('DELETE', '/_floodgate/faults');
    await h.inject({ kind: 'serviceDown', mode: 'reset' });
    const r = await rejection(h.client({ maxAttempts: 1 }).send(new GetObjectCommand({ Bucket: bucket, Key: 'small' })));
    assert.ok(!(r instanceof S3ServiceException));
  });

  test('faults match per request on one keep-alive connection, not per connection', async () => {
    await h.inject({ kind: 'error', code: 'SlowDown', status: 503, trigger: { everyNth: 2 }, match: { operations: ['HeadObject'] } });
    const s3 = h.client({ maxAttempts: 1 });
    const out: number[] = [];
    for (let i = 0; i < 6; i++) out.push(await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'small' })).then(() => 0, () => 1));
    assert.deepEqual(out, [0, 1, 0, 1, 0, 1]);
  });
});

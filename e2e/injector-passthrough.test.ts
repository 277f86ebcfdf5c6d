// The sidecar with no active fault: the app's S3 traffic passes through untouched, signatures
// intact, bodies streamed both ways.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand,
  DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3ServiceException, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startHarness, type Harness } from '../injector/testing/harness.ts';
import { MiB, bytes, sha } from './lib/s3.ts';

describe('sidecar pass-through (no active fault)', () => {
  let h: Harness;
  const bucket = 'passthrough';
  before(async () => {
    h = await startHarness();
    await h.client().send(new CreateBucketCommand({ Bucket: bucket }));
  });
  after(() => h.close());

  test('PUT from a Buffer and GET back byte-identical, with the upstream ETag', async () => {
    const s3 = h.client();
    const data = randomBytes(3 * MiB + 17);
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/buf.bin', Body: data }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/buf.bin' }));
    assert.equal(sha(await bytes(got.Body)), sha(data));
    assert.equal(got.ETag, put.ETag);
    const direct = await h.direct().send(new HeadObjectCommand({ Bucket: bucket, Key: 'dir/buf.bin' }));
    assert.equal(direct.ETag, put.ETag);
    assert.equal(direct.ContentLength, data.length);
  });

  test('PUT from a stream of known length, and a ranged GET', async () => {
    const s3 = h.client();
    const data = randomBytes(2 * MiB);
    const body = Readable.from((function* () { for (let o = 0; o < data.length; o += 64 * 1024) yield data.subarray(o, o + 64 * 1024); })());
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'stream.bin', Body: body, ContentLength: data.length }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'stream.bin', Range: 'bytes=100-199' }));
    assert.deepEqual(await bytes(got.Body), data.subarray(100, 200));
    assert.equal(got.$metadata.httpStatusCode, 206);
  });

  test('list, copy, head, delete and S3 errors come back as the upstream sent them', async () => {
    const s3 = h.client();
    for (const k of ['l/a', 'l/b', 'l/c/d']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: k }));
    const list = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'l/', Delimiter: '/' }));
    assert.deepEqual(list.Contents?.map((c) => c.Key), ['l/a', 'l/b']);
    assert.deepEqual(list.CommonPrefixes?.map((p) => p.Prefix), ['l/c/']);
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'l/copy', CopySource: `${bucket}/l/a` }));
    assert.equal((await bytes((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'l/copy' }))).Body)).toString(), 'l/a');
    const del = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'l/a' }, { Key: 'l/b' }] } }));
    assert.equal(del.Deleted?.length, 2);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'l/copy' }));
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'l/a' })), (e: unknown) => e instanceof S3ServiceException && e.name === 'NoSuchKey');
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'l/a' })), (e: unknown) => e instanceof S3ServiceException && e.$metadata.httpStatusCode === 404);
  });

  test('multipart upload, by hand and through lib-storage', async () => {
    const s3 = h.client();
    const part1 = randomBytes(5 * MiB);
    const part2 = randomBytes(1 * MiB);
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp/manual' }));
    const p1 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp/manual', UploadId, PartNumber: 1, Body: part1 }));
    const p2 = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'mp/manual', UploadId, PartNumber: 2, Body: part2 }));
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'mp/manual', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }, { PartNumber: 2, ETag: p2.ETag }] } }));
    const got = await bytes((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp/manual' }))).Body);
    assert.equal(sha(got), sha(Buffer.concat([part1, part2])));

    const big = randomBytes(12 * MiB + 3);
    await new Upload({ client: s3, params: { Bucket: bucket, Key: 'mp/lib', Body: Readable.from([big]) }, partSize: 5 * MiB, queueSize: 3 }).done();
    assert.equal(sha(await bytes((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'mp/lib' }))).Body)), sha(big));
  });

  test('presigned PUT and GET URLs signed for the sidecar work through it', async () => {
    const s3 = h.client();
    const data = randomBytes(100_000);
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: 'presigned' }), { expiresIn: 300 });
    assert.ok(putUrl.startsWith(h.sidecar.url));
    assert.equal((await fetch(putUrl, { method: 'PUT', body: data })).status, 200);
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'presigned' }), { expiresIn: 300 });
    const r = await fetch(getUrl);
    assert.equal(r.status, 200);
    assert.equal(sha(Buffer.from(await r.arrayBuffer())), sha(data));
  });

  test('clients that vanish mid-upload or mid-download do not disturb the sidecar', async () => {
    const { connect } = await import('node:net');
    const port = Number(new URL(h.sidecar.url).port);
    const sock = connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write(`PUT /${bucket}/half HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: 1000000\r\n\r\n` + 'x'.repeat(1000));
    await new Promise((r) => setTimeout(r, 50));
    sock.destroy();
    const s3 = h.client();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'big-dl', Body: randomBytes(8 * MiB) }));
    const ac = new AbortController();
    const r = await fetch(await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: 'big-dl' })), { signal: ac.signal });
    const reader = r.body!.getReader();
    await reader.read();
    ac.abort();
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'half' })));
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big-dl' }))).ContentLength, 8 * MiB);
  });

  test('an unreachable upstream is a 502 S3 error, not a hang', async () => {
    const { startSidecar } = await import('../injector/sidecar.ts');
    const dead = await startSidecar({ host: '127.0.0.1', port: 0, upstream: 'http://127.0.0.1:1', token: 'passthrough-token' });
    try {
      const r = await fetch(`${dead.url}/b/k`);
      assert.equal(r.status, 502);
      assert.match(await r.text(), /<Code>BadGateway<\/Code>/);
    } finally {
      await dead.close();
    }
  });
});

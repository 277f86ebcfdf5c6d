// FULL_OBJECT multipart checksums (CRC32, CRC32C, CRC64NVME over every byte of the object, made
// from the part CRCs at Complete) with the clients that ask for them: the JS SDK (lib-storage and
// the low-level commands; its GetObject checks the CRC of the body it reads) and boto3
// (s3transfer's upload_file with the file's CRC32, the low-level calls), against the embedded
// store and against a virtual bucket over a real MinIO (whose backend never sees the algorithm).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand,
  ListPartsCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createDigest } from '../proxy/auth/checksums.ts';
import { startMinio, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store } from '../proxy/backends/s3/store.ts';
import { openVirtualStore, parseBalancingConfig } from '../proxy/virtual/index.ts';
import type { ChecksumAlgorithm } from '../proxy/store/types.ts';
import { newCredentials, startTestGateway, tempDir, type TestGateway } from './lib/gateway.ts';
import { bytes, MiB, s3Error } from './lib/s3.ts';
import { isolatedAwsEnv, noPython, runPython } from './lib/python.ts';

const crcOf = (alg: ChecksumAlgorithm, b: Buffer) => {
  const d = createDigest(alg);
  d.update(b);
  return d.digest().toString('base64');
};
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

interface Target {
  gw: TestGateway;
  bucket: string;
  close(): Promise<void>;
}

async function embedded(): Promise<Target> {
  const gw = await startTestGateway();
  await gw.client().send(new CreateBucketCommand({ Bucket: 'full' }));
  return { gw, bucket: 'full', close: () => gw.close() };
}

async function virtual(): Promise<Target> {
  const minio: Minio = await startMinio();
  const direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  await direct.createBucket('fg-full');
  await direct.close();
  const dir = tempDir('floodgate-full-object-');
  const store = await openVirtualStore(parseBalancingConfig({
    backends: [{ name: 'minio', endpoint: minio.endpoint, bucket: 'fg-full', credentials: minio.credentials }],
    virtualBuckets: [{ name: 'full-vb', backends: ['minio'] }],
    index: { kind: 'sqlite', path: join(dir, 'index.db') },
  }));
  const gw = await startTestGateway({ store });
  return { gw, bucket: 'full-vb', async close() { await gw.close(); await minio.close(); rmSync(dir, { recursive: true, force: true }); } };
}

// boto3 (slow to start, and through the same front) runs against the virtual bucket only.
for (const [name, open, python] of [['embedded store', embedded, false], ['virtual bucket over MinIO', virtual, true]] as const) {
  describe(`FULL_OBJECT checksums: ${name}`, () => {
    let t: Target;
    let s3: S3Client;
    before(async () => {
      t = await open();
      s3 = t.gw.client({ maxAttempts: 1 });
    });
    after(async () => { await t?.close(); });

    test('JS SDK lib-storage, CRC64NVME FULL_OBJECT: the object CRC of every byte, served and checked by the SDK on GET', async () => {
      const body = randomBytes(5 * MiB + 777);
      const up = new Upload({ client: s3, params: { Bucket: t.bucket, Key: 'sdk/nvme.bin', Body: body, ChecksumAlgorithm: 'CRC64NVME', ChecksumType: 'FULL_OBJECT' }, partSize: 5 * MiB });
      const done = await up.done();
      assert.equal(done.ChecksumCRC64NVME, crcOf('crc64nvme', body));
      assert.equal(done.ChecksumType, 'FULL_OBJECT');
      const head = await s3.send(new HeadObjectCommand({ Bucket: t.bucket, Key: 'sdk/nvme.bin', ChecksumMode: 'ENABLED' }));
      assert.equal(head.ChecksumCRC64NVME, crcOf('crc64nvme', body));
      assert.equal(head.ChecksumType, 'FULL_OBJECT');
      assert.match(String(head.ETag), /-2"$/);
      // The SDK validates a FULL_OBJECT checksum against the bytes it reads (it skips COMPOSITE ones).
      const got = await s3.send(new GetObjectCommand({ Bucket: t.bucket, Key: 'sdk/nvme.bin', ChecksumMode: 'ENABLED' }));
      assert.equal(got.ChecksumType, 'FULL_OBJECT');
      assert.equal(md5(await bytes(got.Body)), md5(body));
    });

    test('JS SDK commands, CRC32C FULL_OBJECT: ListParts shows the type, Complete refuses a wrong CRC or type and takes the right one', async () => {
      const { UploadId, ChecksumType } = await s3.send(new CreateMultipartUploadCommand({ Bucket: t.bucket, Key: 'sdk/c.bin', ChecksumAlgorithm: 'CRC32C', ChecksumType: 'FULL_OBJECT' }));
      assert.equal(ChecksumType, 'FULL_OBJECT');
      const bodies = [randomBytes(5 * MiB), randomBytes(4321)];
      const parts: { PartNumber: number; ETag?: string; ChecksumCRC32C?: string }[] = [];
      for (const [i, b] of bodies.entries()) {
        const r = await s3.send(new UploadPartCommand({ Bucket: t.bucket, Key: 'sdk/c.bin', UploadId, PartNumber: i + 1, Body: b, ChecksumAlgorithm: 'CRC32C' }));
        assert.equal(r.ChecksumCRC32C, crcOf('crc32c', b));
        parts.push({ PartNumber: i + 1, ETag: r.ETag, ChecksumCRC32C: r.ChecksumCRC32C });
      }
      const listed = await s3.send(new ListPartsCommand({ Bucket: t.bucket, Key: 'sdk/c.bin', UploadId }));
      assert.equal(listed.ChecksumType, 'FULL_OBJECT');
      assert.equal(listed.ChecksumAlgorithm, 'CRC32C');
      const whole = Buffer.concat(bodies);
      const complete = (extra: object) => s3.send(new CompleteMultipartUploadCommand({ Bucket: t.bucket, Key: 'sdk/c.bin', UploadId, MultipartUpload: { Parts: parts }, ...extra }));
      const wrong = await s3Error(complete({ ChecksumCRC32C: crcOf('crc32c', Buffer.from('another object')), ChecksumType: 'FULL_OBJECT' }));
      assert.equal(wrong.name, 'BadDigest');
      assert.equal((await s3Error(complete({ ChecksumType: 'COMPOSITE' }))).name, 'InvalidRequest');
      // Refused Completes leave the upload as it was: the right one still completes it.
      const done = await complete({ ChecksumCRC32C: crcOf('crc32c', whole), ChecksumType: 'FULL_OBJECT' });
      assert.equal(done.ChecksumCRC32C, crcOf('crc32c', whole));
      assert.equal(done.ChecksumType, 'FULL_OBJECT');
      const got = await s3.send(new GetObjectCommand({ Bucket: t.bucket, Key: 'sdk/c.bin', ChecksumMode: 'ENABLED' }));
      assert.equal(got.ChecksumCRC32C, crcOf('crc32c', whole));
      assert.equal(md5(await bytes(got.Body)), md5(whole));
    });

    if (python) test('boto3: upload_file with the file CRC32 (FULL_OBJECT), a wrong one refused, the low-level calls', { skip: noPython }, async () => {
      const dir = tempDir('floodgate-full-boto3-');
      try {
        const env = isolatedAwsEnv(dir, newCredentials());
        const { stdout } = await runPython(join(import.meta.dirname, 'py', 'boto3_full_object.py'), [t.gw.url, t.gw.creds.accessKeyId, t.gw.creds.secretAccessKey, t.bucket, dir], { env });
        const out = JSON.parse(stdout);
        assert.deepEqual(out.transferHead, { crc32: out.expected, type: 'FULL_OBJECT', etag: out.transferHead.etag, length: 5 * MiB + 12345 });
        assert.match(out.transferHead.etag, /-2"$/);
        assert.equal(out.transferGetMd5, out.md5);
        assert.match(out.transferWrong?.uploadFailed ?? '', /BadDigest/);
        assert.deepEqual(out.wrongListed, []);
        assert.equal(out.createdType, 'FULL_OBJECT');
        assert.equal(out.listPartsType, 'FULL_OBJECT');
        assert.deepEqual(out.lowWrongType, { code: 'InvalidRequest', status: 400 });
        assert.deepEqual(out.lowDone, { crc32: out.expected, type: 'FULL_OBJECT' });
        assert.deepEqual(out.lowAttributes, { crc32: out.expected, type: 'FULL_OBJECT', size: 5 * MiB + 12345 });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

// AWS Signature Version 2 from a real client: boto3 with Config(signature_version='s3') (botocore's
// HmacV1Auth) against the gateway on its embedded store and against virtual buckets over a real
// MinIO (e2e/py/boto3_sigv2.py runs the calls): put/get/list/copy/delete, multipart, DeleteObjects,
// virtual-host addressing, presigned v2 URLs fetched here, and the refusals with S3's error codes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { embeddedTarget, virtualTarget } from './s3tests/targets.ts';
import type { S3TestsTarget } from './s3tests/run.ts';
import { tempDir } from './lib/gateway.ts';
import { isolatedAwsEnv, noPython, runPython } from './lib/python.ts';
import { errorCode, xmlField } from './lib/raw-s3.ts';

const SCRIPT = join(import.meta.dirname, 'py', 'boto3_sigv2.py');
type Err = { code: string; status: number } | null;

interface Target { url: string; port: number; creds: { accessKeyId: string; secretAccessKey: string }; bucket: string; create: boolean; close(): Promise<void> }

/** The s3-tests battery's targets: the embedded store (a bucket created here), and one configured virtual bucket over MinIO. */
async function target(start: () => Promise<S3TestsTarget>): Promise<Target> {
  const t = await start();
  const bucket = t.bucketPool?.[0];
  return { url: t.endpoint, port: Number(new URL(t.endpoint).port), creds: t.main, bucket: bucket ?? 'sigv2-bucket', create: bucket === undefined, close: () => t.close() };
}

for (const [name, start] of [['embedded store', () => embeddedTarget()], ['virtual buckets', () => virtualTarget(1)]] as const) {
  describe(`boto3 SigV2 against the gateway (${name})`, { skip: noPython }, () => {
    let t: Target;
    let dir: string;
    let out: any; // the script's JSON, checked field by field below

    before(async () => {
      t = await target(start);
      dir = tempDir('floodgate-sigv2-');
      const { stdout } = await runPython(SCRIPT, [t.url, String(t.port), t.creds.accessKeyId, t.creds.secretAccessKey, t.bucket, t.create ? '1' : '0'], {
        env: isolatedAwsEnv(dir, { accessKeyId: 'AKNOTUSED', secretAccessKey: 'not-used' }), timeoutMs: 300_000,
      });
      out = JSON.parse(stdout);
    });
    after(async () => {
      await t?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test('put, get, range, head, response override, copy: bytes, metadata and ETag', () => {
      assert.equal(out.put.etag, `"${out.put.md5}"`);
      assert.deepEqual(out.get, { same: true, contentType: 'application/x-test', metadata: { who: 'sigv2' } });
      assert.deepEqual(out.range, { same: true, contentRange: 'bytes 10-19/307200' });
      assert.deepEqual(out.head, { length: 307_200, etag: out.put.etag });
      assert.equal(out.override, 'text/x-override');
      assert.equal(out.copySame, true);
    });

    test('listings v1 and v2 (prefix, delimiter)', () => {
      assert.deepEqual(out.list, ['v2/copy', 'v2/dir/a b+c ü.bin']);
      assert.deepEqual(out.listV2, { keys: ['v2/copy'], prefixes: ['v2/dir/'] });
    });

    test('multipart: create, parts, list parts, complete, abort', () => {
      assert.deepEqual(out.listParts, [1, 2]);
      assert.match(out.multipart.etag, /^"[0-9a-f]{32}-2"$/);
      assert.equal(out.multipart.same, true);
      assert.equal(out.multipart.length, 5 * 1024 * 1024 + 1000);
      assert.deepEqual(out.uploadsAfterAbort, []);
    });

    test('DeleteObjects and DeleteObject remove the keys', () => {
      assert.deepEqual(out.deleted, ['v2/copy']);
      assert.equal((out.afterDelete as Err)?.status, 404);
      assert.equal((out.copyAfterDelete as Err)?.status, 404);
    });

    test('virtual-host addressing signs /bucket/key', () => {
      assert.deepEqual(out.vhost, { same: true, keys: ['v2/vhost'] });
    });

    test('presigned v2 URL: fetch gets the bytes (with the override); expired and tampered ones are refused', async () => {
      const ok = await fetch(out.presigned.url);
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('content-type'), 'text/x-presigned');
      assert.equal(createHash('md5').update(Buffer.from(await ok.arrayBuffer())).digest('hex'), out.presigned.md5);
      const expired = await fetch(out.presigned.expired);
      const expiredBody = await expired.text();
      assert.equal(expired.status, 403);
      assert.equal(errorCode(expiredBody), 'AccessDenied');
      assert.equal(xmlField(expiredBody, 'Message'), 'Request has expired');
      const tampered = await fetch(out.presigned.tampered);
      const tamperedBody = await tampered.text();
      assert.equal(tampered.status, 403);
      assert.equal(errorCode(tamperedBody), 'SignatureDoesNotMatch');
      assert.match(xmlField(tamperedBody, 'StringToSign') ?? '', new RegExp(`^GET\n\n\n\\d+\n/${t.bucket}/v2/vhost\\?response-content-type=text/x-presigned$`));
    });

    test('refusals: wrong secret, unknown key, skewed Date or x-amz-date, bad date, bad Content-MD5; nothing stored', () => {
      assert.deepEqual(out.badSecret, { code: 'SignatureDoesNotMatch', status: 403 });
      assert.match(out.badSecretStringToSign, new RegExp(`^GET\n\n\n\\w{3}, \\d{2} \\w{3} \\d{4} [\\d:]{8} GMT\n(x-amz-checksum-mode:ENABLED\n)?/${t.bucket}/v2/multi$`));
      assert.deepEqual(out.unknownKey, { code: 'InvalidAccessKeyId', status: 403 });
      assert.deepEqual(out.skewedDate, { code: 'RequestTimeTooSkewed', status: 403 });
      assert.deepEqual(out.skewedAmzDate, { code: 'RequestTimeTooSkewed', status: 403 });
      assert.deepEqual(out.badAmzDate, { code: 'AccessDenied', status: 403 });
      assert.deepEqual(out.badMd5, { code: 'BadDigest', status: 400 });
      assert.equal((out.refusedStored as Err)?.status, 404);
    });

    test('a malformed SigV2 header is 400 InvalidArgument', async () => {
      const r = await fetch(`${t.url}/${t.bucket}/v2/multi`, { headers: { authorization: 'AWS HAHAHA', date: new Date().toUTCString() } });
      const body = await r.text();
      assert.equal(r.status, 400);
      assert.equal(errorCode(body), 'InvalidArgument');
    });
  });
}

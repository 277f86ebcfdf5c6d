// boto3 (pinned in tools/pydeps.sh) against the gateway on its embedded store: the python script
// e2e/py/boto3_suite.py runs every call and prints what it observed; the assertions live here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startTestGateway, tempDir, type TestGateway } from './lib/gateway.ts';
import { isolatedAwsEnv, noPython, runPython } from './lib/python.ts';

const SCRIPT = join(import.meta.dirname, 'py', 'boto3_suite.py');
type Err = { code: string; status: number; message: string } | null;

describe('boto3 against the gateway', { skip: noPython }, () => {
  let gw: TestGateway;
  let dir: string;
  let out: any; // the script's JSON, checked field by field below

  before(async () => {
    gw = await startTestGateway();
    dir = tempDir('floodgate-boto3-');
    const { stdout } = await runPython(SCRIPT, [gw.url, String(gw.port), gw.creds.accessKeyId, gw.creds.secretAccessKey, 'boto-bucket', dir], {
      env: isolatedAwsEnv(dir, { accessKeyId: 'AKNOTUSED', secretAccessKey: 'not-used' }),
    });
    out = JSON.parse(stdout);
  });
  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('buckets: create (twice), list, head, location, delete when empty', () => {
    assert.equal((out.createAgain as Err)?.code, 'BucketAlreadyOwnedByYou');
    assert.deepEqual(out.buckets, ['boto-bucket']);
    assert.equal((out.headMissingBucket as Err)?.status, 404);
    assert.ok(out.location === null || out.location === 'us-east-1', String(out.location));
    assert.equal((out.deleteNonEmpty as Err)?.code, 'BucketNotEmpty');
    assert.equal((out.afterBucketDelete as Err)?.status, 404);
  });

  test('put and get keep bytes, metadata, content type and cache headers; ETag is the MD5', () => {
    assert.equal(out.put.etag, `"${out.put.md5}"`);
    assert.deepEqual(out.get, {
      same: true, contentType: 'text/plain; charset=utf-8', metadata: { owner: 'ops', build: '42' },
      cacheControl: 'max-age=60', contentDisposition: 'attachment', length: 256_000, etag: out.put.etag,
    });
  });

  test('ranges: explicit, suffix, and unsatisfiable', () => {
    assert.deepEqual(out.range, { same: true, contentRange: 'bytes 10-19/256000', status: 206 });
    assert.deepEqual(out.suffixRange, { same: true, contentRange: 'bytes 255995-255999/256000' });
    assert.equal((out.unsatisfiable as Err)?.code, 'InvalidRange');
    assert.equal((out.unsatisfiable as Err)?.status, 416);
  });

  test('head, and missing keys', () => {
    assert.deepEqual(out.head, { length: 256_000, etag: out.put.etag, metadata: { owner: 'ops', build: '42' }, contentType: 'text/plain; charset=utf-8' });
    assert.equal((out.headMissing as Err)?.status, 404);
    assert.equal((out.getMissing as Err)?.code, 'NoSuchKey');
  });

  test('copy keeps metadata by default and replaces it with REPLACE', () => {
    assert.equal(out.copy.etag, out.put.etag);
    assert.deepEqual(out.copy.metadata, { owner: 'ops', build: '42' });
    assert.equal(out.copy.contentType, 'text/plain; charset=utf-8');
    assert.deepEqual(out.copy.replacedMetadata, { owner: 'dev' });
    assert.equal(out.copy.replacedType, 'application/json');
    assert.equal(out.copy.replacedEtag, out.put.etag);
  });

  test('list_objects_v2: paginator, prefix, delimiter (also paginated)', () => {
    const listed = ['list/a/1', 'list/a/2', 'list/b/1', 'list/c', 'list/d/e/f', 'list/z'];
    assert.deepEqual(out.paged.keys, listed);
    assert.equal(out.paged.pages, 3);
    assert.deepEqual(out.paged.sizes, listed.map((k) => k.length));
    assert.deepEqual(out.delimited, { keys: ['list/c', 'list/z'], prefixes: ['list/a/', 'list/b/', 'list/d/'], keyCount: 5 });
    assert.deepEqual(out.delimitedPaged.keys, ['list/c', 'list/z']);
    assert.deepEqual(out.delimitedPaged.prefixes, ['list/a/', 'list/b/', 'list/d/']);
    assert.equal(out.delimitedPaged.pages, 5);
  });

  test('delete_objects: verbose lists every key (missing ones too), quiet lists none', () => {
    assert.deepEqual(out.deleteObjects.deleted, ['list/a/1', 'list/a/2', 'list/b/1', 'list/c', 'list/d/e/f', 'list/never-existed', 'list/z', 'other'].sort());
    assert.deepEqual(out.deleteObjects.errors, []);
    assert.deepEqual(out.afterDelete, []);
    assert.deepEqual(out.deleteQuiet.deleted, []);
    assert.equal((out.deleteQuiet.gone as Err)?.status, 404);
  });

  test('upload_file with 5 MiB parts: multipart ETag, metadata, byte-identical download, no upload left', () => {
    assert.equal(out.multipart.etag, out.multipart.expectedEtag);
    assert.match(out.multipart.etag, /-3"$/);
    assert.equal(out.multipart.length, out.multipart.size);
    assert.equal(out.multipart.same, true);
    assert.deepEqual(out.multipart.metadata, { kind: 'multipart' });
    assert.equal(out.multipart.uploadsLeft, 0);
  });

  test('presigned GET and PUT work from a plain HTTP client; a tampered one is refused', () => {
    assert.deepEqual(out.presignedGet, { status: 200, same: true });
    assert.equal(out.presignedPut.status, 200);
    assert.equal(out.presignedPut.same, true);
    assert.equal(out.presignedPut.etag, `"${out.presignedPut.md5}"`);
    assert.equal(out.presignedTampered.status, 403);
    assert.match(out.presignedTampered.body, /<Code>SignatureDoesNotMatch<\/Code>/);
    // boto3's default presign (SigV2 query auth) works too.
    assert.deepEqual(out.presignedV2, { status: 200, same: true });
  });

  test('virtual-host addressing through bucket.localhost', () => {
    assert.deepEqual(out.virtual, { same: true, listed: ['vhost/k.txt'], viaPath: true, deleted: out.virtual.deleted });
    assert.equal((out.virtual.deleted as Err)?.status, 404);
  });

  test('CRC32 and SHA256 checksums are verified, stored and returned with ChecksumMode only', () => {
    const c = out.checksums;
    assert.equal(c.crc32, c.expectedCrc32);
    assert.equal(c.sha256, c.expectedSha256);
    assert.equal(c.getSha256, c.expectedSha256);
    assert.equal(c.getSame, true);
    assert.equal(c.headWithoutMode, false);
    assert.equal((c.wrongSha256 as Err)?.code, 'BadDigest');
    assert.equal(c.afterWrong, true);
  });

  test('a wrong secret gets SignatureDoesNotMatch and writes nothing', () => {
    assert.equal((out.wrongSecret.list as Err)?.code, 'SignatureDoesNotMatch');
    assert.equal((out.wrongSecret.put as Err)?.code, 'SignatureDoesNotMatch');
    assert.equal((out.wrongSecret.put as Err)?.status, 403);
    assert.equal(out.wrongSecret.intact, true);
  });
});

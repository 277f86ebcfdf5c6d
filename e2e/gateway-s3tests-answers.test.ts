// What the gateway answers where the ceph/s3-tests battery expects something else (README,
// "ceph/s3-tests"), on the embedded store and on virtual buckets over real MinIO, sent raw so the
// exact query and body reach the gateway:
//  - an empty continuation-token is InvalidArgument, as AWS and MinIO answer
//    (test_bucket_list_v2_continuation_token_empty wants it ignored);
//  - a v1 listing with encoding-type=url encodes Prefix too, as AWS documents; botocore decodes
//    every element of it but Prefix (test_bucket_list_prefix_unreadable);
//  - an upload completed once is gone: UploadPart, Complete, ListParts and Abort of its id are
//    NoSuchUpload; a Complete listing a part number twice, or a part's replaced ETag, is refused
//    (test_multipart_resend_first_finishes_last lists part 1 twice).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { startMinio, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store } from '../proxy/backends/s3/store.ts';
import { openVirtualStore, parseBalancingConfig } from '../proxy/virtual/index.ts';
import { startTestGateway, tempDir, type TestGateway } from './lib/gateway.ts';
import { errorCode, md5, objectPath, rawRequest, xmlField, type RawRequest } from './lib/raw-s3.ts';

const B = 'answers';
let minio: Minio;
let dir: string;

before(async () => {
  minio = await startMinio();
  const direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  await direct.createBucket('answers-back');
  await direct.close();
  dir = tempDir('floodgate-answers-');
});
after(async () => {
  await minio?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const targets: Record<string, () => Promise<TestGateway>> = {
  'embedded store': async () => {
    const gw = await startTestGateway();
    assert.equal((await rawRequest(gw.url, { method: 'PUT', path: `/${B}`, creds: gw.creds })).status, 200);
    return gw;
  },
  'virtual bucket': async () => startTestGateway({
    store: await openVirtualStore(parseBalancingConfig({
      backends: [{ name: 'm', endpoint: minio.endpoint, bucket: 'answers-back', credentials: minio.credentials }],
      virtualBuckets: [{ name: B, backends: ['m'] }],
      index: { kind: 'sqlite', path: join(dir, 'index.db') },
    })),
  }),
};

for (const [name, start] of Object.entries(targets)) {
  describe(name, () => {
    let gw: TestGateway;
    const send = (req: Omit<RawRequest, 'creds'>) => rawRequest(gw.url, { ...req, creds: gw.creds });
    before(async () => {
      gw = await start();
      for (const k of ['foo/bar', 'foo/baz', 'quux']) assert.equal((await send({ method: 'PUT', path: objectPath(B, k), body: k })).status, 200);
    });
    after(async () => { await gw?.close(); });

    test('ListObjectsV2 with an empty continuation-token is InvalidArgument; without one it lists from the start', async () => {
      const res = await send({ method: 'GET', path: `/${B}`, query: 'list-type=2&continuation-token=' });
      assert.equal(res.status, 400, res.body.toString());
      assert.equal(errorCode(res.body), 'InvalidArgument');
      assert.equal(xmlField(res.body, 'ArgumentName'), 'continuation-token');
      assert.equal(xmlField(res.body, 'Message'), 'The continuation token provided is incorrect');
      const all = await send({ method: 'GET', path: `/${B}`, query: 'list-type=2' });
      assert.equal(all.status, 200);
      assert.equal(xmlField(all.body, 'KeyCount'), '3');
    });

    test('a v1 listing of a control-character prefix: encoding-type=url encodes Prefix and Marker; without it they are XML text', async () => {
      // Keys cannot hold control characters here (InvalidArgument); prefixes and markers can.
      const enc = (await send({ method: 'GET', path: `/${B}`, query: 'encoding-type=url&marker=%0A&prefix=%0A' })).body.toString();
      assert.match(enc, /<Prefix>%0A<\/Prefix>/);
      assert.match(enc, /<Marker>%0A<\/Marker>/);
      assert.match(enc, /<EncodingType>url<\/EncodingType>/);
      assert.doesNotMatch(enc, /<Key>/);
      const under = (await send({ method: 'GET', path: `/${B}`, query: 'encoding-type=url&prefix=%0A%01' })).body.toString();
      assert.match(under, /<Prefix>%0A%01<\/Prefix>/);
      const plain = (await send({ method: 'GET', path: `/${B}`, query: 'prefix=%0A%01' })).body.toString();
      // U+0001 cannot appear in XML 1.0 as a character: it is written as a character reference.
      assert.match(plain, /<Prefix>\n&#1;<\/Prefix>/);
      assert.doesNotMatch(plain, /EncodingType|<Key>/);
      assert.equal(errorCode((await send({ method: 'PUT', path: objectPath(B, '\nkey'), body: 'x' })).body), 'InvalidArgument');
    });

    test('an upload completed once is gone (NoSuchUpload); part 1 listed twice, or with its replaced ETag, is refused', async () => {
      const key = objectPath(B, 'resend');
      const init = await send({ method: 'POST', path: key, query: 'uploads=' });
      const id = encodeURIComponent(xmlField(init.body, 'UploadId')!);
      // Part 1 sent twice, A last: A is part 1 (s3-tests' resend_first_finishes_last).
      for (const body of ['BBBBBBBB', 'AAAAAAAA']) assert.equal((await send({ method: 'PUT', path: key, query: `partNumber=1&uploadId=${id}`, body })).status, 200);
      const complete = (etags: string[]) => send({
        method: 'POST', path: key, query: `uploadId=${id}`,
        body: `<CompleteMultipartUpload>${etags.map((e) => `<Part><ETag>"${md5(e)}"</ETag><PartNumber>1</PartNumber></Part>`).join('')}</CompleteMultipartUpload>`,
      });
      // What the s3-test sends: part 1 with each ETag it was given, in the order they came back.
      for (const etags of [['BBBBBBBB', 'AAAAAAAA'], ['AAAAAAAA', 'AAAAAAAA']]) {
        const twice = await complete(etags);
        assert.deepEqual([twice.status, errorCode(twice.body)], [400, 'InvalidPartOrder'], etags.join());
      }
      const replaced = await complete(['BBBBBBBB']);
      assert.deepEqual([replaced.status, errorCode(replaced.body)], [400, 'InvalidPart']);
      const done = await complete(['AAAAAAAA']);
      assert.equal(done.status, 200, done.body.toString());
      assert.equal((await send({ method: 'GET', path: key })).body.toString(), 'AAAAAAAA');
      const gone = [
        await send({ method: 'PUT', path: key, query: `partNumber=1&uploadId=${id}`, body: 'CCCCCCCC' }),
        await complete(['AAAAAAAA']),
        await send({ method: 'GET', path: key, query: `uploadId=${id}` }),
        await send({ method: 'DELETE', path: key, query: `uploadId=${id}` }),
      ];
      assert.deepEqual(gone.map((r) => [r.status, errorCode(r.body)]), Array(4).fill([404, 'NoSuchUpload']));
      assert.equal((await send({ method: 'GET', path: key })).body.toString(), 'AAAAAAAA', 'the object is what the one Complete made');
    });
  });
}

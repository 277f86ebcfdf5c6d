// Part numbers as S3 takes them, GetObject/HeadObject by partNumber, and the versioning state an
// unversioned bucket reports — against the gateway on the embedded store, with the AWS SDK and raw.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetBucketVersioningCommand, GetObjectCommand,
  GetObjectAttributesCommand, HeadObjectCommand, ListBucketsCommand, PutObjectCommand, UploadPartCommand, ListPartsCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { startTestGateway, type TestGateway } from './lib/gateway.ts';
import { compositeChecksum, createDigest } from '../proxy/auth/checksums.ts';
import { bytes, MiB, s3Error } from './lib/s3.ts';
import { errorCode, objectPath, rawRequest, xmlField } from './lib/raw-s3.ts';

let gw: TestGateway;
let c: S3Client;
const B = 'parts';

before(async () => {
  gw = await startTestGateway();
  c = gw.client();
  await c.send(new CreateBucketCommand({ Bucket: B }));
});
after(async () => { await gw?.close(); });

test('UploadPart with partNumber outside 1-10000 is InvalidArgument and stores nothing', async () => {
  const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'edge' }));
  await c.send(new UploadPartCommand({ Bucket: B, Key: 'edge', UploadId, PartNumber: 10000, Body: 'last' }));
  for (const n of ['10001', '0', '-1', '99999999999', 'x']) {
    const res = await rawRequest(gw.url, { method: 'PUT', path: objectPath(B, 'edge'), query: `partNumber=${n}&uploadId=${encodeURIComponent(UploadId!)}`, body: 'other', creds: gw.creds });
    assert.equal(res.status, 400, n);
    assert.equal(errorCode(res.body), 'InvalidArgument', n);
    assert.ok(xmlField(res.body, 'RequestId'));
  }
  const parts = await c.send(new ListPartsCommand({ Bucket: B, Key: 'edge', UploadId }));
  assert.deepEqual(parts.Parts?.map((p) => [p.PartNumber, p.Size]), [[10000, 4]]);
});

test('GetObject and HeadObject with partNumber serve that part, with its range and the parts count', async () => {
  const p1 = randomBytes(5 * MiB), p2 = randomBytes(1000);
  const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: B, Key: 'mp' }));
  const e1 = await c.send(new UploadPartCommand({ Bucket: B, Key: 'mp', UploadId, PartNumber: 1, Body: p1 }));
  const e2 = await c.send(new UploadPartCommand({ Bucket: B, Key: 'mp', UploadId, PartNumber: 2, Body: p2 }));
  await c.send(new CompleteMultipartUploadCommand({ Bucket: B, Key: 'mp', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1.ETag }, { PartNumber: 2, ETag: e2.ETag }] } }));
  const g2 = await c.send(new GetObjectCommand({ Bucket: B, Key: 'mp', PartNumber: 2 }));
  assert.deepEqual(await bytes(g2.Body), p2);
  assert.equal(g2.ContentRange, `bytes ${5 * MiB}-${5 * MiB + 999}/${5 * MiB + 1000}`);
  assert.equal(g2.PartsCount, 2);
  const h1 = await c.send(new HeadObjectCommand({ Bucket: B, Key: 'mp', PartNumber: 1 }));
  assert.equal(h1.ContentLength, 5 * MiB);
  assert.equal(h1.PartsCount, 2);
  assert.equal((await s3Error(c.send(new GetObjectCommand({ Bucket: B, Key: 'mp', PartNumber: 3 })))).name, 'InvalidPartNumber');
  const both = await rawRequest(gw.url, { method: 'GET', path: objectPath(B, 'mp'), query: 'partNumber=1', headers: { range: 'bytes=0-1' }, creds: gw.creds });
  assert.equal(both.status, 400);
  assert.equal(errorCode(both.body), 'InvalidRequest');
  // An object uploaded whole is its own part 1.
  await c.send(new PutObjectCommand({ Bucket: B, Key: 'whole', Body: 'abc' }));
  assert.equal((await bytes((await c.send(new GetObjectCommand({ Bucket: B, Key: 'whole', PartNumber: 1 }))).Body)).toString(), 'abc');
  assert.equal((await s3Error(c.send(new GetObjectCommand({ Bucket: B, Key: 'whole', PartNumber: 2 })))).name, 'InvalidPartNumber');
});

test('GetBucketVersioning of a bucket never versioned answers an empty configuration', async () => {
  const v = await c.send(new GetBucketVersioningCommand({ Bucket: B }));
  assert.equal(v.$metadata.httpStatusCode, 200);
  assert.equal(v.Status, undefined);
  assert.equal((await s3Error(c.send(new GetBucketVersioningCommand({ Bucket: 'no-such-bucket' })))).name, 'NoSuchBucket');
  const put = await rawRequest(gw.url, { method: 'PUT', path: `/${B}`, query: 'versioning=', body: '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>', creds: gw.creds });
  assert.equal(put.status, 501);
});

test('ListBuckets pages with max-buckets and continuation-token, filters by prefix, and refuses a forged token', async () => {
  for (const b of ['page-a', 'page-b', 'page-c']) await c.send(new CreateBucketCommand({ Bucket: b }));
  const seen: string[] = [];
  let token: string | undefined;
  for (let i = 0; i < 10; i++) {
    const r = await c.send(new ListBucketsCommand({ MaxBuckets: 1, Prefix: 'page-', ContinuationToken: token }));
    seen.push(...(r.Buckets ?? []).map((b) => b.Name!));
    token = r.ContinuationToken;
    if (!token) break;
  }
  assert.deepEqual(seen, ['page-a', 'page-b', 'page-c']);
  assert.ok((await c.send(new ListBucketsCommand({}))).Buckets!.length >= 4, 'unpaginated: all of them');
  const forged = await rawRequest(gw.url, { method: 'GET', path: '/', query: 'max-buckets=1&continuation-token=bogus', creds: gw.creds });
  assert.equal(forged.status, 400);
  assert.equal(errorCode(forged.body), 'InvalidArgument');
});

test('CreateMultipartUpload: the algorithm and type pairs S3 takes, and the type each upload gets', async () => {
  const create = (headers: Record<string, string>) => rawRequest(gw.url, { method: 'POST', path: objectPath(B, 'typed'), query: 'uploads=', headers, creds: gw.creds });
  for (const [headers, type] of [
    [{ 'x-amz-checksum-algorithm': 'CRC32', 'x-amz-checksum-type': 'FULL_OBJECT' }, 'FULL_OBJECT'],
    [{ 'x-amz-checksum-algorithm': 'CRC32C', 'x-amz-checksum-type': 'COMPOSITE' }, 'COMPOSITE'],
    [{ 'x-amz-checksum-algorithm': 'SHA256' }, 'COMPOSITE'],
    [{ 'x-amz-checksum-algorithm': 'CRC32' }, 'COMPOSITE'],
    [{ 'x-amz-checksum-algorithm': 'CRC64NVME' }, 'FULL_OBJECT'], // its only type
  ] as [Record<string, string>, string][]) {
    const r = await create(headers);
    assert.equal(r.status, 200, `${JSON.stringify(headers)}: ${r.body}`);
    assert.equal(r.headers['x-amz-checksum-type'], type, JSON.stringify(headers));
    assert.equal(r.headers['x-amz-checksum-algorithm'], headers['x-amz-checksum-algorithm']);
  }
  for (const headers of [
    { 'x-amz-checksum-algorithm': 'SHA256', 'x-amz-checksum-type': 'FULL_OBJECT' },
    { 'x-amz-checksum-algorithm': 'SHA1', 'x-amz-checksum-type': 'FULL_OBJECT' },
    { 'x-amz-checksum-algorithm': 'CRC64NVME', 'x-amz-checksum-type': 'COMPOSITE' },
    { 'x-amz-checksum-type': 'FULL_OBJECT' }, // a type needs an algorithm
    { 'x-amz-checksum-algorithm': 'CRC32', 'x-amz-checksum-type': 'WHOLE' },
    { 'x-amz-checksum-algorithm': 'MD5' },
  ] as Record<string, string>[]) {
    const r = await create(headers);
    assert.equal(r.status, 400, JSON.stringify(headers));
    assert.equal(errorCode(r.body), 'InvalidRequest', JSON.stringify(headers));
  }
});

test('FULL_OBJECT (raw): a part sent without its CRC (or copied with UploadPartCopy) gets one computed, Complete checks the type and the whole-object CRC', async () => {
  const crc32c = (...bs: Buffer[]) => { const d = createDigest('crc32c'); for (const b of bs) d.update(b); return d.digest().toString('base64'); };
  const init = await rawRequest(gw.url, { method: 'POST', path: objectPath(B, 'whole'), query: 'uploads=', headers: { 'x-amz-checksum-algorithm': 'CRC32C', 'x-amz-checksum-type': 'FULL_OBJECT' }, creds: gw.creds });
  const uploadId = xmlField(init.body, 'UploadId')!;
  const q = (extra: string) => `${extra}uploadId=${encodeURIComponent(uploadId)}`;
  const bodies = [randomBytes(5 * MiB), randomBytes(5 * MiB + 3), Buffer.from('the tail')];
  const etags: string[] = [];
  for (const [i, b] of bodies.entries()) {
    // Part 2 comes without a checksum header: S3 computes part CRCs of FULL_OBJECT uploads itself.
    const headers: Record<string, string> = i === 1 ? {} : { 'x-amz-checksum-crc32c': crc32c(b) };
    const r = await rawRequest(gw.url, { method: 'PUT', path: objectPath(B, 'whole'), query: q(`partNumber=${i + 1}&`), body: b, headers, creds: gw.creds });
    assert.equal(r.status, 200, r.body.toString());
    etags.push(String(r.headers.etag));
  }
  const listed = await rawRequest(gw.url, { method: 'GET', path: objectPath(B, 'whole'), query: q(''), creds: gw.creds });
  assert.equal(xmlField(listed.body, 'ChecksumType'), 'FULL_OBJECT');
  assert.deepEqual([...listed.body.toString().matchAll(/<ChecksumCRC32C>([^<]*)</g)].map((m) => m[1]), bodies.map((b) => crc32c(b)));
  const xml = `<CompleteMultipartUpload>${etags.map((e, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
  const complete = (headers: Record<string, string>) => rawRequest(gw.url, { method: 'POST', path: objectPath(B, 'whole'), query: q(''), body: xml, headers, creds: gw.creds });
  const full = crc32c(...bodies);
  const cases: [Record<string, string>, string][] = [
    [{ 'x-amz-checksum-crc32c': crc32c(Buffer.from('not the object')) }, 'BadDigest'],
    // The composite of the parts is not what a FULL_OBJECT upload's checksum is.
    [{ 'x-amz-checksum-crc32c': compositeChecksum('crc32c', bodies.map((b) => crc32c(b))).replace(/-3$/, '') }, 'BadDigest'],
    [{ 'x-amz-checksum-type': 'COMPOSITE' }, 'InvalidRequest'],
    [{ 'x-amz-checksum-crc32': full }, 'InvalidRequest'], // another algorithm than the upload's
  ];
  for (const [headers, code] of cases) {
    const r = await complete(headers);
    assert.equal(r.status, 400, `${JSON.stringify(headers)}: ${r.body}`);
    assert.equal(errorCode(r.body), code, JSON.stringify(headers));
  }
  const done = await complete({ 'x-amz-checksum-crc32c': full, 'x-amz-checksum-type': 'FULL_OBJECT' });
  assert.equal(done.status, 200, done.body.toString());
  assert.equal(xmlField(done.body, 'ChecksumCRC32C'), full);
  assert.equal(xmlField(done.body, 'ChecksumType'), 'FULL_OBJECT');
  const head = await rawRequest(gw.url, { method: 'HEAD', path: objectPath(B, 'whole'), headers: { 'x-amz-checksum-mode': 'ENABLED' }, creds: gw.creds });
  assert.equal(head.headers['x-amz-checksum-crc32c'], full);
  assert.equal(head.headers['x-amz-checksum-type'], 'FULL_OBJECT');

  // UploadPartCopy into a FULL_OBJECT upload: the copied range's CRC is computed as it is copied.
  const copy = await rawRequest(gw.url, { method: 'POST', path: objectPath(B, 'copied'), query: 'uploads=', headers: { 'x-amz-checksum-algorithm': 'CRC32C', 'x-amz-checksum-type': 'FULL_OBJECT' }, creds: gw.creds });
  const copyId = encodeURIComponent(xmlField(copy.body, 'UploadId')!);
  const first = await rawRequest(gw.url, { method: 'PUT', path: objectPath(B, 'copied'), query: `partNumber=1&uploadId=${copyId}`, headers: { 'x-amz-copy-source': `/${B}/whole`, 'x-amz-copy-source-range': `bytes=0-${5 * MiB - 1}` }, creds: gw.creds });
  assert.equal(first.status, 200, first.body.toString());
  const tail = Buffer.from('copied tail');
  const second = await rawRequest(gw.url, { method: 'PUT', path: objectPath(B, 'copied'), query: `partNumber=2&uploadId=${copyId}`, body: tail, creds: gw.creds });
  const copyXml = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${xmlField(first.body, 'ETag')}</ETag></Part><Part><PartNumber>2</PartNumber><ETag>${second.headers.etag}</ETag></Part></CompleteMultipartUpload>`;
  const copied = await rawRequest(gw.url, { method: 'POST', path: objectPath(B, 'copied'), query: `uploadId=${copyId}`, body: copyXml, creds: gw.creds });
  assert.equal(copied.status, 200, copied.body.toString());
  assert.equal(xmlField(copied.body, 'ChecksumCRC32C'), crc32c(bodies[0]!, tail));
});

test('CompleteMultipartUpload takes x-amz-checksum-<alg> as the object checksum (the composite), not the XML body\'s', async () => {
  const crc = (b: Buffer) => { const d = createDigest('crc32'); d.update(b); return d.digest().toString('base64'); };
  const init = await rawRequest(gw.url, { method: 'POST', path: objectPath(B, 'summed'), query: 'uploads=', headers: { 'x-amz-checksum-algorithm': 'CRC32' }, creds: gw.creds });
  const uploadId = xmlField(init.body, 'UploadId')!;
  const bodies = [randomBytes(5 * MiB), Buffer.from('tail')];
  const parts: { n: number; etag: string; sum: string }[] = [];
  for (const [i, b] of bodies.entries()) {
    const r = await rawRequest(gw.url, { method: 'PUT', path: objectPath(B, 'summed'), query: `partNumber=${i + 1}&uploadId=${encodeURIComponent(uploadId)}`, body: b, headers: { 'x-amz-checksum-crc32': crc(b) }, creds: gw.creds });
    assert.equal(r.status, 200, r.body.toString());
    parts.push({ n: i + 1, etag: String(r.headers.etag), sum: crc(b) });
  }
  const xml = `<CompleteMultipartUpload>${parts.map((p) => `<Part><PartNumber>${p.n}</PartNumber><ETag>${p.etag}</ETag><ChecksumCRC32>${p.sum}</ChecksumCRC32></Part>`).join('')}</CompleteMultipartUpload>`;
  const composite = compositeChecksum('crc32', parts.map((p) => p.sum));
  const complete = (sum: string) => rawRequest(gw.url, { method: 'POST', path: objectPath(B, 'summed'), query: `uploadId=${encodeURIComponent(uploadId)}`, body: xml, headers: { 'x-amz-checksum-crc32': sum }, creds: gw.creds });
  const wrong = await complete(crc(Buffer.from('something else')));
  assert.equal(wrong.status, 400);
  assert.equal(errorCode(wrong.body), 'BadDigest');
  const done = await complete(composite.replace(/-2$/, ''));
  assert.equal(done.status, 200, done.body.toString());
  assert.equal(xmlField(done.body, 'ChecksumCRC32'), composite);
});

test('GetObjectAttributes answers what was asked: ETag, checksum, parts count, storage class, size', async () => {
  const a = await c.send(new GetObjectAttributesCommand({ Bucket: B, Key: 'mp', ObjectAttributes: ['ETag', 'ObjectParts', 'StorageClass', 'ObjectSize'] }));
  const h = await c.send(new HeadObjectCommand({ Bucket: B, Key: 'mp' }));
  assert.equal(`"${a.ETag}"`, h.ETag);
  assert.equal(a.ObjectParts?.TotalPartsCount, 2);
  assert.equal(a.StorageClass, 'STANDARD');
  assert.equal(a.ObjectSize, h.ContentLength);
  const s = await c.send(new GetObjectAttributesCommand({ Bucket: B, Key: 'summed', ObjectAttributes: ['Checksum'] }));
  assert.match(s.Checksum?.ChecksumCRC32 ?? '', /-2$/);
  assert.equal(s.ETag, undefined);
  assert.equal((await s3Error(c.send(new GetObjectAttributesCommand({ Bucket: B, Key: 'missing', ObjectAttributes: ['ETag'] })))).name, 'NoSuchKey');
  const none = await rawRequest(gw.url, { method: 'GET', path: objectPath(B, 'mp'), query: 'attributes=', creds: gw.creds });
  assert.equal(errorCode(none.body), 'InvalidArgument');
});

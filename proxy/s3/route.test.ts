import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTarget, resolveOperation } from './route.ts';
import { S3Error } from './errors.ts';

const op = (method: string, url: string, headers: Record<string, string> = {}, host = '127.0.0.1:9000') =>
  resolveOperation(method, parseTarget(url, host, ['localhost']), headers);

test('operations are resolved from method, path and query', () => {
  const cases: [string, string, string, Record<string, string>?][] = [
    ['GET', '/', 'ListBuckets'],
    ['PUT', '/b', 'CreateBucket'],
    ['HEAD', '/b', 'HeadBucket'],
    ['DELETE', '/b/', 'DeleteBucket'],
    ['GET', '/b?location', 'GetBucketLocation'],
    ['GET', '/b?list-type=2&prefix=a', 'ListObjectsV2'],
    ['GET', '/b', 'ListObjects'],
    ['GET', '/b?versions', 'ListObjectVersions'],
    ['GET', '/b?uploads', 'ListMultipartUploads'],
    ['POST', '/b?delete=', 'DeleteObjects'],
    ['PUT', '/b/k', 'PutObject'],
    ['PUT', '/b/k', 'CopyObject', { 'x-amz-copy-source': '/b/j' }],
    ['PUT', '/b/k?partNumber=1&uploadId=u', 'UploadPart'],
    ['PUT', '/b/k?partNumber=1&uploadId=u', 'UploadPartCopy', { 'x-amz-copy-source': '/b/j' }],
    ['POST', '/b/k?uploads=', 'CreateMultipartUpload'],
    ['POST', '/b/k?uploadId=u', 'CompleteMultipartUpload'],
    ['DELETE', '/b/k?uploadId=u', 'AbortMultipartUpload'],
    ['GET', '/b/k?uploadId=u', 'ListParts'],
    ['GET', '/b/k?x-id=GetObject', 'GetObject'],
    ['HEAD', '/b/k', 'HeadObject'],
    ['GET', '/b?versioning', 'GetBucketVersioning'],
    ['GET', '/b?acl', 'GetBucketAcl'],
    ['PUT', '/b?acl', 'PutBucketAcl'],
    ['GET', '/b/k?acl', 'GetObjectAcl'],
    ['PUT', '/b/k?acl&versionId=null', 'PutObjectAcl'],
    ['DELETE', '/b/k', 'DeleteObject'],
  ];
  for (const [method, url, want, headers] of cases) assert.equal(op(method, url, headers), want, `${method} ${url}`);
});

test('unknown sub-resources are NotImplemented, never a silent write', () => {
  for (const [m, u] of [['PUT', '/b?policy'], ['PUT', '/b/k?tagging'], ['PUT', '/b/k?acl&tagging'], ['DELETE', '/b?acl'], ['DELETE', '/b?policy'], ['GET', '/b?lifecycle'], ['PUT', '/b?versioning']]) {
    assert.throws(() => op(m!, u!), (e: unknown) => e instanceof S3Error && e.code === 'NotImplemented' && e.status === 501, `${m} ${u}`);
  }
});

test('SigV2 query-auth parameters are not sub-resources: a presigned v2 GET is GetObject', () => {
  assert.equal(op('GET', '/b/k?AWSAccessKeyId=AK&Signature=abc%3D&Expires=1795966583'), 'GetObject');
  assert.equal(op('GET', '/b/k?AWSAccessKeyId=AK&Signature=abc%3D&Expires=1795966583&response-content-type=a%2Fb'), 'GetObject');
});

test('keys are decoded once; virtual-host buckets come from the Host header', () => {
  const t = parseTarget('/b/a%2Fb%20c+d%25e?prefix=x%2By', '127.0.0.1', ['localhost']);
  assert.equal(t.bucket, 'b');
  assert.equal(t.key, 'a/b c+d%e');
  assert.equal(t.query.get('prefix'), 'x+y');
  const v = parseTarget('/dir/key', 'photos.localhost:9000', ['localhost']);
  assert.equal(v.bucket, 'photos');
  assert.equal(v.key, 'dir/key');
  assert.equal(parseTarget('/', 'localhost:9000', ['localhost']).bucket, undefined);
  assert.throws(() => parseTarget('/b/%ZZ', 'x', []), (e: unknown) => e instanceof S3Error && e.code === 'InvalidURI');
});

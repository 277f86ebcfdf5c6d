// SigV2 against the examples of the AWS S3 developer guide ("Signing and authenticating REST
// requests", bucket johnsmith, March 2007) and the error each bad request gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { verifyRequest, type AuthInput } from './sigv4.ts';
import { lookupExample, rejects } from './aws-examples.fixture.ts';

const at = (iso: string) => new Date(iso);
const GET_NOW = at('2007-03-27T19:36:42Z');

const v2 = (sig: string) => `AWS AKIAIOSFODNN7EXAMPLE:${sig}`;

test('AWS examples: object GET, PUT with Content-Type, bucket list, ?acl, virtual-host style', () => {
  const cases: [AuthInput, string][] = [
    [{ method: 'GET', rawUrl: '/photos/puppy.jpg', hostBucket: 'johnsmith', now: GET_NOW,
      headers: { host: 'johnsmith.s3.amazonaws.com', date: 'Tue, 27 Mar 2007 19:36:42 +0000', authorization: v2('bWq2s1WEIj+Ydj0vQ697zp+IXMU=') } }, 'GET'],
    [{ method: 'PUT', rawUrl: '/photos/puppy.jpg', hostBucket: 'johnsmith', now: at('2007-03-27T21:15:45Z'),
      headers: { host: 'johnsmith.s3.amazonaws.com', date: 'Tue, 27 Mar 2007 21:15:45 +0000', 'content-type': 'image/jpeg', 'content-length': '94328', authorization: v2('MyyxeRY7whkBe+bq8fHCL/2kKUg=') } }, 'PUT'],
    [{ method: 'GET', rawUrl: '/?prefix=photos&max-keys=50&marker=puppy', hostBucket: 'johnsmith', now: at('2007-03-27T19:42:41Z'),
      headers: { host: 'johnsmith.s3.amazonaws.com', date: 'Tue, 27 Mar 2007 19:42:41 +0000', authorization: v2('htDYFYduRNen8P9ZfE/s9SuKy0U=') } }, 'list'],
    [{ method: 'GET', rawUrl: '/?acl', hostBucket: 'johnsmith', now: at('2007-03-27T19:44:46Z'),
      headers: { host: 'johnsmith.s3.amazonaws.com', date: 'Tue, 27 Mar 2007 19:44:46 +0000', authorization: v2('c2WLPFtWHVgbEmeEG93a4cG37dM=') } }, 'acl'],
  ];
  for (const [input, name] of cases) {
    const r = verifyRequest(input, lookupExample);
    assert.deepEqual(r, { version: 2, accessKeyId: 'AKIAIOSFODNN7EXAMPLE', payloadHash: 'UNSIGNED-PAYLOAD', presigned: false }, name);
  }
  // The same GET path-style: the bucket is in the path instead of the Host.
  verifyRequest({ method: 'GET', rawUrl: '/johnsmith/photos/puppy.jpg', now: GET_NOW,
    headers: { host: 's3.amazonaws.com', date: 'Tue, 27 Mar 2007 19:36:42 +0000', authorization: v2('bWq2s1WEIj+Ydj0vQ697zp+IXMU=') } }, lookupExample);
});

test('AWS example: x-amz-date replaces Date (empty Date line); x-amz-* headers lower-cased, sorted, repeats joined', () => {
  verifyRequest({ method: 'DELETE', rawUrl: '/johnsmith/photos/puppy.jpg', now: at('2007-03-27T21:20:26Z'),
    headers: { host: 's3.amazonaws.com', date: 'Tue, 27 Mar 2007 21:20:27 +0000', 'x-amz-date': 'Tue, 27 Mar 2007 21:20:26 +0000', authorization: v2('R4dJ53KECjStyBO5iTBJZ4XVOaI=') } }, lookupExample);
  verifyRequest({ method: 'PUT', rawUrl: '/static.johnsmith.net/db-backup.dat.gz', now: at('2007-03-27T21:06:08Z'),
    headers: {
      host: 's3.amazonaws.com', date: 'Tue, 27 Mar 2007 21:06:08 +0000', 'x-amz-acl': 'public-read', 'content-type': 'application/x-download',
      'content-md5': '4gJE4saaMU4BqNR0kLY+lw==', 'x-amz-meta-reviewedby': 'joe@johnsmith.net, jane@johnsmith.net', 'x-amz-meta-filechecksum': '0x02661779',
      'x-amz-meta-checksumalgorithm': 'crc32', 'content-disposition': 'attachment; filename=database.dat', 'content-encoding': 'gzip',
      authorization: v2('ilyl83RwaSoYIEdixDQcA4OnAnc='),
    },
    headersDistinct: { 'x-amz-meta-reviewedby': ['joe@johnsmith.net', 'jane@johnsmith.net'] },
  }, lookupExample);
});

test('AWS example: query-string auth (Expires, Signature %-encoded) until it expires', () => {
  const input = (now: string): AuthInput => ({
    method: 'GET', rawUrl: '/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620',
    hostBucket: 'johnsmith', headers: { host: 'johnsmith.s3.amazonaws.com' }, now: at(now),
  });
  assert.deepEqual(verifyRequest(input('2007-03-28T00:00:00Z'), lookupExample),
    { version: 2, accessKeyId: 'AKIAIOSFODNN7EXAMPLE', payloadHash: 'UNSIGNED-PAYLOAD', presigned: true });
  // A '+' left unescaped reads as a space; the signature still verifies.
  verifyRequest({ ...input('2007-03-28T00:00:00Z'), rawUrl: input('x').rawUrl.replace('%2B', '+') }, lookupExample);
  rejects(input('2007-03-29T03:40:21Z'), 'AccessDenied', (e) => {
    assert.equal(e.message, 'Request has expired');
    assert.equal(e.status, 403);
  });
  rejects({ ...input('2007-03-28T00:00:00Z'), rawUrl: '/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620' }, 'AccessDenied');
  rejects({ ...input('2007-03-28T00:00:00Z'), rawUrl: '/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=x&Expires=soon' }, 'AccessDenied');
  // Signed for another key: SignatureDoesNotMatch with the string the gateway signed.
  rejects({ ...input('2007-03-28T00:00:00Z'), rawUrl: input('x').rawUrl.replace('puppy', 'kitten') }, 'SignatureDoesNotMatch', (e) => {
    assert.equal(e.details.StringToSign, 'GET\n\n\n1175139620\n/johnsmith/photos/kitten.jpg');
    assert.equal(e.details.SignatureProvided, 'NpgCjnDzrM+WFzoENXmpNDUsSn8=');
    assert.equal(e.details.AWSAccessKeyId, 'AKIAIOSFODNN7EXAMPLE');
  });
});

test('header auth errors: malformed, unknown key, bad or skewed date, wrong signature, two mechanisms', () => {
  const base: AuthInput = { method: 'GET', rawUrl: '/johnsmith/photos/puppy.jpg', now: GET_NOW,
    headers: { host: 's3.amazonaws.com', date: 'Tue, 27 Mar 2007 19:36:42 +0000', authorization: v2('bWq2s1WEIj+Ydj0vQ697zp+IXMU=') } };
  const withHeaders = (h: Record<string, string | undefined>): AuthInput => ({ ...base, headers: { ...base.headers, ...h } });
  for (const bad of ['AWS HAHAHA', 'AWS', 'AWS :sig', 'AWS AKIAIOSFODNN7EXAMPLE:']) {
    rejects(withHeaders({ authorization: bad }), 'InvalidArgument', (e) => assert.equal(e.status, 400));
  }
  rejects(withHeaders({ authorization: 'AWS AKIAIGR7ZNNBHC5BKSUB:FWeDfwojDSdS2Ztmpfeubhd9isU=' }), 'InvalidAccessKeyId');
  for (const date of ['Bad Date', '', 'Tue, 07 Jul 1950 21:53:04 GMT']) rejects(withHeaders({ 'x-amz-date': date }), 'AccessDenied');
  rejects(withHeaders({ date: undefined }), 'AccessDenied');
  for (const date of ['Tue, 07 Jul 2010 21:53:04 GMT', 'Tue, 07 Jul 9999 21:53:04 GMT', 'Tue, 27 Mar 2007 19:52:43 +0000']) {
    rejects(withHeaders({ 'x-amz-date': date }), 'RequestTimeTooSkewed', (e) => assert.equal(e.details.MaxAllowedSkewMilliseconds, 900000));
  }
  // 14 minutes off is still inside the window (and then the signature decides).
  rejects(withHeaders({ 'x-amz-date': 'Tue, 27 Mar 2007 19:50:42 +0000' }), 'SignatureDoesNotMatch');
  rejects(withHeaders({ authorization: v2('bWq2s1WEIj+Ydj0vQ697zp+IXMV=') }), 'SignatureDoesNotMatch', (e) => {
    assert.equal(e.details.StringToSign, 'GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg');
    assert.match(String(e.details.StringToSignBytes), /^47 45 54 0a 0a 0a 54 75 65/);
  });
  // A header the client did not sign changes the string to sign: a content-type added in transit.
  rejects(withHeaders({ 'content-type': 'text/plain' }), 'SignatureDoesNotMatch');
  rejects(withHeaders({ 'x-amz-meta-added': 'x' }), 'SignatureDoesNotMatch');
  rejects({ ...base, rawUrl: base.rawUrl + '?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=x&Expires=1' }, 'InvalidArgument');
});

test('sub-resources are signed (and only they): uploadId and partNumber yes, max-keys no', () => {
  const date = 'Tue, 27 Mar 2007 19:36:42 +0000';
  const req = (rawUrl: string, sig: string): AuthInput => ({ method: 'PUT', rawUrl, now: GET_NOW, headers: { host: 's3.amazonaws.com', date, authorization: v2(sig) } });
  // Signature of "PUT\n\n\n<date>\n/b/k?partNumber=2&uploadId=a b" (values decoded, names sorted).
  const sig = 'tBr9TNn8mnwpXHBSJx3MRtGTH7M=';
  verifyRequest(req('/b/k?uploadId=a%20b&partNumber=2', sig), lookupExample);
  verifyRequest(req('/b/k?uploadId=a%20b&partNumber=2&x-id=UploadPart', sig), lookupExample);
  rejects(req('/b/k?uploadId=a%20b&partNumber=3', sig), 'SignatureDoesNotMatch');
});

test('a signed x-amz-content-sha256 becomes the payload hash to check; aws-chunked modes need SigV4', () => {
  const date = 'Tue, 27 Mar 2007 19:36:42 +0000';
  const req = (sha: string): AuthInput => {
    const sts = `PUT\n\n\n${date}\nx-amz-content-sha256:${sha}\n/b/k`;
    const sig = createHmac('sha1', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY').update(sts).digest('base64');
    return { method: 'PUT', rawUrl: '/b/k', now: GET_NOW, headers: { host: 's3.amazonaws.com', date, 'x-amz-content-sha256': sha, 'content-length': '3', authorization: v2(sig) } };
  };
  const hex = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
  assert.equal(verifyRequest(req(hex), lookupExample).payloadHash, hex);
  assert.equal(verifyRequest(req('UNSIGNED-PAYLOAD'), lookupExample).payloadHash, 'UNSIGNED-PAYLOAD');
  rejects(req('STREAMING-AWS4-HMAC-SHA256-PAYLOAD'), 'InvalidRequest');
});

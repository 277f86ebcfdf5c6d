import { test } from 'node:test';
import assert from 'node:assert/strict';
import { presignUrl, signRequest } from './sign.ts';
import { encodeS3Path, normalizedPath } from './canonical.ts';
import { EMPTY_SHA256 as EMPTY, EXAMPLE, EXAMPLE_NOW } from './aws-examples.fixture.ts';

const BASE = 'https://examplebucket.s3.amazonaws.com';

function signatureOf(authorization: string): string {
  return /Signature=([0-9a-f]{64})$/.exec(authorization)![1]!;
}

test('signRequest reproduces the AWS "GET object" example (Range header)', () => {
  const h = signRequest({ method: 'GET', url: new URL(`${BASE}/test.txt`), headers: { Range: 'bytes=0-9' }, payloadHash: EMPTY }, EXAMPLE, 'us-east-1', EXAMPLE_NOW);
  assert.equal(h.authorization,
    'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, ' +
    'SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
  assert.equal(h.host, 'examplebucket.s3.amazonaws.com');
  assert.equal(h['x-amz-date'], '20130524T000000Z');
  assert.equal(h['x-amz-content-sha256'], EMPTY);
  assert.equal(h.range, 'bytes=0-9');
});

test('signRequest reproduces the AWS "PUT object" example ($ in the key, Date and storage class signed)', () => {
  const h = signRequest({
    method: 'PUT', url: new URL(`${BASE}/test$file.text`),
    headers: { Date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-storage-class': 'REDUCED_REDUNDANCY' },
    payloadHash: '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
  }, EXAMPLE, 'us-east-1', EXAMPLE_NOW);
  assert.match(h.authorization!, /SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,/);
  assert.equal(signatureOf(h.authorization!), '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd');
});

test('signRequest reproduces the AWS "GET bucket lifecycle" and "list objects" examples (query canonicalisation)', () => {
  const sign = (path: string) => signatureOf(signRequest({ method: 'GET', url: new URL(BASE + path), headers: {}, payloadHash: EMPTY }, EXAMPLE, 'us-east-1', EXAMPLE_NOW).authorization!);
  assert.equal(sign('/?lifecycle'), 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543');
  assert.equal(sign('/?max-keys=2&prefix=J'), '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
  // Order on the wire does not matter: the canonical query is sorted.
  assert.equal(sign('/?prefix=J&max-keys=2'), '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
});

test('signRequest leaves hop-by-hop headers out of the signature but returns them', () => {
  const h = signRequest({
    method: 'PUT', url: new URL(`${BASE}/k`), payloadHash: 'UNSIGNED-PAYLOAD',
    headers: { 'User-Agent': 'x', Expect: '100-continue', 'Content-Length': '5', 'Transfer-Encoding': 'chunked' },
  }, EXAMPLE, 'eu-west-1', EXAMPLE_NOW);
  assert.match(h.authorization!, /SignedHeaders=content-length;host;x-amz-content-sha256;x-amz-date,/);
  assert.match(h.authorization!, /\/20130524\/eu-west-1\/s3\/aws4_request/);
  assert.equal(h['user-agent'], 'x');
  assert.equal(h.expect, '100-continue');
});

test('presignUrl reproduces the AWS presigned GET example', () => {
  const u = presignUrl({ method: 'GET', url: new URL(`${BASE}/test.txt`), expiresSeconds: 86400, region: 'us-east-1' }, EXAMPLE, EXAMPLE_NOW);
  assert.equal(u.href, `${BASE}/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256` +
    '&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z' +
    '&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404');
});

test('presignUrl refuses lifetimes S3 would refuse', () => {
  const url = new URL(`${BASE}/k`);
  for (const s of [0, -1, 604801, 1.5]) {
    assert.throws(() => presignUrl({ method: 'GET', url, expiresSeconds: s, region: 'us-east-1' }, EXAMPLE), RangeError);
  }
  assert.ok(presignUrl({ method: 'GET', url, expiresSeconds: 604800, region: 'us-east-1' }, EXAMPLE));
});

test('encodeS3Path and normalizedPath agree on keys a real SDK sends', () => {
  assert.equal(encodeS3Path('/b/a b+c/ü%/x//y~'), '/b/a%20b%2Bc/%C3%BC%25/x//y~');
  assert.equal(normalizedPath(encodeS3Path('/b/a b+c/ü%')), encodeS3Path('/b/a b+c/ü%'));
  // What WHATWG URL leaves literal gets escaped; valid escapes stay as they are.
  assert.equal(normalizedPath(new URL('http://h/a!b(c)\'d*e%2f').pathname), '/a%21b%28c%29%27d%2Ae%2F');
});

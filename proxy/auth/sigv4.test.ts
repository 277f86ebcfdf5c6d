import { test } from 'node:test';
import assert from 'node:assert/strict';
import { presignUrl, signRequest, verifyRequest, type AuthInput, type SigV4Auth } from './sigv4.ts';
import { EMPTY_SHA256, EXAMPLE, EXAMPLE_NOW, lookupExample, rejects } from './aws-examples.fixture.ts';
import { canonicalHeaderValue, canonicalQuery, canonicalRequest, hmac, stringToSign } from './canonical.ts';
import { deriveSigningKey } from './signing-key.ts';

const HOST = 'examplebucket.s3.amazonaws.com';
const CRED = 'AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request';

function authz(signed: string, sig: string): string {
  return `AWS4-HMAC-SHA256 Credential=${CRED},SignedHeaders=${signed},Signature=${sig}`;
}

/** A request as a Node server receives it, signed by our own client-side signer. */
function signed(method: string, path: string, headers: Record<string, string> = {}, payloadHash = EMPTY_SHA256, now = EXAMPLE_NOW): AuthInput {
  const url = new URL(`http://${HOST}${path}`);
  const h = signRequest({ method, url, headers, payloadHash }, EXAMPLE, 'us-east-1', now);
  return { method, rawUrl: url.pathname + url.search, headers: h, now };
}

/** Signs exactly the given path and headers (WHATWG URL would normalise dot segments away). */
function handSigned(method: string, rawUrl: string, headers: Record<string, string>, payloadHash: string): AuthInput {
  const [path, query = ''] = rawUrl.split('?') as [string, string?];
  const names = Object.keys(headers).sort();
  const canonical = canonicalRequest({
    method, uri: path, query: canonicalQuery(query), signedHeaders: names, headerValue: (n) => canonicalHeaderValue([headers[n]!]), payloadHash,
  });
  const sig = hmac(deriveSigningKey(EXAMPLE.secretAccessKey, '20130524', 'us-east-1'), stringToSign('20130524T000000Z', CRED.slice(CRED.indexOf('/') + 1), canonical));
  return { method, rawUrl, now: EXAMPLE_NOW, headers: { ...headers, authorization: authz(names.join(';'), sig.toString('hex')) } };
}

function verifyV4(input: AuthInput): SigV4Auth {
  const r = verifyRequest(input, lookupExample);
  assert.equal(r.version, 4);
  return r as SigV4Auth;
}

test('verifies the AWS "GET object" example', () => {
  const r = verifyV4({
    method: 'GET', rawUrl: '/test.txt', now: EXAMPLE_NOW,
    headers: {
      host: HOST, range: 'bytes=0-9', 'x-amz-content-sha256': EMPTY_SHA256, 'x-amz-date': '20130524T000000Z',
      authorization: authz('host;range;x-amz-content-sha256;x-amz-date', 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'),
    },
  });
  assert.equal(r.accessKeyId, EXAMPLE.accessKeyId);
  assert.equal(r.payloadHash, EMPTY_SHA256);
  assert.equal(r.presigned, false);
  assert.equal(r.scope, '20130524/us-east-1/s3/aws4_request');
  assert.equal(r.amzDate, '20130524T000000Z');
  assert.equal(r.seedSignature, 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
  assert.equal(r.signingKey.length, 32);
});

test('verifies the AWS "PUT object" example with the key escaped on the wire', () => {
  const r = verifyRequest({
    method: 'PUT', rawUrl: '/test%24file.text', now: EXAMPLE_NOW,
    headers: {
      host: HOST, date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-date': '20130524T000000Z', 'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072', 'content-length': '21',
      authorization: authz('date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class', '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd'),
    },
  }, lookupExample);
  assert.equal(r.payloadHash, '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072');
});

test('verifies the AWS "GET bucket lifecycle" and "list objects" examples, valueless key and any query order', () => {
  const get = (rawUrl: string, sig: string) => verifyRequest({
    method: 'GET', rawUrl, now: EXAMPLE_NOW,
    headers: { host: HOST, 'x-amz-content-sha256': EMPTY_SHA256, 'x-amz-date': '20130524T000000Z', authorization: authz('host;x-amz-content-sha256;x-amz-date', sig) },
  }, lookupExample);
  get('/?lifecycle', 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543');
  get('/?lifecycle=', 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543');
  get('/?max-keys=2&prefix=J', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
  get('/?prefix=J&max-keys=2', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
});

test('verifies the AWS presigned GET example until it expires', () => {
  const rawUrl = '/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
    '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
  const at = (iso: string): AuthInput => ({ method: 'GET', rawUrl, headers: { host: HOST }, now: new Date(iso) });
  const r = verifyV4(at('2013-05-24T12:00:00Z'));
  assert.equal(r.presigned, true);
  assert.equal(r.payloadHash, 'UNSIGNED-PAYLOAD');
  assert.equal(r.seedSignature, 'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404');
  rejects(at('2013-05-25T00:00:01Z'), 'AccessDenied', (e) => {
    assert.equal(e.message, 'Request has expired');
    assert.deepEqual(e.details, { 'X-Amz-Expires': 86400, Expires: '2013-05-25T00:00:00Z', ServerTime: '2013-05-25T00:00:01Z' });
  });
  rejects(at('2013-05-23T23:00:00Z'), 'AccessDenied', (e) => assert.match(e.message, /not valid yet/));
  rejects({ ...at('2013-05-24T12:00:00Z'), method: 'PUT' }, 'SignatureDoesNotMatch');
});

test('round trips: our signer → our verifier for awkward keys, queries, any region', () => {
  const cases = [
    '/b/a%20b%2Bc', '/b/%C3%BC%E2%82%AC%25', '/b/x//y//z', '/b/k?list-type=2&prefix=a%2Fb&delimiter=%2F', '/b/?uploads',
    '/b/k?x-id=PutObject&partNumber=3&uploadId=a%2Bb',
  ];
  for (const path of cases) verifyRequest(signed('GET', path), lookupExample);
  const h = signRequest({ method: 'GET', url: new URL(`http://${HOST}/k`), headers: {}, payloadHash: EMPTY_SHA256 }, EXAMPLE, 'auto', EXAMPLE_NOW);
  assert.equal(verifyV4({ method: 'GET', rawUrl: '/k', headers: h, now: EXAMPLE_NOW }).scope, '20130524/auto/s3/aws4_request');
  const u = presignUrl({ method: 'PUT', url: new URL(`http://${HOST}/b/a%20b?partNumber=1`), expiresSeconds: 60, region: 'eu-west-3' }, EXAMPLE, EXAMPLE_NOW);
  assert.equal(verifyRequest({ method: 'PUT', rawUrl: u.pathname + u.search, headers: { host: HOST }, now: EXAMPLE_NOW }, lookupExample).presigned, true);
});

test('no path normalisation: dot segments and empty segments are signed as sent', () => {
  const h = { host: HOST, 'x-amz-date': '20130524T000000Z', 'x-amz-content-sha256': EMPTY_SHA256 };
  verifyRequest(handSigned('GET', '/b/x//y/./../z', h, EMPTY_SHA256), lookupExample);
  rejects({ ...handSigned('GET', '/b/x//y/./../z', h, EMPTY_SHA256), rawUrl: '/b/x/z' }, 'SignatureDoesNotMatch');
});

test('a client that signs the raw path it sent (no re-encoding) is accepted', () => {
  // Signed as '/b/a!b', sent literally: the strict form '/b/a%21b' fails first, the raw one matches.
  const h = signRequest({ method: 'GET', url: new URL(`http://${HOST}/b/a%21b`), headers: {}, payloadHash: EMPTY_SHA256 }, EXAMPLE, 'us-east-1', EXAMPLE_NOW);
  verifyRequest({ method: 'GET', rawUrl: '/b/a!b', headers: h, now: EXAMPLE_NOW }, lookupExample);
});

test('header values: trimmed, space runs collapsed, duplicates joined with a comma, latin1 bytes kept', () => {
  const utf8 = Buffer.from('Grüße à', 'utf8').toString('latin1'); // 'à' is C3 A0: the A0 must not be trimmed
  const input = signed('PUT', '/b/k', { 'x-amz-meta-a': '  two   spaces ', 'x-amz-meta-u': utf8, 'x-amz-meta-d': 'one,two' });
  verifyRequest(input, lookupExample);
  // Node gives duplicates joined with ", " in headers and apart in headersDistinct.
  const dup = signed('PUT', '/b/k', { 'x-amz-meta-d': 'one,two' });
  verifyRequest({ ...dup, headers: { ...dup.headers, 'x-amz-meta-d': 'one, two' }, headersDistinct: { 'x-amz-meta-d': ['one', ' two'] } }, lookupExample);
});

test('no credentials at all is AccessDenied; SigV2 goes to its verifier; two mechanisms are refused', () => {
  rejects({ method: 'GET', rawUrl: '/b/k', headers: { host: HOST } }, 'AccessDenied');
  rejects({ method: 'GET', rawUrl: '/b/k?AWSAccessKeyId=A&Expires=1&Signature=x', headers: { host: HOST } }, 'InvalidAccessKeyId');
  rejects({ method: 'GET', rawUrl: '/b/k', headers: { host: HOST, authorization: 'AWS AKID:sig' } }, 'InvalidAccessKeyId');
  const both = signed('GET', '/b/k?X-Amz-Signature=ab');
  rejects(both, 'InvalidArgument');
  rejects({ ...signed('GET', '/b/k?AWSAccessKeyId=A&Expires=1&Signature=x') }, 'InvalidArgument');
});

test('unknown access key is InvalidAccessKeyId naming the key', () => {
  const input = signed('GET', '/b/k');
  input.headers.authorization = String(input.headers.authorization).replace('AKIAIOSFODNN7EXAMPLE', 'AKIANOTKNOWN');
  rejects(input, 'InvalidAccessKeyId', (e) => assert.equal(e.details.AWSAccessKeyId, 'AKIANOTKNOWN'));
});

test('a wrong signature is SignatureDoesNotMatch with the debugging details S3 gives', () => {
  const input = signed('GET', '/b/k', { 'x-amz-meta-x': 'v' });
  input.headers['x-amz-meta-x'] = 'tampered';
  rejects(input, 'SignatureDoesNotMatch', (e) => {
    assert.deepEqual(Object.keys(e.details).sort(), ['AWSAccessKeyId', 'CanonicalRequest', 'CanonicalRequestBytes', 'SignatureProvided', 'StringToSign', 'StringToSignBytes']);
    assert.equal(e.details.AWSAccessKeyId, EXAMPLE.accessKeyId);
    assert.match(String(e.details.CanonicalRequest), /^GET\n\/b\/k\n\nhost:examplebucket\.s3\.amazonaws\.com\n.*x-amz-meta-x:tampered\n/s);
    assert.match(String(e.details.StringToSign), /^AWS4-HMAC-SHA256\n20130524T000000Z\n20130524\/us-east-1\/s3\/aws4_request\n[0-9a-f]{64}$/);
    assert.match(String(e.details.StringToSignBytes), /^41 57 53 34 2d/);
    assert.equal(e.status, 403);
  });
  const wrongSecret = signRequest({ method: 'GET', url: new URL(`http://${HOST}/k`), headers: {}, payloadHash: EMPTY_SHA256 },
    { accessKeyId: EXAMPLE.accessKeyId, secretAccessKey: 'nope' }, 'us-east-1', EXAMPLE_NOW);
  rejects({ method: 'GET', rawUrl: '/k', headers: wrongSecret, now: EXAMPLE_NOW }, 'SignatureDoesNotMatch');
  rejects({ ...signed('GET', '/b/k?a=1'), rawUrl: '/b/k?a=2' }, 'SignatureDoesNotMatch');
  rejects({ ...signed('GET', '/b/k'), method: 'DELETE' }, 'SignatureDoesNotMatch');
});

test('malformed SigV4 Authorization headers are AuthorizationHeaderMalformed, other schemes InvalidArgument; SigV4a is NotImplemented', () => {
  const base = signed('GET', '/b/k');
  const sig = /Signature=(\w+)/.exec(String(base.headers.authorization))![1]!;
  const withAuth = (a: string): AuthInput => ({ ...base, headers: { ...base.headers, authorization: a } });
  const sh = 'host;x-amz-content-sha256;x-amz-date';
  rejects(withAuth(`AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=${sh}`), 'AuthorizationHeaderMalformed');
  rejects(withAuth(`AWS4-HMAC-SHA256 SignedHeaders=${sh}, Signature=${sig}`), 'AuthorizationHeaderMalformed');
  rejects(withAuth(`AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3, SignedHeaders=${sh}, Signature=${sig}`), 'AuthorizationHeaderMalformed');
  rejects(withAuth(`AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/ec2/aws4_request, SignedHeaders=${sh}, Signature=${sig}`), 'AuthorizationHeaderMalformed');
  rejects(withAuth(`AWS4-HMAC-SHA256 Credential=${CRED}, SignedHeaders=${sh}, Signature=zz`), 'AuthorizationHeaderMalformed');
  // A scheme AWS does not know is InvalidArgument naming the header, with no parser detail.
  for (const other of [`AWS4-HMAC-SHA512 Credential=${CRED}, SignedHeaders=${sh}, Signature=${sig}`, 'Bearer abc', 'Basic dXNlcjpwYXNz']) {
    rejects(withAuth(other), 'InvalidArgument', (e) => {
      assert.equal(e.message, 'Unsupported Authorization Type');
      assert.deepEqual(e.details, { ArgumentName: 'Authorization', ArgumentValue: other });
      assert.equal(e.status, 400);
    });
  }
  rejects(withAuth(`AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130523/us-east-1/s3/aws4_request, SignedHeaders=${sh}, Signature=${sig}`),
    'AuthorizationHeaderMalformed', (e) => assert.match(e.message, /credential date/));
  rejects(withAuth(`AWS4-ECDSA-P256-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/s3/aws4_request, SignedHeaders=${sh}, Signature=${sig}`), 'NotImplemented');
  rejects({ ...base, headers: { ...base.headers, 'x-amz-content-sha256': 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD' } }, 'NotImplemented');
});

test('clock skew beyond 15 minutes is RequestTimeTooSkewed; a missing date is AccessDenied', () => {
  const input = signed('GET', '/b/k');
  verifyRequest({ ...input, now: new Date(EXAMPLE_NOW.getTime() + 14 * 60_000) }, lookupExample);
  rejects({ ...input, now: new Date(EXAMPLE_NOW.getTime() + 16 * 60_000) }, 'RequestTimeTooSkewed', (e) => {
    assert.deepEqual(e.details, { RequestTime: '20130524T000000Z', ServerTime: '2013-05-24T00:16:00Z', MaxAllowedSkewMilliseconds: 900000 });
  });
  rejects({ ...input, now: new Date(EXAMPLE_NOW.getTime() - 16 * 60_000) }, 'RequestTimeTooSkewed');
  const noDate = { ...input.headers };
  delete noDate['x-amz-date'];
  rejects({ ...input, headers: noDate }, 'AccessDenied', (e) => assert.match(e.message, /Date/));
  rejects({ ...input, headers: { ...input.headers, 'x-amz-date': '2013-05-24' } }, 'AccessDenied');
});

test('the Date header stands in for x-amz-date when that is absent', () => {
  const h = signRequest({ method: 'GET', url: new URL(`http://${HOST}/k`), headers: { date: 'Fri, 24 May 2013 00:00:00 GMT' }, payloadHash: EMPTY_SHA256 }, EXAMPLE, 'us-east-1', EXAMPLE_NOW);
  // Re-sign without x-amz-date: the signer uses the Date header's instant, which is the same here.
  const { 'x-amz-date': _drop, ...rest } = h;
  const auth = rest.authorization!.replace('x-amz-content-sha256;x-amz-date', 'x-amz-content-sha256');
  rejects({ method: 'GET', rawUrl: '/k', headers: { ...rest, authorization: auth }, now: EXAMPLE_NOW }, 'SignatureDoesNotMatch', (e) => {
    assert.match(String(e.details.StringToSign), /\n20130524T000000Z\n/);
  });
});

test('x-amz-* headers or host outside the signature are refused', () => {
  const input = signed('PUT', '/b/k');
  rejects({ ...input, headers: { ...input.headers, 'x-amz-meta-sneaky': '1' } }, 'AccessDenied', (e) => {
    assert.equal(e.message, 'There were headers present in the request which were not signed');
    assert.equal(e.details.HeadersNotSigned, 'x-amz-meta-sneaky');
  });
  // Other unsigned headers are fine (proxies add them).
  verifyRequest({ ...input, headers: { ...input.headers, 'user-agent': 'x', 'x-amzn-trace-id': 'y', 'x-forwarded-for': 'z' } }, lookupExample);
  const h = input.headers;
  const noHost = String(h.authorization).replace('SignedHeaders=host;', 'SignedHeaders=');
  rejects({ ...input, headers: { ...h, authorization: noHost } }, 'AccessDenied');
});

test('x-amz-content-sha256: required for bodies, implied empty for bodiless GET/HEAD/DELETE, validated', () => {
  // A generic SigV4 signer (Postman, aws4) hashes the empty body itself and sends no header.
  const bare = (m: string, extra: Record<string, string> = {}) =>
    handSigned(m, '/b/k', { host: HOST, 'x-amz-date': '20130524T000000Z', ...extra }, EMPTY_SHA256);
  for (const m of ['GET', 'HEAD', 'DELETE']) assert.equal(verifyRequest(bare(m), lookupExample).payloadHash, EMPTY_SHA256);
  rejects(bare('PUT', { 'content-length': '3' }), 'InvalidRequest', (e) => assert.match(e.message, /x-amz-content-sha256/));
  rejects(bare('DELETE', { 'content-length': '3' }), 'InvalidRequest');
  rejects(bare('POST'), 'InvalidRequest');
  rejects(signed('PUT', '/b/k', {}, 'not-a-hash'), 'InvalidArgument');
  for (const mode of ['UNSIGNED-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER']) {
    assert.equal(verifyRequest(signed('PUT', '/b/k', {}, mode), lookupExample).payloadHash, mode);
  }
});

test('presigned parameter errors: missing, malformed, lifetime out of 1..604800', () => {
  const url = presignUrl({ method: 'GET', url: new URL(`http://${HOST}/b/k`), expiresSeconds: 3600, region: 'us-east-1' }, EXAMPLE, EXAMPLE_NOW);
  const q = url.search;
  const at = (query: string): AuthInput => ({ method: 'GET', rawUrl: `/b/k${query}`, headers: { host: HOST }, now: EXAMPLE_NOW });
  verifyRequest(at(q), lookupExample);
  rejects(at(q.replace(/&X-Amz-Date=[^&]*/, '')), 'AuthorizationQueryParametersError');
  rejects(at(q.replace(/X-Amz-Expires=3600/, 'X-Amz-Expires=soon')), 'AuthorizationQueryParametersError', (e) => assert.equal(e.status, 400));
  for (const bad of ['0', '-5', '604801']) {
    rejects(at(q.replace(/X-Amz-Expires=3600/, `X-Amz-Expires=${bad}`)), 'AuthorizationQueryParametersError', (e) => assert.equal(e.status, 403));
  }
  rejects(at(q.replace(/X-Amz-Date=\w+/, 'X-Amz-Date=yesterday')), 'AuthorizationQueryParametersError');
  rejects(at(q.replace(/X-Amz-Date=20130524/, 'X-Amz-Date=20130525')), 'AuthorizationQueryParametersError');
  rejects(at(q.replace(/X-Amz-Algorithm=[^&]*/, 'X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256')), 'NotImplemented');
  rejects(at(q.replace(/X-Amz-Algorithm=[^&]*/, 'X-Amz-Algorithm=HMAC')), 'AuthorizationQueryParametersError');
  rejects(at(q.replace('%2Fs3%2F', '%2Fsqs%2F')), 'AuthorizationQueryParametersError');
  rejects(at(q.replace(/X-Amz-Expires=3600/, 'X-Amz-Expires=3601')), 'SignatureDoesNotMatch');
  rejects(at(q + '&extra=1'), 'SignatureDoesNotMatch');
  rejects({ ...at(q), headers: { host: HOST, 'x-amz-meta-a': 'b' } }, 'AccessDenied');
});

test('presigned X-Amz-Content-Sha256: used as the payload hash when signed', () => {
  const u = presignUrl({ method: 'PUT', url: new URL(`http://${HOST}/b/k?X-Amz-Content-Sha256=${EMPTY_SHA256}`), expiresSeconds: 60, region: 'us-east-1' }, EXAMPLE, EXAMPLE_NOW);
  // presignUrl always signs UNSIGNED-PAYLOAD: the verifier falls back to it.
  assert.equal(verifyRequest({ method: 'PUT', rawUrl: u.pathname + u.search, headers: { host: HOST }, now: EXAMPLE_NOW }, lookupExample).payloadHash, 'UNSIGNED-PAYLOAD');
});

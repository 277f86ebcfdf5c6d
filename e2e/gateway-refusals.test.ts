// Requests the gateway must refuse with the S3 error AWS gives (and a request id), changing
// nothing: anonymous access to anything, unknown payload modes, feature headers it cannot honour.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from './lib/gateway.ts';
import { errorCode, objectPath, rawRequest, xmlField, type RawRequest, type RawResponse } from './lib/raw-s3.ts';

let gw: TestGateway;
const B = 'refusals';

function expectError(res: RawResponse, status: number, code: string, what = ''): void {
  assert.equal(res.status, status, `${what} status (body: ${res.body})`);
  if (res.body.length) {
    assert.equal(errorCode(res.body), code, `${what} (body: ${res.body})`);
    assert.equal(xmlField(res.body, 'RequestId'), res.headers['x-amz-request-id']);
  }
}
const signed = (req: Omit<RawRequest, 'creds'>) => rawRequest(gw.url, { ...req, creds: gw.creds });

before(async () => {
  gw = await startTestGateway();
  assert.equal((await signed({ method: 'PUT', path: `/${B}` })).status, 200);
  assert.equal((await signed({ method: 'PUT', path: objectPath(B, 'k'), body: 'keep' })).status, 200);
});
after(async () => { await gw?.close(); });

test('anonymous requests are AccessDenied before anything else, sub-resources and unknown operations included', async () => {
  const cases: [string, string, string?][] = [
    ['GET', `/${B}`, 'acl'], ['PUT', `/${B}`, 'policy'], ['GET', `/${B}`, 'lifecycle'], ['PUT', `/${B}`, 'versioning'],
    ['GET', `/${B}`, 'versioning'], ['PUT', objectPath(B, 'k'), 'tagging'], ['DELETE', objectPath(B, 'k')], ['POST', `/${B}`],
    ['PATCH', objectPath(B, 'k')], ['GET', objectPath(B, 'k')], ['HEAD', objectPath(B, 'k')],
  ];
  for (const [method, path, query] of cases) {
    expectError(await rawRequest(gw.url, { method, path, query }), 403, 'AccessDenied', `${method} ${path}?${query ?? ''}`);
  }
  assert.equal((await signed({ method: 'GET', path: objectPath(B, 'k') })).body.toString(), 'keep');
});

test('an unknown x-amz-content-sha256 mode is a 400, not NotImplemented', async () => {
  for (const mode of ['STREAMING-BOGUS', 'STREAMING-UNSIGNED-PAYLOAD', 'nonsense']) {
    expectError(await signed({ method: 'PUT', path: objectPath(B, 'k'), body: 'x', payloadHash: mode }), 400, 'InvalidArgument', mode);
  }
  assert.equal((await signed({ method: 'GET', path: objectPath(B, 'k') })).body.toString(), 'keep');
});

test('feature headers the gateway cannot honour are NotImplemented and write nothing; STANDARD and private are accepted', async () => {
  const refused: [string, string][] = [
    ['x-amz-object-lock-mode', 'GOVERNANCE'], ['x-amz-object-lock-retain-until-date', '2030-01-01T00:00:00Z'],
    ['x-amz-object-lock-legal-hold', 'ON'], ['x-amz-server-side-encryption', 'AES256'], ['x-amz-server-side-encryption', 'aws:kms'],
    ['x-amz-server-side-encryption-aws-kms-key-id', 'k'], ['x-amz-server-side-encryption-customer-algorithm', 'AES256'],
    ['x-amz-tagging', 'a=b'], ['x-amz-storage-class', 'GLACIER'], ['x-amz-website-redirect-location', '/x'],
    ['x-amz-acl', 'public-read'], ['x-amz-grant-read', 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'],
  ];
  for (const [h, v] of refused) {
    expectError(await signed({ method: 'PUT', path: objectPath(B, 'k'), body: 'lost', headers: { [h]: v } }), 501, 'NotImplemented', h);
    expectError(await signed({ method: 'POST', path: objectPath(B, 'mp'), query: 'uploads=', headers: { [h]: v } }), 501, 'NotImplemented', `${h} on CreateMultipartUpload`);
  }
  expectError(await signed({ method: 'PUT', path: '/refusals-locked', headers: { 'x-amz-bucket-object-lock-enabled': 'true' } }), 501, 'NotImplemented', 'bucket lock');
  assert.equal((await signed({ method: 'HEAD', path: '/refusals-locked' })).status, 404);
  expectError(await signed({ method: 'PUT', path: objectPath(B, 'copy'), headers: { 'x-amz-copy-source': `/${B}/k`, 'x-amz-server-side-encryption': 'AES256' } }), 501, 'NotImplemented', 'copy');
  assert.equal((await signed({ method: 'GET', path: objectPath(B, 'k') })).body.toString(), 'keep');
  assert.equal((await signed({ method: 'HEAD', path: objectPath(B, 'copy') })).status, 404);
  for (const headers of [{ 'x-amz-storage-class': 'STANDARD' }, { 'x-amz-acl': 'private' }, { 'x-amz-acl': 'bucket-owner-full-control' }] as Record<string, string>[]) {
    assert.equal((await signed({ method: 'PUT', path: objectPath(B, 'ok'), body: 'fine', headers })).status, 200, JSON.stringify(headers));
  }
});

test('ACLs as applications use them: the owner has FULL_CONTROL; private is accepted, anything else refused', async () => {
  for (const path of [`/${B}`, objectPath(B, 'k')]) {
    const got = await signed({ method: 'GET', path, query: 'acl=' });
    assert.equal(got.status, 200, got.body.toString());
    assert.match(got.body.toString(), /<Permission>FULL_CONTROL<\/Permission>/);
    assert.match(got.body.toString(), /xsi:type="CanonicalUser"/);
    assert.equal((await signed({ method: 'PUT', path, query: 'acl=', headers: { 'x-amz-acl': 'private' } })).status, 200);
    expectError(await signed({ method: 'PUT', path, query: 'acl=', headers: { 'x-amz-acl': 'public-read' } }), 501, 'NotImplemented', path);
    // Sending back what GetAcl answered is accepted; a grant to everyone is not.
    assert.equal((await signed({ method: 'PUT', path, query: 'acl=', body: got.body })).status, 200);
    const everyone = got.body.toString().replace('</AccessControlList>', '<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList>');
    expectError(await signed({ method: 'PUT', path, query: 'acl=', body: everyone }), 501, 'NotImplemented', `${path} grant`);
  }
  expectError(await signed({ method: 'GET', path: objectPath(B, 'missing'), query: 'acl=' }), 404, 'NoSuchKey');
});

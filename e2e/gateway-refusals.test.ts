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

// Bucket CORS on the embedded store, as a browser app uses it: Put/Get/DeleteBucketCors with the
// SDK, a preflight OPTIONS (unsigned, as browsers send it) answered from the rules, and the
// Access-Control-* headers on the answer to an allowed origin's request.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, DeleteBucketCorsCommand, GetBucketCorsCommand, PutBucketCorsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startTestGateway, type TestGateway } from './lib/gateway.ts';
import { errorCode, objectPath, rawRequest } from './lib/raw-s3.ts';
import { s3Error } from './lib/s3.ts';

let gw: TestGateway;
let c: S3Client;
const B = 'cors-app';

before(async () => {
  gw = await startTestGateway();
  c = gw.client();
  await c.send(new CreateBucketCommand({ Bucket: B }));
  await c.send(new PutObjectCommand({ Bucket: B, Key: 'page.json', Body: '{}' }));
});
after(async () => { await gw?.close(); });

const preflight = (origin: string, method: string, headers?: string) => rawRequest(gw.url, {
  method: 'OPTIONS', path: objectPath(B, 'page.json'),
  headers: { origin, 'access-control-request-method': method, ...(headers ? { 'access-control-request-headers': headers } : {}) },
});

test('no configuration: GetBucketCors is NoSuchCORSConfiguration and a preflight is refused', async () => {
  assert.equal((await s3Error(c.send(new GetBucketCorsCommand({ Bucket: B })))).name, 'NoSuchCORSConfiguration');
  const r = await preflight('https://app.example', 'GET');
  assert.equal(r.status, 403);
  assert.equal(errorCode(r.body), 'AccessDenied');
});

test('rules round-trip, preflights are answered from them, and allowed requests carry the CORS headers', async () => {
  await c.send(new PutBucketCorsCommand({ Bucket: B, CORSConfiguration: { CORSRules: [
    { AllowedOrigins: ['https://*.example'], AllowedMethods: ['GET', 'PUT'], AllowedHeaders: ['content-type', 'x-amz-*'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 600 },
  ] } }));
  const got = await c.send(new GetBucketCorsCommand({ Bucket: B }));
  assert.deepEqual(got.CORSRules?.map((r) => [r.AllowedOrigins, r.AllowedMethods, r.AllowedHeaders, r.ExposeHeaders, r.MaxAgeSeconds]),
    [[['https://*.example'], ['GET', 'PUT'], ['content-type', 'x-amz-*'], ['ETag'], 600]]);

  const ok = await preflight('https://app.example', 'PUT', 'Content-Type, X-Amz-Date');
  assert.equal(ok.status, 200, ok.body.toString());
  assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example');
  assert.match(String(ok.headers['access-control-allow-methods']), /PUT/);
  assert.equal(ok.headers['access-control-allow-headers'], 'Content-Type, X-Amz-Date');
  assert.equal(ok.headers['access-control-max-age'], '600');
  for (const [origin, method, headers] of [['https://evil.test', 'GET'], ['https://app.example', 'DELETE'], ['https://app.example', 'PUT', 'authorization-x']] as [string, string, string?][]) {
    assert.equal((await preflight(origin, method, headers)).status, 403, `${origin} ${method} ${headers ?? ''}`);
  }
  const get = await rawRequest(gw.url, { method: 'GET', path: objectPath(B, 'page.json'), headers: { origin: 'https://app.example' }, creds: gw.creds });
  assert.equal(get.status, 200);
  assert.equal(get.headers['access-control-allow-origin'], 'https://app.example');
  assert.equal(get.headers['access-control-expose-headers'], 'ETag');
  const other = await rawRequest(gw.url, { method: 'GET', path: objectPath(B, 'page.json'), headers: { origin: 'https://evil.test' }, creds: gw.creds });
  assert.equal(other.headers['access-control-allow-origin'], undefined);

  await c.send(new DeleteBucketCorsCommand({ Bucket: B }));
  assert.equal((await s3Error(c.send(new GetBucketCorsCommand({ Bucket: B })))).name, 'NoSuchCORSConfiguration');
  assert.equal((await preflight('https://app.example', 'GET')).status, 403);
});

test('a CORS configuration that is not one is refused', async () => {
  for (const body of ['<CORSConfiguration/>', '<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>',
    '<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>']) {
    const r = await rawRequest(gw.url, { method: 'PUT', path: `/${B}`, query: 'cors=', body, creds: gw.creds, headers: { 'content-md5': Buffer.from((await import('node:crypto')).createHash('md5').update(body).digest()).toString('base64') } });
    assert.equal(r.status, 400, `${body}: ${r.body}`);
    assert.ok(['MalformedXML', 'InvalidRequest'].includes(errorCode(r.body) ?? ''), String(r.body));
  }
});

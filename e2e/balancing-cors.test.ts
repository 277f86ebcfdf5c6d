// Bucket CORS on a virtual bucket over a real MinIO backend, as browser apps and tools use it:
// the rules set with the JS SDK and boto3, kept in the placement index (so they survive a gateway
// restart), raw preflights (unsigned, as browsers send them) allowed and refused by origin, method
// and headers, the Access-Control-* headers on the answers to allowed requests, and the S3 errors
// for configurations that are not ones.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteBucketCorsCommand, GetBucketCorsCommand, PutBucketCorsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startMinio, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store } from '../proxy/backends/s3/store.ts';
import { openVirtualStore, parseBalancingConfig, type VirtualStore } from '../proxy/virtual/index.ts';
import { startFront } from '../proxy/front.ts';
import { createLogger } from '../proxy/observability/log.ts';
import type { Gateway } from '../proxy/server.ts';
import { errorCode, objectPath, rawRequest } from './lib/raw-s3.ts';
import { s3Error } from './lib/s3.ts';
import { isolatedAwsEnv, noPython, runPython } from './lib/python.ts';

const creds = { accessKeyId: 'AKCORS' + randomBytes(4).toString('hex').toUpperCase(), secretAccessKey: randomBytes(24).toString('base64url') };
const VB = 'web-assets';
let minio: Minio;
let dir: string;
let store: VirtualStore;
let gw: Gateway;
let s3: S3Client;

async function open(): Promise<void> {
  store = await openVirtualStore(parseBalancingConfig({
    backends: [{ name: 'minio', endpoint: minio.endpoint, bucket: 'fg-cors', credentials: minio.credentials }],
    virtualBuckets: [{ name: VB, backends: ['minio'] }],
    index: { kind: 'sqlite', path: join(dir, 'index.db') },
  }));
  gw = await startFront({
    store, virtual: store, keys: (id) => (id === creds.accessKeyId ? creds.secretAccessKey : undefined),
    host: '127.0.0.1', port: 0, domains: ['localhost'], region: 'us-east-1', idleTimeoutMs: 10_000, logger: createLogger('warn', () => {}),
  });
  s3 = new S3Client({ endpoint: gw.url, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1 });
}

async function shut(): Promise<void> {
  s3?.destroy();
  await gw?.close();
  await store?.close();
}

before(async () => {
  minio = await startMinio();
  dir = mkdtempSync(join(tmpdir(), 'floodgate-vcors-'));
  const direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  await direct.createBucket('fg-cors');
  await direct.close();
  await open();
  await s3.send(new PutObjectCommand({ Bucket: VB, Key: 'app.js', Body: 'console.log(1)' }));
});
after(async () => {
  await shut();
  await minio?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const preflight = (origin: string, method: string, headers?: string, bucket = VB) => rawRequest(gw.url, {
  method: 'OPTIONS', path: objectPath(bucket, 'app.js'),
  headers: { origin, 'access-control-request-method': method, ...(headers ? { 'access-control-request-headers': headers } : {}) },
});
const signedGet = (origin: string) => rawRequest(gw.url, { method: 'GET', path: objectPath(VB, 'app.js'), headers: { origin }, creds });

test('virtual bucket without rules: NoSuchCORSConfiguration, and preflights are refused', async () => {
  const e = await s3Error(s3.send(new GetBucketCorsCommand({ Bucket: VB })));
  assert.equal(e.name, 'NoSuchCORSConfiguration');
  assert.equal(e.$metadata.httpStatusCode, 404);
  const r = await preflight('https://shop.example', 'GET');
  assert.equal(r.status, 403);
  assert.equal(errorCode(r.body), 'AccessDenied');
  assert.equal(r.headers['access-control-allow-origin'], undefined);
  assert.equal((await s3Error(s3.send(new GetBucketCorsCommand({ Bucket: 'no-such-vb' })))).name, 'NoSuchBucket');
});

test('JS SDK: rules round-trip; preflights answered by origin, method and headers; allowed requests carry the headers', async () => {
  await s3.send(new PutBucketCorsCommand({ Bucket: VB, CORSConfiguration: { CORSRules: [
    { ID: 'shop', AllowedOrigins: ['https://*.shop.example'], AllowedMethods: ['GET', 'PUT'], AllowedHeaders: ['content-type', 'x-amz-*'], ExposeHeaders: ['ETag', 'x-amz-request-id'], MaxAgeSeconds: 900 },
    { AllowedOrigins: ['*'], AllowedMethods: ['GET'] },
  ] } }));
  const got = await s3.send(new GetBucketCorsCommand({ Bucket: VB }));
  assert.deepEqual(got.CORSRules?.map((r) => [r.ID, r.AllowedOrigins, r.AllowedMethods, r.AllowedHeaders, r.ExposeHeaders, r.MaxAgeSeconds]), [
    ['shop', ['https://*.shop.example'], ['GET', 'PUT'], ['content-type', 'x-amz-*'], ['ETag', 'x-amz-request-id'], 900],
    [undefined, ['*'], ['GET'], undefined, undefined, undefined],
  ]);

  const put = await preflight('https://eu.shop.example', 'PUT', 'Content-Type, X-Amz-Date, X-Amz-Content-Sha256');
  assert.equal(put.status, 200, put.body.toString());
  assert.equal(put.headers['access-control-allow-origin'], 'https://eu.shop.example');
  assert.equal(put.headers['access-control-allow-methods'], 'GET, PUT');
  assert.equal(put.headers['access-control-allow-headers'], 'Content-Type, X-Amz-Date, X-Amz-Content-Sha256');
  assert.equal(put.headers['access-control-expose-headers'], 'ETag, x-amz-request-id');
  assert.equal(put.headers['access-control-max-age'], '900');
  assert.equal(put.headers['access-control-allow-credentials'], 'true');
  // Any origin may GET (second rule): answered with `*` and without credentials.
  const anyGet = await preflight('http://elsewhere.test', 'GET');
  assert.equal(anyGet.status, 200);
  assert.equal(anyGet.headers['access-control-allow-origin'], '*');
  assert.equal(anyGet.headers['access-control-allow-credentials'], undefined);

  const refused: [string, string, string?][] = [
    ['http://elsewhere.test', 'PUT'], // origin only allowed to GET
    ['https://shop.example.evil.test', 'PUT'], // not under *.shop.example
    ['https://eu.shop.example', 'DELETE'], // method no rule allows
    ['https://eu.shop.example', 'PUT', 'content-type, authorization-extra'], // a header no rule allows
    ['http://elsewhere.test', 'GET', 'x-custom'], // the GET-for-all rule allows no headers
  ];
  for (const [origin, method, headers] of refused) {
    const r = await preflight(origin, method, headers);
    assert.equal(r.status, 403, `${origin} ${method} ${headers ?? ''}`);
    assert.equal(errorCode(r.body), 'AccessDenied');
    assert.equal(r.headers['access-control-allow-origin'], undefined);
  }
  // A preflight without the headers that make it one is a bad request, not a refusal.
  const bare = await rawRequest(gw.url, { method: 'OPTIONS', path: objectPath(VB, 'app.js') });
  assert.equal(bare.status, 400);
  assert.equal(errorCode(bare.body), 'InvalidRequest');

  const allowed = await signedGet('https://eu.shop.example');
  assert.equal(allowed.status, 200);
  assert.equal(allowed.body.toString(), 'console.log(1)');
  assert.equal(allowed.headers['access-control-allow-origin'], 'https://eu.shop.example');
  assert.equal(allowed.headers['access-control-expose-headers'], 'ETag, x-amz-request-id');
  const any = await signedGet('http://elsewhere.test');
  assert.equal(any.headers['access-control-allow-origin'], '*');
  const noOrigin = await rawRequest(gw.url, { method: 'GET', path: objectPath(VB, 'app.js'), creds });
  assert.equal(noOrigin.headers['access-control-allow-origin'], undefined);
  // An error answer to an allowed origin carries the headers too, so the browser lets the app read it.
  const missing = await rawRequest(gw.url, { method: 'GET', path: objectPath(VB, 'nope.js'), headers: { origin: 'https://eu.shop.example' }, creds });
  assert.equal(missing.status, 404);
  assert.equal(missing.headers['access-control-allow-origin'], 'https://eu.shop.example');
});

test('the rules live in the placement index: a restarted gateway serves them', async () => {
  await shut();
  await open();
  const got = await s3.send(new GetBucketCorsCommand({ Bucket: VB }));
  assert.equal(got.CORSRules?.[0]?.ID, 'shop');
  assert.equal((await preflight('https://eu.shop.example', 'PUT', 'content-type')).status, 200);
  assert.equal((await signedGet('https://eu.shop.example')).headers['access-control-allow-origin'], 'https://eu.shop.example');
});

test('configurations that are not ones: MalformedXML / InvalidRequest, and the old rules stay', async () => {
  const cases: [string, string][] = [
    ['<CORSConfiguration/>', 'MalformedXML'],
    ['<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>', 'MalformedXML'],
    ['<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>', 'MalformedXML'],
    ['<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>-1</MaxAgeSeconds></CORSRule></CORSConfiguration>', 'MalformedXML'],
    ['<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET', 'MalformedXML'],
    ['not xml at all', 'MalformedXML'],
    ['<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>', 'InvalidRequest'],
  ];
  for (const [body, code] of cases) {
    const r = await rawRequest(gw.url, { method: 'PUT', path: `/${VB}`, query: 'cors=', body, creds, headers: { 'content-md5': createHash('md5').update(body).digest('base64') } });
    assert.equal(r.status, 400, `${body}: ${r.body}`);
    assert.equal(errorCode(r.body), code, `${body}: ${r.body}`);
  }
  assert.equal((await s3.send(new GetBucketCorsCommand({ Bucket: VB }))).CORSRules?.[0]?.ID, 'shop');
});

test('JS SDK: DeleteBucketCors removes the rules, and preflights are refused again', async () => {
  await s3.send(new DeleteBucketCorsCommand({ Bucket: VB }));
  assert.equal((await s3Error(s3.send(new GetBucketCorsCommand({ Bucket: VB })))).name, 'NoSuchCORSConfiguration');
  assert.equal((await preflight('https://eu.shop.example', 'GET')).status, 403);
  assert.equal((await signedGet('https://eu.shop.example')).headers['access-control-allow-origin'], undefined);
  await s3.send(new DeleteBucketCorsCommand({ Bucket: VB })); // deleting nothing is fine, as on S3
});

test('boto3: put, get, a refused method, an unknown bucket, delete', { skip: noPython }, async () => {
  const env = isolatedAwsEnv(dir, { accessKeyId: 'AKNOTUSED', secretAccessKey: 'not-used' });
  const { stdout } = await runPython(join(import.meta.dirname, 'py', 'boto3_cors.py'), [gw.url, creds.accessKeyId, creds.secretAccessKey, VB], { env });
  const out = JSON.parse(stdout);
  assert.deepEqual(out.before, { code: 'NoSuchCORSConfiguration', status: 404 });
  assert.deepEqual(out.rules, [{ ID: 'boto', AllowedOrigins: ['http://boto.test'], AllowedMethods: ['GET', 'HEAD'], AllowedHeaders: ['*'], MaxAgeSeconds: 30 }]);
  assert.deepEqual(out.badMethod, { code: 'InvalidRequest', status: 400 });
  assert.deepEqual(out.unknownBucket, { code: 'NoSuchBucket', status: 404 });
  assert.deepEqual(out.afterDelete, { code: 'NoSuchCORSConfiguration', status: 404 });
});

// What an operator sees of a real `floodgate gateway` (child process, over a real MinIO and an fs
// directory, --log-level debug): the metrics it exports when scraped — failures as a counter,
// bytes actually sent by a truncated response, sub-resources named, errors by S3 code — and its
// log lines: key, S3 error code, user agent, request and trace ids; debug adds the auth decision
// and each backend call, tied to the client request by its id. A real `floodgate injector` in
// front of it logs the same line for every request, with the bytes it passed each way.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startMinio, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store } from '../proxy/backends/s3/store.ts';
import { newCredentials, tempDir } from './lib/gateway.ts';
import { objectPath, rawRequest } from './lib/raw-s3.ts';
import { parseMetrics, sampleSum, spawnLogged, type LoggedProcess } from './lib/logged-process.ts';

const TOKEN = randomBytes(16).toString('hex');
const creds = newCredentials();
const VB = 'seen';
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
let minio: Minio;
let dir: string;
let gw: LoggedProcess;
let url: string;

before(async () => {
  minio = await startMinio();
  const direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  await direct.createBucket('fg-obs');
  await direct.close();
  dir = tempDir('floodgate-obs-');
  mkdirSync(join(dir, 'data'));
  const config = join(dir, 'gateway.yaml');
  writeFileSync(config, stringify({
    backends: [{ name: 'remote', endpoint: minio.endpoint, bucket: 'fg-obs', credentials: { accessKeyId: minio.credentials.accessKeyId, secretAccessKey: minio.credentials.secretAccessKey } }],
    virtualBuckets: [{ name: VB, backends: ['remote'], strategy: 'round-robin' }],
    credentials: [{ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey }],
    faults: { defaultDuration: '2m', maxDuration: '10m' },
  }));
  gw = await spawnLogged(['gateway', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--config', config, '--fault-token', TOKEN, '--log-level', 'debug']);
  url = (await gw.waitFor((l) => l.msg === 'gateway listening')).url as string;
});

after(async () => {
  await gw?.stop();
  await minio?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const scrape = async () => parseMetrics(await (await fetch(`${url}/metrics`)).text());
const requestLine = (id: string) => gw.waitFor((l) => l.msg === 'request' && l.requestId === id);

describe('gateway metrics, scraped', () => {
  test('backend failures are a counter named _total; the old gauge is gone', async () => {
    const { types } = await scrape();
    assert.equal(types.get('floodgate_backend_failures_total'), 'counter');
    assert.equal(types.has('floodgate_backend_failures'), false);
    assert.equal(types.get('floodgate_s3_errors_total'), 'counter');
  });

  test('unimplemented sub-resources are counted under their AWS operation names, with their S3 code', async () => {
    const tagging = await rawRequest(url, { method: 'GET', path: `/${VB}`, query: 'tagging=', creds });
    assert.equal(tagging.status, 501);
    const lock = await rawRequest(url, { method: 'PUT', path: `/${VB}`, query: 'object-lock=', body: '<x/>', creds });
    assert.equal(lock.status, 501);
    const retention = await rawRequest(url, { method: 'GET', path: objectPath(VB, 'k'), query: 'retention=', creds });
    assert.equal(retention.status, 501);
    const odd = await rawRequest(url, { method: 'GET', path: `/${VB}`, query: 'no-such-thing=', creds });
    assert.equal(odd.status, 501);
    const { samples } = await scrape();
    assert.equal(sampleSum(samples, 'floodgate_s3_requests_total', { operation: 'GetBucketTagging', status: '501' }), 1);
    assert.equal(sampleSum(samples, 'floodgate_s3_requests_total', { operation: 'PutObjectLockConfiguration', status: '501' }), 1);
    assert.equal(sampleSum(samples, 'floodgate_s3_requests_total', { operation: 'GetObjectRetention', status: '501' }), 1);
    assert.equal(sampleSum(samples, 'floodgate_s3_requests_total', { operation: 'Unsupported', status: '501' }), 1);
    assert.equal(sampleSum(samples, 'floodgate_s3_requests_total', { operation: 'Unknown' }), 0);
    assert.equal(sampleSum(samples, 'floodgate_s3_errors_total', { operation: 'GetBucketTagging', code: 'NotImplemented' }), 1);
    // A query key a client made up never becomes a label value.
    assert.equal([...samples.keys()].some((k) => k.includes('no-such-thing')), false);
  });

  test('a truncated GET counts the bytes that went out, not its Content-Length', async () => {
    const body = randomBytes(256 * 1024);
    const put = await rawRequest(url, { method: 'PUT', path: objectPath(VB, 'cut/big'), body, creds });
    assert.equal(put.status, 200);
    const r = await fetch(`${url}/_floodgate/faults`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ kind: 'truncate', afterBytes: 10000, match: { operations: ['GetObject'], keyPrefix: 'cut/' } }),
    });
    assert.equal(r.status, 201, await r.clone().text());
    const { id } = (await r.json()) as { id: string };
    const before = sampleSum((await scrape()).samples, 'floodgate_s3_response_bytes_sum', { operation: 'GetObject' });
    const got = await rawRequest(url, { method: 'GET', path: objectPath(VB, 'cut/big'), creds }).catch((e: Error) => e);
    if (!(got instanceof Error)) assert.ok(got.body.length < body.length, 'the body arrived whole');
    await fetch(`${url}/_floodgate/faults/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } });
    const line = await gw.waitFor((l) => l.msg === 'request' && l.operation === 'GetObject' && l.key === 'cut/big');
    assert.equal(line.bytesOut, 10000);
    assert.equal(line.complete, false);
    const after = sampleSum((await scrape()).samples, 'floodgate_s3_response_bytes_sum', { operation: 'GetObject', bucket: VB });
    assert.equal(after - before, 10000);
  });
});

describe('gateway request logs', () => {
  test('a PUT logs key, user agent, request and trace ids, bytes; debug adds the auth decision and the backend call', async () => {
    const res = await rawRequest(url, {
      method: 'PUT', path: objectPath(VB, 'logs/a b.txt'), body: 'hello logs', creds,
      headers: { 'user-agent': 'obs-test/1.0', traceparent: `00-${TRACE}-00f067aa0ba902b7-01` },
    });
    assert.equal(res.status, 200);
    const id = String(res.headers['x-amz-request-id']);
    const line = await requestLine(id);
    assert.equal(line.level, 'info');
    assert.equal(line.operation, 'PutObject');
    assert.equal(line.bucket, VB);
    assert.equal(line.key, 'logs/a b.txt');
    assert.equal(line.status, 200);
    assert.equal(line.errorCode, undefined);
    assert.equal(line.userAgent, 'obs-test/1.0');
    assert.equal(line.traceId, TRACE);
    assert.equal(line.bytesIn, 10);
    assert.equal(typeof line.durationMs, 'number');
    assert.equal(line.remote, '127.0.0.1');
    const auth = await gw.waitFor((l) => l.msg === 'authenticated' && l.requestId === id);
    assert.equal(auth.level, 'debug');
    assert.equal(auth.accessKeyId, creds.accessKeyId);
    const call = await gw.waitFor((l) => l.msg === 'backend call' && l.requestId === id && l.method === 'PUT');
    assert.equal(call.backend, 'remote');
    assert.equal(call.status, 200);
    assert.equal(call.traceId, TRACE);
    assert.match(String(call.key), /logs\/a b\.txt$/);
    // Secrets and signatures never reach the log.
    const all = JSON.stringify(gw.lines);
    assert.equal(all.includes(creds.secretAccessKey), false);
    assert.equal(all.includes(minio.credentials.secretAccessKey), false);
    assert.equal(all.includes('Signature='), false);
  });

  test('an error logs its S3 code; a refused signature still names the operation, bucket and key', async () => {
    const missing = await rawRequest(url, { method: 'GET', path: objectPath(VB, 'logs/none'), creds });
    assert.equal(missing.status, 404);
    const line = await requestLine(String(missing.headers['x-amz-request-id']));
    assert.equal(line.errorCode, 'NoSuchKey');
    assert.equal(line.key, 'logs/none');
    const head = await rawRequest(url, { method: 'HEAD', path: objectPath(VB, 'logs/none'), creds });
    assert.equal((await requestLine(String(head.headers['x-amz-request-id']))).errorCode, 'NoSuchKey');
    const forged = await rawRequest(url, { method: 'PUT', path: objectPath(VB, 'logs/forged'), body: 'x', creds: { accessKeyId: creds.accessKeyId, secretAccessKey: 'wrong' } });
    assert.equal(forged.status, 403);
    const refused = await requestLine(String(forged.headers['x-amz-request-id']));
    assert.equal(refused.errorCode, 'SignatureDoesNotMatch');
    assert.equal(refused.operation, 'PutObject');
    assert.equal(refused.key, 'logs/forged');
    const { samples } = await scrape();
    // Unauthenticated: counted, but without a bucket label value the client chose.
    assert.equal(sampleSum(samples, 'floodgate_s3_errors_total', { operation: 'PutObject', bucket: '', code: 'SignatureDoesNotMatch' }), 1);
  });
});

describe('sidecar request logs', () => {
  const token = randomBytes(16).toString('hex');
  let sc: LoggedProcess;
  let scUrl: string;
  let controlUrl: string;
  before(async () => {
    sc = await spawnLogged(['injector', '--listen', '127.0.0.1:0', '--upstream', url], { FLOODGATE_INJECTOR_TOKEN: token });
    const ready = await sc.waitFor((l) => l.msg === 'injector listening');
    scUrl = String(ready.url);
    controlUrl = String(ready.controlUrl);
  });
  after(async () => { await sc?.stop(); });

  const sidecarLine = (id: string) => sc.waitFor((l) => l.msg === 'request' && l.requestId === id);
  const inject = async (spec: object): Promise<string> => {
    const r = await fetch(`${controlUrl}/_floodgate/faults`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(spec) });
    assert.equal(r.status, 201, await r.clone().text());
    return ((await r.json()) as { id: string }).id;
  };
  const stop = (id: string) => fetch(`${controlUrl}/_floodgate/faults/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });

  test('with no fault held, every request logs a line with bytes in and out, under the request id the gateway logged', async () => {
    const held = await fetch(`${controlUrl}/_floodgate/faults`, { headers: { authorization: `Bearer ${token}` } });
    assert.deepEqual(((await held.json()) as { faults: unknown[] }).faults, []);
    const body = randomBytes(200_000);
    const cases = [
      { op: 'PutObject', status: 200, in: body.length, out: 0, send: () => rawRequest(scUrl, { method: 'PUT', path: objectPath(VB, 'side/plain.bin'), body, creds, headers: { 'user-agent': 'side-plain/1' } }) },
      { op: 'GetObject', status: 200, in: 0, out: body.length, send: () => rawRequest(scUrl, { method: 'GET', path: objectPath(VB, 'side/plain.bin'), creds, headers: { 'user-agent': 'side-plain/1' } }) },
      { op: 'HeadObject', status: 200, in: 0, out: 0, send: () => rawRequest(scUrl, { method: 'HEAD', path: objectPath(VB, 'side/plain.bin'), creds, headers: { 'user-agent': 'side-plain/1' } }) },
      { op: 'GetObject', status: 404, in: 0, out: undefined, code: 'NoSuchKey', send: () => rawRequest(scUrl, { method: 'GET', path: objectPath(VB, 'side/none'), creds, headers: { 'user-agent': 'side-plain/1' } }) },
    ];
    for (const c of cases) {
      const r = await c.send();
      assert.equal(r.status, c.status, `${c.op}: ${r.body}`);
      const id = String(r.headers['x-amz-request-id']);
      const line = await sidecarLine(id);
      const gatewayLine = await requestLine(id);
      assert.equal(line.operation, c.op);
      assert.equal(line.bucket, VB);
      assert.equal(line.status, c.status);
      assert.equal(line.errorCode, c.code);
      assert.equal(line.userAgent, 'side-plain/1');
      assert.equal(line.complete, true);
      assert.equal(line.bytesIn, c.in, `${c.op} bytesIn`);
      if (c.out !== undefined) assert.equal(line.bytesOut, c.out, `${c.op} bytesOut`);
      // The sidecar saw the bytes the gateway saw.
      assert.equal(line.bytesIn, gatewayLine.bytesIn);
      assert.equal(line.bytesOut, gatewayLine.bytesOut);
    }
  });

  test('while a fault is held the line names its S3 error, counts what a truncated body really sent, and has the gateway field names', async () => {
    const slow = await inject({ kind: 'error', code: 'SlowDown', status: 503, match: { operations: ['GetObject'], keyPrefix: 'side/x' } });
    const got = await rawRequest(scUrl, { method: 'GET', path: objectPath(VB, 'side/x'), creds, headers: { 'user-agent': 'side-test/2' } });
    await stop(slow);
    assert.equal(got.status, 503);
    const line = await sidecarLine(String(got.headers['x-amz-request-id']));
    assert.equal(line.operation, 'GetObject');
    assert.equal(line.key, 'side/x');
    assert.equal(line.status, 503);
    assert.equal(line.errorCode, 'SlowDown');
    assert.equal(line.userAgent, 'side-test/2');
    assert.equal(line.bytesIn, 0);
    assert.equal(typeof line.bytesOut, 'number');

    const put = await rawRequest(scUrl, { method: 'PUT', path: objectPath(VB, 'side/cut.bin'), body: randomBytes(50_000), creds });
    assert.equal(put.status, 200);
    const cut = await inject({ kind: 'truncate', afterBytes: 1000, match: { operations: ['GetObject'], keyPrefix: 'side/cut' } });
    const short = await rawRequest(scUrl, { method: 'GET', path: objectPath(VB, 'side/cut.bin'), creds }).catch((e: Error) => e);
    await stop(cut);
    if (!(short instanceof Error)) assert.ok(short.body.length < 50_000, 'the body arrived whole');
    const cutLine = await sc.waitFor((l) => l.msg === 'request' && l.operation === 'GetObject' && l.key === 'side/cut.bin');
    assert.equal(cutLine.bytesOut, 1000);
    assert.equal(cutLine.complete, false);

    const direct = await rawRequest(url, { method: 'GET', path: objectPath(VB, 'side/x'), creds, headers: { 'user-agent': 'side-test/2' } });
    const gatewayLine = await requestLine(String(direct.headers['x-amz-request-id']));
    const optional = new Set(['traceId', 'errorCode']);
    for (const k of Object.keys(line)) assert.ok(k in gatewayLine || optional.has(k), `the gateway's line has ${k} too`);
    for (const k of Object.keys(gatewayLine)) assert.ok(k in line || optional.has(k), `the sidecar's line has ${k} too`);
  });
});

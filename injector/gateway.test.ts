// The contract the gateway relies on, exercised on a plain node:http server wired the way
// gateway.ts documents: control routes, onRequest, wrapBody, isBackendDown, resource refusal.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGatewayFaults, type GatewayFaults } from './gateway.ts';

const BODY = Buffer.alloc(10_000, 7);
let faults: GatewayFaults;
let server: Server;
let url: string;
const api = (method: string, path: string, body?: unknown) =>
  fetch(url + path, { method, headers: { authorization: 'Bearer gateway-test-token' }, body: body === undefined ? undefined : JSON.stringify(body) });

before(async () => {
  faults = createGatewayFaults({ token: 'gateway-test-token' });
  server = createServer(async (req, res) => {
    if (faults.routes(req, res)) return;
    const [, bucket, key] = (req.url ?? '/').split('/');
    const backend = 'backend-a';
    const f = await faults.engine.onRequest({ req, res, operation: 'GetObject', bucket, key, backend, requestId: 'REQ1' });
    if (f?.handled) return;
    if (faults.engine.isBackendDown(backend)) {
      res.writeHead(503).end('backend down');
      return;
    }
    const headers = { 'content-length': BODY.length };
    const stage = await f?.wrapBody(200, headers);
    res.writeHead(200, headers);
    await (stage ? pipeline(Readable.from([BODY]), stage, res) : pipeline(Readable.from([BODY]), res)).catch(() => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(async () => {
  await faults.close();
  server.close();
});

test('no fault: untouched; error fault answered by the engine with the request id', async () => {
  assert.equal((await (await fetch(`${url}/b/k`)).arrayBuffer()).byteLength, BODY.length);
  assert.equal((await api('POST', '/_floodgate/faults', { kind: 'error', code: 'SlowDown', status: 503, match: { backends: ['backend-a'] }, trigger: { firstN: 1 } })).status, 201);
  const r = await fetch(`${url}/b/k`);
  assert.equal(r.status, 503);
  assert.match(await r.text(), /<Code>SlowDown<\/Code>.*<RequestId>REQ1<\/RequestId>/s);
  assert.equal((await fetch(`${url}/b/k`)).status, 200);
  await api('DELETE', '/_floodgate/faults');
});

test('body faults come through wrapBody; backendDown through isBackendDown', async () => {
  await api('POST', '/_floodgate/faults', { kind: 'corrupt', bytes: 5, match: { buckets: ['b'] } });
  const got = Buffer.from(await (await fetch(`${url}/b/k`)).arrayBuffer());
  assert.equal(got.length, BODY.length);
  assert.equal(got.filter((x) => x !== 7).length, 5);
  await api('DELETE', '/_floodgate/faults');
  await api('POST', '/_floodgate/faults', { kind: 'backendDown', backend: 'backend-a' });
  assert.equal(faults.engine.isBackendDown('backend-a'), true);
  assert.equal(faults.engine.isBackendDown('backend-b'), false);
  assert.equal((await fetch(`${url}/b/k`)).status, 503);
  await api('DELETE', '/_floodgate/faults');
  assert.equal(faults.engine.isBackendDown('backend-a'), false);
});

test('resource faults are refused on the gateway with a 400', async () => {
  const r = await api('POST', '/_floodgate/faults', { kind: 'cpu', cores: 0.1 });
  assert.equal(r.status, 400);
  assert.match(((await r.json()) as { error: string }).error, /^kind: "cpu" faults run only in the sidecar/);
});

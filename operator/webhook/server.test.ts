import { strict as assert } from 'node:assert';
import { request } from 'node:https';
import { after, before, test } from 'node:test';
import { issueCa, issueServing } from './ca.ts';
import { startWebhookServer, type WebhookServer } from './server.ts';

const now = new Date();
const ca = issueCa({ commonName: 'test-ca', now, validMs: 86_400_000 });
let srv: WebhookServer;

function post(path: string, body: unknown, caPem = ca.certPem): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const u = new URL(srv.url + path);
    const req = request({ host: u.hostname, port: u.port, path, method: 'POST', ca: caPem, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let b = '';
      res.on('data', (d) => { b += d; }).on('end', () => resolve({ status: res.statusCode!, json: b ? JSON.parse(b) : undefined }));
    });
    req.on('error', reject);
    req.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
}

const review = (uid: string) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid, operation: 'CREATE', userInfo: {}, object: {} } });

before(async () => {
  srv = await startWebhookServer({
    host: '127.0.0.1', port: 0, cert: issueServing(ca, { hosts: ['127.0.0.1'], now, validMs: 86_400_000 }), log: () => {},
    routes: {
      '/patch': async () => ({ allowed: true, patch: [{ op: 'add', path: '/x', value: 1 }], warnings: ['w'] }),
      '/deny': async () => ({ allowed: false, message: 'no', code: 422, reason: 'Invalid' }),
      '/boom': async () => { throw new Error('cannot decide'); },
    },
  });
});
after(() => srv.close());

test('a patch goes back base64-encoded as a JSONPatch, with the request uid', async () => {
  const r = await post('/patch', review('u1'));
  assert.equal(r.status, 200);
  assert.deepEqual({ ...r.json.response, patch: undefined }, { uid: 'u1', allowed: true, patchType: 'JSONPatch', patch: undefined, warnings: ['w'] });
  assert.deepEqual(JSON.parse(Buffer.from(r.json.response.patch, 'base64').toString()), [{ op: 'add', path: '/x', value: 1 }]);
  assert.equal(r.json.apiVersion, 'admission.k8s.io/v1');
});

test('a refusal carries a Status with code, reason and message', async () => {
  const r = await post('/deny', review('u2'));
  assert.deepEqual(r.json.response, { uid: 'u2', allowed: false, status: { code: 422, reason: 'Invalid', message: 'no' } });
});

test('a handler that cannot decide answers 500 (the failurePolicy decides); garbage is a 400; unknown paths 404', async () => {
  assert.equal((await post('/boom', review('u3'))).status, 500);
  assert.equal((await post('/patch', 'not json')).status, 400);
  assert.equal((await post('/patch', { kind: 'AdmissionReview' })).status, 400);
  assert.equal((await post('/nope', review('u4'))).status, 404);
});

test('a renewed certificate is served without restarting the listener', async () => {
  const ca2 = issueCa({ commonName: 'test-ca-2', now, validMs: 86_400_000 });
  srv.setCertificate(issueServing(ca2, { hosts: ['127.0.0.1'], now, validMs: 86_400_000 }));
  assert.equal((await post('/patch', review('u5'), ca2.certPem)).status, 200);
  await assert.rejects(post('/patch', review('u6'), ca.certPem), /self[- ]signed|unable to verify|certificate/i);
});

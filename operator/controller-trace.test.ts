// With tracing on (OTEL_EXPORTER_OTLP_ENDPOINT at a test receiver), each reconcile is one span
// and the Kubernetes API calls it makes — to a stand-in API server on loopback — are its
// children; API calls made outside a reconcile (informers) make no root spans.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { controllerMetrics, runController } from './controller.ts';
import { createWorkQueue } from './workqueue.ts';
import { createKube } from './kube/api.ts';
import { startTracing, type Tracing } from '../proxy/observability/tracing.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../proxy/observability/otlp-receiver.fixture.ts';

let otlp: OtlpReceiver;
let api: Server;
let traces: Tracing | undefined;

before(async () => {
  otlp = await startOtlpReceiver();
  api = createServer((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', path: req.url })));
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = otlp.url;
  traces = await startTracing('floodgate-operator');
});

after(async () => {
  await traces?.shutdown();
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  api.closeAllConnections();
  await new Promise<void>((r) => api.close(() => r()));
  await otlp.close();
});

test('one span per reconcile, its API calls as CLIENT children; calls outside a reconcile make none', async () => {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(api.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'test' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x',
  });
  const kube = createKube(kc);
  await kube.request('GET', '/api/v1/namespaces/outside/pods');
  const queue = createWorkQueue();
  const done = runController({
    name: 'virtualbucket', queue, workers: 1, log: () => {}, metrics: controllerMetrics(new Registry()),
    async reconcile(key) {
      await kube.request('GET', `/apis/floodgate.dev/v1alpha1/namespaces/apps/virtualbuckets/${key.split('/')[1]}`);
      await kube.request('PATCH', '/apis/apps/v1/namespaces/apps/deployments/photos', { body: {}, contentType: 'application/apply-patch+yaml' });
      return {};
    },
  });
  queue.add('apps/photos');
  await otlp.waitFor('reconcile and two API spans', (s) => s.filter((x) => x.name.startsWith('kube ')).length >= 2 && s.some((x) => x.name === 'reconcile virtualbucket'));
  queue.shutDown();
  await done;
  const rec = otlp.spans.find((s) => s.name === 'reconcile virtualbucket')!;
  assert.equal(rec.service, 'floodgate-operator');
  assert.equal(rec.parentSpanId, undefined, 'a reconcile is a root span');
  assert.equal(rec.attributes['floodgate.key'], 'apps/photos');
  assert.equal(rec.attributes['floodgate.reconcile.result'], 'ok');
  const calls = otlp.spans.filter((s) => s.name.startsWith('kube '));
  assert.deepEqual(calls.map((c) => c.name).sort(), ['kube GET', 'kube PATCH']);
  for (const c of calls) {
    assert.equal(c.parentSpanId, rec.spanId);
    assert.equal(c.traceId, rec.traceId);
    assert.equal(c.kind, 3);
  }
  assert.equal(otlp.spans.some((s) => String(s.attributes['url.path']).includes('/outside/')), false);
});

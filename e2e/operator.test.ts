// The operator against a real kube-apiserver (+ kube-controller-manager for garbage collection):
// CRDs installed and enforced, BackendBuckets probed on real S3 servers, a VirtualBucket rendered
// and served by a real gateway process, changes, deletion protection and cleanup.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startControlPlane, type ControlPlane } from './lib/controlplane.ts';
import { freePort } from '../proxy/backends/s3/minio.fixture.ts';
import { ROOT, tempDir } from './lib/gateway.ts';
import {
  applyObjects, backendBucketOf, condition, getObject, runVirtualBucketGateway, secretOf, startBackend, startOperator, waitFor,
  materializeGatewayConfig, simulateGatewayPods, type Backend, type OperatorProcess,
} from './lib/operator.ts';

const NS = 'default';
let cp: ControlPlane;
let op: OperatorProcess;
const backends: Backend[] = [];
const cleanups: (() => Promise<void>)[] = [];
const dir = tempDir('floodgate-op-e2e-');

before(async () => {
  cp = await startControlPlane({ controllers: true });
  await cp.kubectl(['apply', '--server-side', '-f', join(ROOT, 'crds')]);
  await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/backendbuckets.floodgate.dev', 'crd/virtualbuckets.floodgate.dev', 'crd/faultexperiments.floodgate.dev']);
  for (const name of ['data-a', 'data-b', 'data-c']) backends.push(await startBackend(name));
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await op?.stop('SIGKILL');
  for (const b of backends) await b.close();
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function refused(obj: object, pattern: RegExp): Promise<void> {
  const r = await applyObjects(cp, [obj], true);
  assert.notEqual(r.code, 0, `accepted: ${JSON.stringify(obj)}`);
  assert.match(r.stderr, pattern);
}

const vbOf = (name: string, spec: object) => ({ apiVersion: 'floodgate.dev/v1alpha1', kind: 'VirtualBucket', metadata: { name, namespace: NS }, spec });

test('the API server refuses bad resources with messages a person understands', async () => {
  const b = { endpoint: 'http://127.0.0.1:1', bucket: 'data-x' };
  await refused(vbOf('bad-strategy', { backends: ['a'], strategy: 'least-space' }), /spec\.strategy: Unsupported value: "least-space": supported values: "round-robin"/);
  await refused(backendBucketOf(NS, 'bad-weight', b, 's', { weight: -1 }), /spec\.weight: Invalid value: -1: spec\.weight in body should be greater than or equal to 0/);
  await refused(vbOf('bad-duration', { backends: ['a'], redirectExpiry: '5 parsecs' }), /spec\.redirectExpiry: Invalid value: "5 parsecs": expected a duration like 500ms, 30s, 5m or 24h/);
  await refused(backendBucketOf(NS, 'bad-size', b, 's', { maxSize: 'lots' }), /expected a size like 500Mi, 10Gi or 2TB/);
  await refused(vbOf('both', { backends: ['a'], backendSelector: { matchLabels: { t: 'x' } } }), /list backends or give a backendSelector, not both/);
  await refused(backendBucketOf(NS, 'bad-endpoint', { endpoint: 'http://h:1/path', bucket: 'data-x' }, 's'), /must be an http\(s\):\/\/host\[:port\] URL without a path/);
  await refused({ apiVersion: 'floodgate.dev/v1alpha1', kind: 'FaultExperiment', metadata: { name: 'fx', namespace: NS },
    spec: { target: { virtualBucket: 'photos' }, duration: '5 parsecs', faults: [{ kind: 'latency', ms: 10 }] } }, /must be a duration such as "30s"/);
  await refused({ apiVersion: 'floodgate.dev/v1alpha1', kind: 'FaultExperiment', metadata: { name: 'fx', namespace: NS },
    spec: { target: { virtualBucket: 'photos' }, duration: '30s', faults: [{ kind: 'latency', code: 'SlowDown' }] } }, /kind "latency" requires ms/);
  // A good FaultExperiment passes.
  const ok = await applyObjects(cp, [{ apiVersion: 'floodgate.dev/v1alpha1', kind: 'FaultExperiment', metadata: { name: 'fx-ok', namespace: NS },
    spec: { target: { pods: { selector: { matchLabels: { app: 'x' } }, mode: 'percent', value: 50 } }, duration: '5m', faults: [{ kind: 'error', code: 'SlowDown', status: 503, match: {}, trigger: { probability: 0.5 } }] } }], true);
  assert.equal(ok.code, 0, ok.stderr);
  // Immutable: the real bucket of a BackendBucket.
  await applyObjects(cp, [backendBucketOf(NS, 'immutable', b, 's')]);
  await refused(backendBucketOf(NS, 'immutable', { ...b, bucket: 'data-y' }, 's'), /bucket cannot be changed/);
  await cp.kubectl(['delete', 'backendbucket', 'immutable', '-n', NS, '--wait=false']);
});

test('BackendBuckets: probed with their Secret; a wrong Secret or a dead endpoint is Degraded with the reason', async () => {
  op = startOperator(cp);
  await op.httpUrl;
  const [a, b] = backends;
  await applyObjects(cp, [
    secretOf(NS, 'keys-a', a!.creds), secretOf(NS, 'keys-b', b!.creds),
    backendBucketOf(NS, 'store-a', a!, 'keys-a', { maxSize: '1Gi' }, { tier: 'hot' }),
    backendBucketOf(NS, 'store-b', b!, 'keys-b', {}, { tier: 'hot' }),
    backendBucketOf(NS, 'no-secret', a!, 'missing-keys'),
    backendBucketOf(NS, 'wrong-keys', a!, 'keys-b'),
    backendBucketOf(NS, 'dead', { endpoint: `http://127.0.0.1:${await freePort()}`, bucket: 'data-a' }, 'keys-a'),
  ]);
  for (const name of ['store-a', 'store-b']) {
    const bb = await waitFor(`${name} Ready`, async () => {
      const o = await getObject(cp, 'backendbucket', NS, name);
      return condition(o, 'Ready')?.status === 'True' && o;
    });
    assert.equal(bb.status.health, 'Up');
    assert.equal(bb.status.observedGeneration, bb.metadata.generation);
    assert.equal(typeof bb.status.latencyMs, 'number');
    assert.equal(bb.status.objectCount, 0);
    assert.ok(bb.metadata.finalizers.includes('floodgate.dev/in-use-protection'));
  }
  for (const [name, reason] of [['no-secret', 'SecretNotFound'], ['wrong-keys', 'AccessDenied'], ['dead', 'EndpointUnreachable']] as const) {
    let seen = '';
    const bb = await waitFor(`${name} Degraded ${reason}`, async () => {
      const o = await getObject(cp, 'backendbucket', NS, name);
      seen = `${condition(o, 'Degraded')?.reason}: ${condition(o, 'Degraded')?.message}`;
      return condition(o, 'Degraded')?.reason === reason && o;
    }).catch((e: Error) => { throw new Error(`${e.message}; condition: ${seen}`); });
    assert.equal(condition(bb, 'Ready').status, 'False');
    assert.equal(condition(bb, 'Degraded').status, 'True');
  }
  // Fixing the Secret heals the backend on the next retry.
  await applyObjects(cp, [secretOf(NS, 'missing-keys', a!.creds)]);
  await waitFor('no-secret healed', async () => condition(await getObject(cp, 'backendbucket', NS, 'no-secret'), 'Ready')?.status === 'True', 90_000);
  const events = await cp.kubectl(['get', 'events.events.k8s.io', '-n', NS, '-o', 'json']);
  const reasons = (JSON.parse(events.stdout).items as any[]).filter((e) => e.regarding.name === 'dead').map((e) => e.reason);
  assert.ok(reasons.includes('EndpointUnreachable'), `events: ${reasons}`);
  await cp.kubectl(['delete', 'backendbucket', 'no-secret', 'wrong-keys', 'dead', '-n', NS]);
});

test('VirtualBucket: rendered, served by a real gateway, updated on backend changes, protected deletes, owned objects collected', async () => {
  const port = await freePort();
  await applyObjects(cp, [vbOf('photos', { backends: ['store-a', 'store-b'], strategy: 'round-robin', port })]);
  await waitFor('rendered ConfigMap', () => getObject(cp, 'configmap', NS, 'photos-gateway'));
  await waitFor('access Secret', async () => (await getObject(cp, 'virtualbucket', NS, 'photos'))?.status?.accessSecret);
  const vbDir = join(dir, 'photos');
  const { gateway, creds, file } = await runVirtualBucketGateway(cp, NS, 'photos', port, vbDir);
  cleanups.push(() => gateway.stop());
  // Not Ready while the Deployment has no ready pod, even though a gateway answers /status.
  await waitFor('photos NoReadyReplicas', async () => condition(await getObject(cp, 'virtualbucket', NS, 'photos'), 'Progressing')?.reason === 'NoReadyReplicas');
  assert.equal(condition(await getObject(cp, 'virtualbucket', NS, 'photos'), 'Ready').status, 'False');
  const stopPods = simulateGatewayPods(cp, NS, 'photos');
  cleanups.push(stopPods);

  let vb = await waitFor('photos Ready', async () => {
    const o = await getObject(cp, 'virtualbucket', NS, 'photos');
    return condition(o, 'Ready')?.status === 'True' && o;
  }, 60_000);
  assert.equal(vb.status.endpoint, `http://photos-gateway.${NS}.svc:${port}`);
  assert.equal(vb.status.backendCount, 2);
  assert.deepEqual(vb.status.backends.map((b: any) => [b.name, b.health, b.writable]), [['store-a', 'Up', true], ['store-b', 'Up', true]]);
  assert.equal(vb.status.backends[0].maxSize, 2 ** 30);
  assert.equal(condition(vb, 'Degraded').status, 'False');

  // Applications use the access Secret against the gateway.
  const s3 = new S3Client({ endpoint: gateway.url, region: 'us-east-1', forcePathStyle: true, credentials: creds });
  await s3.send(new PutObjectCommand({ Bucket: 'photos', Key: 'cat.jpg', Body: 'meow' }));
  s3.destroy();

  // The BackendBuckets know who uses them.
  await waitFor('usedBy on store-a', async () => (await getObject(cp, 'backendbucket', NS, 'store-a'))?.status?.usedBy?.includes('photos'));

  // Add a backend: the ConfigMap changes; the pod's gateway (here: our process) reloads it.
  const c = backends[2]!;
  await applyObjects(cp, [secretOf(NS, 'keys-c', c.creds), backendBucketOf(NS, 'store-c', c, 'keys-c'), vbOf('photos', { backends: ['store-a', 'store-b', 'store-c'], strategy: 'round-robin', port })]);
  await waitFor('ConfigMap with store-c', async () => (await getObject(cp, 'configmap', NS, 'photos-gateway'))?.data['config.yaml'].includes('store-c'));
  await materializeGatewayConfig(cp, NS, 'photos', vbDir);
  assert.ok(file.endsWith('config.yaml'));
  vb = await waitFor('photos over 3 backends', async () => {
    const o = await getObject(cp, 'virtualbucket', NS, 'photos');
    return o?.status?.backendCount === 3 && condition(o, 'Ready')?.status === 'True' && o.status.backends.every((b: any) => b.health === 'Up') && o;
  }, 60_000);
  assert.equal(vb.status.observedGeneration, vb.metadata.generation);

  // Deleting a backend still in use is blocked and reported on both.
  await cp.kubectl(['delete', 'backendbucket', 'store-c', '-n', NS, '--wait=false']);
  const bb = await waitFor('store-c DeletionBlocked', async () => {
    const o = await getObject(cp, 'backendbucket', NS, 'store-c');
    return condition(o, 'Degraded')?.reason === 'DeletionBlocked' && o;
  });
  assert.match(condition(bb, 'Degraded').message, /still used by VirtualBucket photos/);
  await waitFor('photos reports BackendDeleting', async () => condition(await getObject(cp, 'virtualbucket', NS, 'photos'), 'Degraded')?.reason === 'BackendDeleting');
  const events = JSON.parse((await cp.kubectl(['get', 'events.events.k8s.io', '-n', NS, '-o', 'json'])).stdout).items as any[];
  assert.ok(events.some((e) => e.regarding.name === 'photos' && e.reason === 'BackendDeleting'));
  // Once no VirtualBucket uses it, it goes.
  await applyObjects(cp, [vbOf('photos', { backends: ['store-a', 'store-b'], strategy: 'round-robin', port })]);
  await waitFor('store-c gone', async () => (await getObject(cp, 'backendbucket', NS, 'store-c')) === undefined, 60_000);

  // Deleting the VirtualBucket removes what it owns (garbage collector).
  await cp.kubectl(['delete', 'virtualbucket', 'photos', '-n', NS]);
  for (const [kind, name] of [['deployment', 'photos-gateway'], ['service', 'photos-gateway'], ['configmap', 'photos-gateway'], ['secret', 'photos-access']]) {
    await waitFor(`${kind}/${name} collected`, async () => (await getObject(cp, kind!, NS, name!)) === undefined, 60_000);
  }
  // The index claim is collected too (it stays Terminating here: no pvc-protection controller runs).
  await waitFor('index claim collected', async () => {
    const pvc = await getObject(cp, 'persistentvolumeclaim', NS, 'photos-gateway-index');
    return pvc === undefined || Boolean(pvc.metadata.deletionTimestamp);
  }, 60_000);
  await waitFor('fault token Secret collected', async () => (await getObject(cp, 'secret', NS, 'photos-gateway-faults')) === undefined, 60_000);
  await waitFor('store-a no longer used', async () => ((await getObject(cp, 'backendbucket', NS, 'store-a'))?.status?.usedBy ?? []).length === 0);
});

test('/metrics, /healthz and /readyz on the loopback port', async () => {
  const url = await op.httpUrl;
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  const ready = await fetch(`${url}/readyz`);
  assert.equal(ready.status, 200);
  assert.match(await ready.text(), /leading/);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /floodgate_operator_reconciles_total\{controller="backendbucket",result="ok"\} \d+/);
  assert.match(metrics, /floodgate_operator_leader 1/);
});

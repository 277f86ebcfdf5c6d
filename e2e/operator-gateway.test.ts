// The operator against a bare kube-apiserver (no controllers: a Deployment's status is whatever
// the test writes, and pods never run) — what a rendered gateway needs to run as a real pod:
//   - every generated CRD applies without a warning;
//   - a new BackendBucket gets one Event per transition, not two;
//   - the gateway's sqlite index on a PersistentVolumeClaim the VirtualBucket owns, default
//     resources and the spec field that changes them, a fault-token Secret the pod mounts and
//     the gateway's fault API accepts;
//   - a VirtualBucket is not Ready while its Deployment has no ready pod;
//   - status.gc: a garbage collection run of its gateway over a real MinIO backend (an orphan
//     removed, a missing copy found) summed into the VirtualBucket's status;
//   - `floodgate operator cleanup`: with the operator running every resource is released by it;
//     with the operator gone the finalizers are stripped so deletion completes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startControlPlane, type ControlPlane } from './lib/controlplane.ts';
import { freePort, startMinio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store } from '../proxy/backends/s3/store.ts';
import type { GcStatus } from '../proxy/health/status.ts';
import { ROOT, tempDir } from './lib/gateway.ts';
import type { BackendBucketStatus } from '../crds/backendbucket.ts';
import { outcome } from '../operator/conditions.ts';
import type { Ctx } from '../operator/context.ts';
import { createKube, loadKubeConfig } from '../operator/kube/api.ts';
import { TYPES } from '../operator/kube/types.ts';
import { writeStatusOf } from '../operator/status.ts';
import {
  applyObjects, backendBucketOf, condition, getObject, runVirtualBucketGateway, secretOf, setDeploymentReady, startBackend, startOperator, waitFor,
  type Backend, type OperatorProcess,
} from './lib/operator.ts';

const NS = 'default';
let cp: ControlPlane;
let op: OperatorProcess | undefined;
let backend: Backend;
const cleanups: (() => Promise<void>)[] = [];
const dir = tempDir('floodgate-opgw-');

before(async () => {
  cp = await startControlPlane();
  backend = await startBackend('opgw-data');
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await op?.stop('SIGKILL');
  await backend?.close();
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const vbOf = (name: string, spec: object) => ({ apiVersion: 'floodgate.dev/v1alpha1', kind: 'VirtualBucket', metadata: { name, namespace: NS }, spec });
const eventsOf = async (name: string) => (JSON.parse((await cp.kubectl(['get', 'events.events.k8s.io', '-n', NS, '-o', 'json'])).stdout).items as any[])
  .filter((e) => e.regarding.name === name);

function cleanupCommand(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [join(ROOT, 'main.ts'), 'operator', 'cleanup', '--kubeconfig', cp.kubeconfig, ...args], { timeout: 240_000 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

test('every generated CRD applies (created, then updated) without a warning', async () => {
  for (const extra of [[], ['--force-conflicts']]) {
    const r = await cp.kubectl(['apply', '--server-side', ...extra, '-f', join(ROOT, 'crds')]);
    assert.doesNotMatch(r.stderr, /warning/i, r.stderr);
    assert.match(r.stdout, /faultexperiments\.floodgate\.dev/);
  }
  await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/backendbuckets.floodgate.dev', 'crd/virtualbuckets.floodgate.dev', 'crd/faultexperiments.floodgate.dev']);
  // The check above can see the warning: a schema with zod's format is warned about.
  const probe = {
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'probes.example.dev' },
    spec: {
      group: 'example.dev', scope: 'Namespaced', names: { plural: 'probes', singular: 'probe', kind: 'Probe' },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { path: { type: 'string', format: 'starts_with' } } } } } } }],
    },
  };
  const warned = await cp.kubectl(['apply', '--server-side', '-f', '-'], { input: JSON.stringify(probe) });
  assert.match(warned.stderr, /Warning: unrecognized format "starts_with"/);
  await cp.kubectl(['delete', 'crd', 'probes.example.dev', '--wait=false']);
});

test('a status transition seen twice through a lagging cache is one transition (one Event)', async () => {
  // The reconcile that a finalizer's update starts can read the cache before the previous
  // round's status arrives: it sees the object without status, as here.
  await applyObjects(cp, [backendBucketOf(NS, 'lagging', backend, 'keys')]);
  const stale = await getObject(cp, 'backendbucket', NS, 'lagging');
  const ctx = { kube: createKube(loadKubeConfig(cp.kubeconfig)), now: () => new Date() } as unknown as Ctx;
  const conditions = outcome('ready', 'ProbeSucceeded', 'answered in 1 ms');
  const first = await writeStatusOf<BackendBucketStatus>(ctx, TYPES.backendBucket, stale, { health: 'Up' }, conditions);
  assert.equal(first?.transitioned, true);
  const second = await writeStatusOf<BackendBucketStatus>(ctx, TYPES.backendBucket, stale, { health: 'Up' }, conditions);
  assert.ok(!second?.transitioned, 'not a second transition');
  await cp.kubectl(['delete', 'backendbucket', 'lagging', '-n', NS, '--wait=false']);
});

test('a new BackendBucket gets one Ready Event, not two', async () => {
  op = startOperator(cp);
  await op.httpUrl;
  await applyObjects(cp, [secretOf(NS, 'keys', backend.creds), backendBucketOf(NS, 'store', backend, 'keys', { probeInterval: '1h' })]);
  await waitFor('store Ready', async () => condition(await getObject(cp, 'backendbucket', NS, 'store'), 'Ready')?.status === 'True');
  // Let every round the creation started finish (the finalizer's update starts another).
  await waitFor('no reconcile pending', async () => {
    const m = await (await fetch(`${await op!.httpUrl}/metrics`)).text();
    return /floodgate_operator_workqueue_depth\{controller="backendbucket"\} 0/.test(m);
  });
  await new Promise((r) => setTimeout(r, 3_000));
  const ready = (await eventsOf('store')).filter((e) => e.reason === 'ProbeSucceeded');
  assert.equal(ready.length, 1, JSON.stringify(ready.map((e) => [e.metadata.name, e.eventTime])));
});

test('the rendered gateway: index claim, resources, fault token; not Ready until a pod is', async () => {
  const port = await freePort();
  await applyObjects(cp, [vbOf('photos', { backends: ['store'], port })]);
  const deployment = await waitFor('Deployment', () => getObject(cp, 'deployment', NS, 'photos-gateway'));
  const vbObj = await getObject(cp, 'virtualbucket', NS, 'photos');
  const owned = (o: any) => assert.deepEqual(o.metadata.ownerReferences.map((r: any) => [r.kind, r.name, r.uid, r.controller]), [['VirtualBucket', 'photos', vbObj.metadata.uid, true]]);

  // The index on a claim the VirtualBucket owns; one pod at a time.
  const pvc = await getObject(cp, 'persistentvolumeclaim', NS, 'photos-gateway-index');
  owned(pvc);
  assert.equal(pvc.spec.resources.requests.storage, '1Gi');
  assert.deepEqual(pvc.spec.accessModes, ['ReadWriteOnce']);
  const pod = deployment.spec.template.spec;
  assert.equal(deployment.spec.strategy.type, 'Recreate');
  assert.deepEqual(pod.volumes.find((v: any) => v.name === 'data').persistentVolumeClaim, { claimName: 'photos-gateway-index' });
  // Default resources.
  assert.deepEqual(pod.containers[0].resources, { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } });
  // The fault token: a Secret the VirtualBucket owns, mounted for --fault-token-file, never logged.
  const secret = await getObject(cp, 'secret', NS, 'photos-gateway-faults');
  owned(secret);
  const token = Buffer.from(secret.data.token, 'base64').toString('utf8');
  assert.ok(token.length >= 32);
  assert.deepEqual(pod.containers[0].args.slice(-4), ['--fault-token-file', '/etc/floodgate/faults/token', '--admin-token-file', '/etc/floodgate/admin/token']);
  // The admin API's token likewise, in its own Secret, named in the status.
  const adminSecret = await getObject(cp, 'secret', NS, 'photos-gateway-admin');
  owned(adminSecret);
  const adminToken = Buffer.from(adminSecret.data.token, 'base64').toString('utf8');
  assert.ok(adminToken.length >= 32 && adminToken !== token);
  assert.ok(!op!.logs.some((l) => l.includes(token) || l.includes(adminToken)), 'the tokens are never logged');

  // No ready pod: not Ready, whatever a gateway reached another way says.
  const { gateway, faultToken, adminToken: podAdminToken } = await runVirtualBucketGateway(cp, NS, 'photos', port, join(dir, 'photos'));
  cleanups.push(() => gateway.stop());
  assert.equal(faultToken, token);
  assert.equal(podAdminToken, adminToken);
  let vb = await waitFor('photos NoReadyReplicas', async () => {
    const o = await getObject(cp, 'virtualbucket', NS, 'photos');
    return condition(o, 'Progressing')?.reason === 'NoReadyReplicas' && o;
  });
  assert.equal(condition(vb, 'Ready').status, 'False');
  assert.match(condition(vb, 'Ready').message, /0 of 1 gateway pods are ready/);
  assert.equal(vb.status.readyReplicas, 0);
  // The gateway's fault API answers the operator's token, and only it.
  const faultsUrl = `${gateway.url}/_floodgate/faults`;
  assert.equal((await fetch(faultsUrl, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  assert.notEqual((await fetch(faultsUrl, { headers: { authorization: 'Bearer wrong-token-123' } })).status, 200);
  // Its admin API answers the admin token, and not the fault token.
  const findUrl = `${gateway.url}/_floodgate/admin/find?bucket=${vb.status.bucketName}`;
  assert.equal((await fetch(findUrl, { headers: { authorization: `Bearer ${adminToken}` } })).status, 200);
  assert.equal((await fetch(findUrl, { headers: { authorization: `Bearer ${token}` } })).status, 401);
  assert.equal(vb.status.adminSecret, 'photos-gateway-admin');

  // A ready pod (the Deployment controller would write this): Ready.
  await setDeploymentReady(cp, NS, 'photos-gateway', 1);
  vb = await waitFor('photos Ready', async () => {
    const o = await getObject(cp, 'virtualbucket', NS, 'photos');
    return condition(o, 'Ready')?.status === 'True' && o;
  });
  assert.equal(vb.status.readyReplicas, 1);
  // The pod goes away: not Ready again.
  await setDeploymentReady(cp, NS, 'photos-gateway', 0);
  await waitFor('photos NoReadyReplicas again', async () => condition(await getObject(cp, 'virtualbucket', NS, 'photos'), 'Ready')?.reason === 'NoReadyReplicas');

  // resources: each given field replaces its default.
  await applyObjects(cp, [vbOf('photos', { backends: ['store'], port, resources: { limits: { memory: '1Gi', cpu: '2' } } })]);
  await waitFor('resources changed', async () => {
    const r = (await getObject(cp, 'deployment', NS, 'photos-gateway')).spec.template.spec.containers[0].resources;
    return r.limits.memory === '1Gi' && r.limits.cpu === '2' && r.requests.memory === '128Mi';
  });
  const bad = await applyObjects(cp, [vbOf('photos', { backends: ['store'], port, resources: { requests: { cpu: 'lots' } } })], true);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /expected a quantity like 500m, 2, 256Mi or 1Gi/);
  // The token survives every reconcile.
  assert.equal((await getObject(cp, 'secret', NS, 'photos-gateway-faults')).data.token, secret.data.token);
  assert.equal((await getObject(cp, 'secret', NS, 'photos-gateway-admin')).data.token, adminSecret.data.token);
});

test('status.gc: the gateway\'s gc run over a real MinIO backend, in the VirtualBucket status', async () => {
  const minio = await startMinio();
  cleanups.push(() => minio.close());
  const direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  cleanups.push(() => direct.close());
  await direct.createBucket('opgc-data');
  const port = await freePort();
  await applyObjects(cp, [
    secretOf(NS, 'minio-keys', minio.credentials),
    backendBucketOf(NS, 'minio-store', { endpoint: minio.endpoint, bucket: 'opgc-data' }, 'minio-keys', { probeInterval: '1h' }),
    vbOf('swept', { backends: ['minio-store'], port, gc: { minAge: '1s' } }),
  ]);
  await waitFor('Deployment', () => getObject(cp, 'deployment', NS, 'swept-gateway'));
  const { gateway, creds, adminToken } = await runVirtualBucketGateway(cp, NS, 'swept', port, join(dir, 'swept'));
  cleanups.push(() => gateway.stop());
  await setDeploymentReady(cp, NS, 'swept-gateway', 1);
  const ready = await waitFor('swept Ready', async () => {
    const o = await getObject(cp, 'virtualbucket', NS, 'swept');
    return condition(o, 'Ready')?.status === 'True' && o;
  });
  assert.equal(ready.status.gc, undefined, 'no run yet, no block');

  const s3 = new S3Client({ endpoint: gateway.url, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1 });
  try {
    for (const k of ['kept', 'lost']) await s3.send(new PutObjectCommand({ Bucket: 'swept', Key: k, Body: `value of ${k}` }));
  } finally {
    s3.destroy();
  }
  // A copy gone behind the gateway's back, and an orphan put straight onto the backend bucket.
  await direct.deleteObject('opgc-data', 'swept/lost');
  const orphan = Buffer.from('nobody wrote me through the gateway');
  await direct.putObject('opgc-data', 'swept/orphan', { body: Readable.from([orphan]), size: orphan.length, headers: { userMeta: {} }, checksums: {} });
  // Older than spec.gc.minAge.
  await new Promise((r) => setTimeout(r, 1_500));
  const gcUrl = `${gateway.url}/_floodgate/admin/gc?bucket=swept`;
  const auth = { authorization: `Bearer ${adminToken}` };
  assert.equal((await fetch(gcUrl, { method: 'POST', headers: auth })).status, 200);
  const run = await waitFor('the run done', async () => {
    const runs = ((await (await fetch(gcUrl, { headers: auth })).json()) as { runs: GcStatus[] }).runs;
    return runs[0]?.state === 'done' && runs[0];
  });
  assert.deepEqual((await direct.scan('opgc-data', { prefix: 'swept/', after: '', limit: 10 })).map((m) => m.key), ['swept/kept'], 'the orphan is gone from MinIO');

  // Written by the next reconcile (a gateway's numbers changing start none: the 30 s requeue).
  const vb = await waitFor('status.gc of the run', async () => {
    const o = await getObject(cp, 'virtualbucket', NS, 'swept');
    return o?.status?.gc?.finishedAt === run.finishedAt && o;
  }, 90_000);
  assert.deepEqual(vb.status.gc, {
    state: 'Done', startedAt: run.startedAt, finishedAt: run.finishedAt, backends: 1,
    orphansFound: 1, orphansRemoved: 1, removedBytes: orphan.length, youngObjects: 0, missingCopies: 1, errors: 0,
  });

  // Gone again, so the cleanup tests below find what they did before.
  for (const [kind, name] of [['virtualbucket', 'swept'], ['backendbucket', 'minio-store'], ['secret', 'minio-keys']]) {
    await cp.kubectl(['delete', kind!, name!, '-n', NS, '--timeout=60s']);
  }
});

test('floodgate operator cleanup with the operator running: everything released by it', async () => {
  const r = await cleanupCommand(['--namespace', NS, '--timeout', '90s']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /cleanup: 2 deleted, 2 released by the operator, 0 finalizers stripped, 0 left/);
  assert.equal(await getObject(cp, 'backendbucket', NS, 'store'), undefined);
  assert.equal(await getObject(cp, 'virtualbucket', NS, 'photos'), undefined);
});

test('floodgate operator cleanup with the operator gone: finalizers stripped, deletion completes', async () => {
  await applyObjects(cp, [backendBucketOf(NS, 'orphan', backend, 'keys', { probeInterval: '1h' })]);
  await waitFor('finalizer on orphan', async () => (await getObject(cp, 'backendbucket', NS, 'orphan'))?.metadata?.finalizers?.includes('floodgate.dev/in-use-protection'));
  await op!.stop();
  op = undefined;
  // A plain delete now hangs on the finalizer.
  await cp.kubectl(['delete', 'backendbucket', 'orphan', '-n', NS, '--wait=false']);
  await new Promise((r) => setTimeout(r, 1_000));
  assert.ok((await getObject(cp, 'backendbucket', NS, 'orphan'))?.metadata?.deletionTimestamp);
  const r = await cleanupCommand(['--namespace', NS, '--timeout', '2s']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /their floodgate\.dev finalizers were removed: BackendBucket default\/orphan/);
  assert.match(r.stdout, /cleanup: 1 deleted, 0 released by the operator, 1 finalizers stripped, 0 left/);
  assert.equal(await getObject(cp, 'backendbucket', NS, 'orphan'), undefined);
  // Bad input: one clear line, exit 2.
  const bad = await cleanupCommand(['--timeout', 'soon']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^floodgate operator cleanup: --timeout: expected a duration/);
});

// The Kubernetes half, as a user meets it: `helm install`, a MinIO pod with two BackendBuckets, a
// VirtualBucket whose gateway pods serve an application pod, a gateway pod deleted under load,
// `helm upgrade` and `helm uninstall`. Run in order; each scenario leaves what the next needs.
import assert from 'node:assert/strict';
import { condition, type Kube } from './kube.ts';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { contentOf, sizeOfKey } from '../apps/content.ts';
import { adminApi, finishApp, gatewayClient, runApp, startApp } from './apps.ts';

export const SYSTEM_NS = 'floodgate-system';
export const NS = 'floodgate-e2e';
export const RELEASE = 'floodgate';
export const VB = 'photos';
export const GATEWAY = `${VB}-gateway`;
const ACCESS = `${VB}-access`;

export interface Scenario { name: string; run(k: Kube): Promise<void> }

/** The MinIO pod's Service and root keys, and the two buckets on it that the BackendBuckets name. */
export const MINIO = { service: 'minio', secret: 'minio-root' };
export const BACKEND_BUCKETS = ['backend-a', 'backend-b'];

/**
 * The keys of virtual bucket `vb` in each backend bucket, from MinIO's own listing (its root keys):
 * stored under `<vb>/<key>` or under a name of their own, `.floodgate/w/<vb>/<token>/<key>`.
 */
export async function backendKeys(k: Kube, vb: string, buckets = BACKEND_BUCKETS): Promise<Record<string, string[]>> {
  const minio = await gatewayClient(k, NS, MINIO.service, MINIO.secret);
  try {
    const out: Record<string, string[]> = {};
    for (const bucket of buckets) {
      const direct = (await minio.listAll(`${vb}/`, bucket)).map((name) => name.slice(vb.length + 1));
      const own = (await minio.listAll(`.floodgate/w/${vb}/`, bucket)).map((name) => name.split('/').slice(4).join('/'));
      out[bucket] = [...direct, ...own].sort();
    }
    return out;
  } finally {
    minio.close();
  }
}

const operatorPods = (k: Kube) => k.list('pods', SYSTEM_NS, 'app.kubernetes.io/component=operator');
const ready = (pod: any) => pod.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') && !pod.metadata.deletionTimestamp;

export async function helmInstall(k: Kube, extra: string[] = []): Promise<void> {
  await k.helm(['install', RELEASE, k.env.chart, '-n', SYSTEM_NS, '--create-namespace', '--wait', '--timeout', '240s', ...extra], { timeoutMs: 300_000 });
}

const install: Scenario = {
  name: 'helm install: the operator pod becomes Ready with the chart\'s ServiceAccount, takes its Lease and serves /metrics',
  async run(k) {
    const started = Date.now();
    await helmInstall(k);
    const pods = await operatorPods(k);
    assert.equal(pods.length, 1);
    const pod = pods[0];
    assert.ok(ready(pod), 'operator pod Ready');
    // The chart installs with no --set: the image it names is the one this repo built and loaded.
    assert.equal(pod.spec.containers[0].image, k.env.images.floodgate);
    assert.match(pod.spec.serviceAccountName, /floodgate-operator$/);
    const lease = await k.waitFor('the operator to hold its Lease', async () => {
      const leases = await k.list('leases.coordination.k8s.io', SYSTEM_NS);
      return leases.find((l) => l.spec?.holderIdentity?.startsWith(pod.metadata.name));
    });
    assert.ok(lease.spec.leaseDurationSeconds > 0);
    const svc = (await k.list('services', SYSTEM_NS)).find((s) => s.metadata.name.endsWith('-metrics') || s.spec.ports?.some((p: any) => p.name === 'metrics'));
    assert.ok(svc, 'a metrics Service');
    const fwd = await k.portForward(SYSTEM_NS, `svc/${svc.metadata.name}`, svc.spec.ports[0].port);
    try {
      const text = await (await fetch(`${fwd.url}/metrics`)).text();
      assert.match(text, /^floodgate_operator_/m);
      assert.match(text, /^process_cpu_seconds_total/m);
    } finally {
      fwd.close();
    }
    k.env.log(`helm install → operator Ready and leader: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  },
};

const storage: Scenario = {
  name: 'a MinIO pod, two BackendBuckets on it and a VirtualBucket: gateway pods Ready, status from the real gateways',
  async run(k) {
    await k.apply('namespace.yaml', { NS, NS_LABELS: JSON.stringify({ 'floodgate.io/injection': 'enabled' }) });
    await k.apply('minio.yaml', { NS, MINIO_USER: 'e2e-minio-root', MINIO_PASSWORD: 'e2e-minio-root-secret' });
    await k.kubectl(['rollout', 'status', 'deployment/minio', '-n', NS, '--timeout=180s']);
    const mb = await runApp(k, { job: 'make-buckets', ns: NS, secret: MINIO.secret, mode: 'buckets', buckets: BACKEND_BUCKETS });
    assert.ok(mb.outcomes.filter((o) => o.op === 'mb' && o.ok).length === 2, JSON.stringify(mb.outcomes));
    await k.apply('backends.yaml', { NS, VB });
    const vb = await k.waitFor('the VirtualBucket to be Ready with per-backend status', async () => {
      const v = await k.get('virtualbucket', NS, VB);
      const up = (v?.status?.backends ?? []).filter((b: any) => b.health === 'Up');
      return condition(v, 'Ready')?.status === 'True' && v.status.readyReplicas >= 1 && up.length === 2 ? v : undefined;
    }, 240_000);
    assert.equal(vb.status.endpoint, `http://${GATEWAY}.${NS}.svc:9000`);
    for (const b of vb.status.backends) {
      assert.equal(b.maxSize, 2 * 1024 ** 3, `maxSize of ${b.name}`);
      assert.ok(b.freeBytes > 0 && b.freeBytes <= b.maxSize, `freeBytes of ${b.name}: ${b.freeBytes}`);
      assert.ok(b.writable, `${b.name} writable`);
    }
    const gw = await k.list('pods', NS, `app.kubernetes.io/instance=${VB}`);
    assert.ok(gw.some(ready), 'a Ready gateway pod');
    for (const name of ['minio-a', 'minio-b']) {
      const bb = await k.get('backendbucket', NS, name);
      assert.equal(bb.status.health, 'Up', `${name} health`);
    }
  },
};

const application: Scenario = {
  name: 'an application pod with only the access Secret writes and reads through the Service, incl. a 64 MiB multipart upload',
  async run(k) {
    const r = await runApp(k, { job: 'roundtrip', ns: NS, secret: ACCESS, mode: 'roundtrip', prefix: 'roundtrip', smallCount: 20, largeMiB: 64 });
    const failed = r.outcomes.filter((o) => !o.ok);
    assert.deepEqual(failed, [], 'every operation of the application succeeded');
    assert.equal(r.outcomes.filter((o) => o.op === 'put' || o.op === 'mpu').length, 21);
    const c = await gatewayClient(k, NS, GATEWAY, ACCESS);
    try {
      const keys = await c.listAll('roundtrip/');
      assert.equal(keys.length, 21);
      for (const key of keys) assert.ok(await c.verify(key), `bytes of ${key} as the application wrote them`);
    } finally {
      c.close();
    }
  },
};

const COPIES_VB = `${VB}-copies`;

const copies: Scenario = {
  name: 'a VirtualBucket with copies: 2 — each object on both backends, and the admin API (token from the adminSecret) finds each with 2 copies',
  async run(k) {
    await k.apply('copies.yaml', { NS, COPIES_VB });
    const vb = await k.waitFor('the copies VirtualBucket to be Ready, keeping 2 copies', async () => {
      const v = await k.get('virtualbucket', NS, COPIES_VB);
      return condition(v, 'Ready')?.status === 'True' && v.status.copies === 2 ? v : undefined;
    }, 240_000);
    const c = await gatewayClient(k, NS, `${COPIES_VB}-gateway`, vb.status.accessSecret);
    const keys = Array.from({ length: 21 }, (_, i) => `two/${i}-${1000 + i * 50_000}b`);
    try {
      for (const key of keys) await c.s3.send(new PutObjectCommand({ Bucket: c.bucket, Key: key, Body: contentOf(key, sizeOfKey(key)) }));
      for (const key of keys) assert.ok(await c.verify(key), `bytes of ${key}`);
    } finally {
      c.close();
    }
    await k.waitFor('none under-replicated', async () => (await k.get('virtualbucket', NS, COPIES_VB))?.status?.underReplicated === 0);
    const admin = await adminApi(k, NS, vb);
    try {
      const find = `find?bucket=${vb.status.bucketName}&prefix=two/`;
      assert.equal((await fetch(`${admin.url}/_floodgate/admin/${find}`)).status, 401, 'no token, no search');
      const found = (await admin.call('GET', find)) as { objects: { key: string; replicas: number }[] };
      assert.deepEqual(found.objects.map((o) => o.key).sort(), [...keys].sort());
      assert.deepEqual(found.objects.filter((o) => o.replicas !== 2).map((o) => o.key), [], 'every object has 2 copies in the index');
    } finally {
      admin.close();
    }
    // And on the backends themselves, read with MinIO's own keys: the 21 objects in each bucket.
    for (const [bucket, stored] of Object.entries(await backendKeys(k, vb.status.bucketName))) {
      assert.deepEqual(stored, [...keys].sort(), `objects in ${bucket}`);
    }
    // Gone again, so the scenarios after this one see the cluster as before.
    await k.kubectl(['delete', 'virtualbucket', COPIES_VB, '-n', NS, '--timeout=120s']);
    await k.waitFor('its gateway pods to be gone', async () => (await k.list('pods', NS, `app.kubernetes.io/instance=${COPIES_VB}`)).length === 0);
  },
};

const gatewayRestart: Scenario = {
  name: 'a gateway pod deleted under load is replaced; no acknowledged object is lost and the listing is complete again',
  async run(k) {
    const app = { job: 'under-load', ns: NS, secret: ACCESS, mode: 'loop' as const, prefix: 'load', maxOps: 4000, maxSeconds: 45, pauseMs: 20 };
    await startApp(k, app);
    await k.waitFor('the application to be running', async () => (await k.list('pods', NS, `app=${app.job}`)).some((p) => p.status?.phase === 'Running'));
    await new Promise((r) => setTimeout(r, 8000));
    const [old] = (await k.list('pods', NS, `app.kubernetes.io/instance=${VB}`)).filter(ready);
    assert.ok(old, 'a Ready gateway pod to delete');
    await k.kubectl(['delete', 'pod', old.metadata.name, '-n', NS, '--wait=false']);
    await k.waitFor('a replacement gateway pod to be Ready', async () =>
      (await k.list('pods', NS, `app.kubernetes.io/instance=${VB}`)).some((p) => p.metadata.uid !== old.metadata.uid && ready(p)), 180_000);
    const { outcomes } = await finishApp(k, app, { timeoutMs: 300_000 });
    const acked = outcomes.filter((o) => o.op === 'put' && o.ok).map((o) => o.key);
    const failedAfter = outcomes.filter((o) => !o.ok);
    k.env.log(`under load: ${acked.length} PUTs acknowledged, ${failedAfter.length} operations failed while the gateway was replaced`);
    assert.ok(acked.length > 20, `the application made progress (${acked.length} PUTs)`);
    const c = await gatewayClient(k, NS, GATEWAY, ACCESS);
    try {
      const listed = new Set(await c.listAll('load/'));
      const missing = acked.filter((key) => !listed.has(key));
      assert.deepEqual(missing, [], 'every acknowledged object is listed after the restart');
      for (const key of acked.filter((_, i) => i % 25 === 0)) assert.ok(await c.verify(key), `bytes of ${key}`);
    } finally {
      c.close();
    }
  },
};

const upgrade: Scenario = {
  name: 'helm upgrade with a changed value rolls the operator; the VirtualBucket stays Ready',
  async run(k) {
    await k.helm(['upgrade', RELEASE, k.env.chart, '-n', SYSTEM_NS, '--reuse-values', '--set', 'operator.logLevel=debug', '--wait', '--timeout', '240s'], { timeoutMs: 300_000 });
    const pod = await k.waitFor('one Ready operator pod with the new flag', async () => {
      const pods = (await operatorPods(k)).filter((p) => !p.metadata.deletionTimestamp);
      return pods.length === 1 && ready(pods[0]) && JSON.stringify(pods[0].spec.containers[0].args).includes('debug') ? pods[0] : undefined;
    });
    assert.ok(pod);
    const vb = await k.get('virtualbucket', NS, VB);
    assert.equal(condition(vb, 'Ready')?.status, 'True');
  },
};

const uninstall: Scenario = {
  name: 'helm uninstall: the operator goes, the CRDs stay, and BackendBuckets and VirtualBuckets can still be deleted',
  async run(k) {
    await k.helm(['uninstall', RELEASE, '-n', SYSTEM_NS, '--wait', '--timeout', '240s'], { timeoutMs: 300_000 });
    await k.waitFor('the operator pods to be gone', async () => (await operatorPods(k)).length === 0);
    const crds = (await k.kubectl(['get', 'crd', '-o', 'name'])).stdout;
    assert.match(crds, /virtualbuckets\.floodgate\.dev/);
    await k.kubectl(['delete', 'virtualbuckets,backendbuckets', '--all', '-n', NS, '--timeout=120s']);
    assert.equal((await k.list('virtualbuckets', NS)).length, 0);
    assert.equal((await k.list('backendbuckets', NS)).length, 0);
  },
};

/** In the order they run. */
export const PLATFORM: Scenario[] = [install, storage, application, copies, gatewayRestart, upgrade];
/** Runs last (after the fault scenarios, which need the operator). */
export const TEARDOWN: Scenario[] = [uninstall];

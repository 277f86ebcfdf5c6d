// Two operators share one Lease: only the holder acts; SIGKILL it and the standby takes over.
// An operator SIGKILLed mid-reconcile converges again after a restart.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from './lib/controlplane.ts';
import { ROOT } from './lib/gateway.ts';
import { applyObjects, backendBucketOf, condition, getObject, secretOf, startBackend, startOperator, waitFor, type Backend, type OperatorProcess } from './lib/operator.ts';

const NS = 'default';
let cp: ControlPlane;
let backend: Backend;
const ops: OperatorProcess[] = [];

before(async () => {
  cp = await startControlPlane();
  await cp.kubectl(['apply', '--server-side', '-f', join(ROOT, 'crds')]);
  await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/backendbuckets.floodgate.dev', 'crd/virtualbuckets.floodgate.dev']);
  backend = await startBackend('data-l');
  await applyObjects(cp, [secretOf(NS, 'keys', backend.creds)]);
});

after(async () => {
  for (const o of ops) await o.stop('SIGKILL');
  await backend?.close();
  await cp?.stop();
});

const holder = async () => (await getObject(cp, 'lease', NS, 'floodgate-operator'))?.spec?.holderIdentity as string | undefined;
const ready = (name: string, timeoutMs = 60_000) => waitFor(`${name} Ready`, async () => condition(await getObject(cp, 'backendbucket', NS, name), 'Ready')?.status === 'True', timeoutMs);
const leadersIn = (o: OperatorProcess) => o.logs.filter((l) => l.includes('"became leader"')).length;

test('two replicas: one leads and acts, the other waits; killing the leader hands over within the lease', async () => {
  ops.push(startOperator(cp), startOperator(cp));
  await Promise.all(ops.map((o) => o.httpUrl));
  await waitFor('a lease holder', holder);
  await applyObjects(cp, [backendBucketOf(NS, 'one', backend, 'keys')]);
  await ready('one');
  const leaders = ops.filter((o) => leadersIn(o) > 0);
  assert.equal(leaders.length, 1, 'exactly one leader');
  const [leader] = leaders;
  const standby = ops.find((o) => o !== leader)!;
  assert.ok(!standby.logs.some((l) => l.includes('BackendBucket changed state')), 'the standby never reconciled');
  assert.equal((await fetch(`${await standby.httpUrl}/readyz`)).status, 200);

  const before = await holder();
  const killedAt = Date.now();
  await leader!.stop('SIGKILL');
  await waitFor('standby leads', async () => leadersIn(standby) > 0, 30_000, 200);
  const took = Date.now() - killedAt;
  assert.notEqual(await holder(), before);
  assert.ok(took < 20_000, `handover took ${took} ms`);
  await applyObjects(cp, [backendBucketOf(NS, 'two', backend, 'keys')]);
  await ready('two');
});

test('an operator SIGKILLed mid-reconcile converges after a restart', async () => {
  for (const o of ops) await o.stop('SIGKILL');
  ops.length = 0;
  const first = startOperator(cp, ['--leader-elect', 'false']);
  ops.push(first);
  await first.httpUrl;
  const names = Array.from({ length: 8 }, (_, i) => `burst-${i}`);
  await applyObjects(cp, names.map((n) => backendBucketOf(NS, n, backend, 'keys')));
  await waitFor('reconciles under way', async () => first.logs.some((l) => l.includes('burst-')), 30_000, 50);
  await first.stop('SIGKILL');
  const second = startOperator(cp, ['--leader-elect', 'false']);
  ops.push(second);
  for (const n of names) await ready(n);
  const bb = await getObject(cp, 'backendbucket', NS, 'burst-0');
  assert.deepEqual(bb.metadata.finalizers, ['floodgate.dev/in-use-protection'], 'one finalizer, not duplicated');
});

test('informers survive an API server restart', async () => {
  await cp.restartApiServer();
  await applyObjects(cp, [backendBucketOf(NS, 'after-restart', backend, 'keys')]);
  await ready('after-restart', 90_000);
});

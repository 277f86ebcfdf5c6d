// The FaultExperiment controller against a real kube-apiserver and real `floodgate injector` /
// `floodgate gateway` processes. Pods never run here (no kubelet): the test creates them, sets
// their status (Running, podIP 127.0.0.1) and runs an injector on the control port the pod's
// annotation names, as the webhook's sidecar would listen on the pod IP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from './lib/controlplane.ts';
import { freePort } from './lib/ports.ts';
import { newCredentials, ROOT, spawnGateway, tempDir, type SpawnedGateway } from './lib/gateway.ts';
import { applyObjects, condition, getObject, startOperator, waitFor, type OperatorProcess } from './lib/operator.ts';
import { spawnInjector, type SpawnedInjector } from '../injector/testing/spawn.ts';
import { CONTROL_PORT_ANNOTATION, INJECTED_ANNOTATION, TOKEN_SECRET_ANNOTATION } from '../operator/injection-contract.ts';

const NS = 'chaos';
const OP_NS = 'floodgate-system';
let cp: ControlPlane;
let op: OperatorProcess;
const injectors = new Map<string, SpawnedInjector>();
const stops: (() => Promise<void>)[] = [];
const dir = tempDir('floodgate-fx-e2e-');

const opArgs = ['--operator-namespace', OP_NS, '--injection-deadline', '20s'];

async function markRunning(name: string, ns = NS): Promise<void> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const status = { phase: 'Running', podIP: '127.0.0.1', podIPs: [{ ip: '127.0.0.1' }], startTime: now,
    conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: now })) };
  await cp.kubectl(['patch', 'pod', name, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
}

const podOf = (name: string, labels: Record<string, string>, annotations: Record<string, string> = {}, ports: object[] = [], ns = NS) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels, annotations },
  spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1', ports }] },
});

/** A pod as the webhook leaves it, with a real injector listening on the annotated control port. */
async function injectedPod(name: string, labels: Record<string, string>): Promise<SpawnedInjector> {
  const port = await freePort();
  const inj = await spawnInjector(['--control-listen', `127.0.0.1:${port}`]);
  injectors.set(name, inj);
  stops.push(() => inj.stop());
  await applyObjects(cp, [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-injector`, namespace: NS }, stringData: { token: inj.token } },
    podOf(name, labels, { [INJECTED_ANNOTATION]: 'true', [TOKEN_SECRET_ANNOTATION]: `${name}-injector`, [CONTROL_PORT_ANNOTATION]: String(port) }),
  ]);
  await markRunning(name);
  return inj;
}

async function plainPod(name: string, labels: Record<string, string>): Promise<void> {
  await applyObjects(cp, [podOf(name, labels)]);
  await markRunning(name);
}

const fxOf = (name: string, spec: object, ns = NS) => ({ apiVersion: 'floodgate.dev/v1alpha1', kind: 'FaultExperiment', metadata: { name, namespace: ns }, spec });
const fx = (name: string, ns = NS) => getObject(cp, 'faultexperiment', ns, name);
const phaseIs = (name: string, phase: string, ns = NS) => waitFor(`${ns}/${name} ${phase}`, async () => {
  const o = await fx(name, ns);
  return o?.status?.phase === phase ? o : undefined;
}, 60_000);
const listed = async (inj: SpawnedInjector) => ((await inj.api('GET', '/_floodgate/faults')).body.faults as { id: string }[]).map((f) => f.id);
const idsOf = (o: any) => (o.spec.faults as unknown[]).map((_f, i) => `fx-${o.metadata.uid}-${i}`);
const slowDownEverySecond = { kind: 'error', code: 'SlowDown', status: 503, match: { operations: ['GetObject'] }, trigger: { everyNth: 2 } };

before(async () => {
  cp = await startControlPlane();
  await cp.kubectl(['apply', '--server-side', '-f', join(ROOT, 'crds')]);
  await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/faultexperiments.floodgate.dev']);
  for (const ns of [NS, OP_NS]) await cp.kubectl(['create', 'namespace', ns]);
  await injectedPod('web-a', { app: 'web' });
  await injectedPod('web-b', { app: 'web' });
  await plainPod('web-old', { app: 'web' });
  for (const n of ['api-0', 'api-1', 'api-2', 'api-3']) await plainPod(n, { app: 'api', tier: n === 'api-3' ? 'canary' : 'main' });
  op = startOperator(cp, opArgs);
  await op.httpUrl;
});

after(async () => {
  await op?.stop('SIGKILL');
  for (const s of stops.reverse()) await s().catch(() => {});
  await cp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the API server refuses a request fault without match (a typo like mach: would be pruned into match-all) and accepts match: {}', async () => {
  const r = await applyObjects(cp, [fxOf('typo', { target: { pods: { selector: { matchLabels: { app: 'web' } } } }, duration: '10s', faults: [{ kind: 'error', code: 'SlowDown', status: 503 }] })], true);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /match is required on request faults/);
  const ok = await applyObjects(cp, [fxOf('typo', { target: { pods: { selector: { matchLabels: { app: 'web' } } } }, duration: '10s', dryRun: true, faults: [{ kind: 'error', code: 'SlowDown', status: 503, match: {} }] })], true);
  assert.equal(ok.code, 0, ok.stderr);
  await cp.kubectl(['delete', 'faultexperiment', 'typo', '-n', NS]);
});

test('dryRun: selection modes pick deterministic targets, record them, and inject nothing', async () => {
  const dry = (name: string, pods: object) => fxOf(name, { target: { pods }, duration: '1m', dryRun: true, faults: [{ kind: 'latency', ms: 10, match: {} }] });
  await applyObjects(cp, [
    dry('dry-one', { selector: { matchLabels: { app: 'api' } }, mode: 'one' }),
    dry('dry-fixed', { selector: { matchLabels: { app: 'api' } }, mode: 'fixed', value: 2 }),
    dry('dry-percent', { selector: { matchLabels: { app: 'api' } }, mode: 'percent', value: 75 }),
    dry('dry-all-expr', { selector: { matchLabels: { app: 'api' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['canary'] }] }, mode: 'all' }),
  ]);
  const names = async (n: string) => ((await phaseIs(n, 'Completed')).status.targets as any[]).map((t) => t.name);
  assert.equal((await names('dry-one')).length, 1);
  const fixed = await names('dry-fixed');
  assert.equal(fixed.length, 2);
  assert.equal((await names('dry-percent')).length, 3);
  assert.deepEqual(await names('dry-all-expr'), ['api-0', 'api-1', 'api-2']);
  const o = await fx('dry-fixed');
  assert.ok((o.status.targets as any[]).every((t) => t.state === 'NotInjected' && t.reason === 'DryRun'));
  assert.equal(o.status.selected, 2);
  assert.equal(o.status.injected, 0);
  assert.equal(condition(o, 'Ready').reason, 'DryRun');
  assert.equal(o.metadata.finalizers, undefined, 'a dry run holds no finalizer');
  // The same uid chooses the same pods; the choice is kept in status, not made again.
  await cp.kubectl(['label', 'pod', 'api-0', '-n', NS, 'touched=1']);
  assert.deepEqual(((await fx('dry-fixed')).status.targets as any[]).map((t) => t.name), fixed);
  for (const inj of injectors.values()) assert.deepEqual(await listed(inj), []);
});

test('Pending → Running → Completed: every injected pod confirms, the pod without a sidecar is NoSidecar, the verdict is the injectors\' counts', async () => {
  await applyObjects(cp, [fxOf('slow-gets', { target: { pods: { selector: { matchLabels: { app: 'web' } }, mode: 'all' } }, duration: '12s', lease: '5s', faults: [slowDownEverySecond] })]);
  const running = await phaseIs('slow-gets', 'Running');
  const ids = idsOf(running);
  assert.ok(running.metadata.finalizers.includes('floodgate.dev/revert-faults'));
  assert.equal(running.status.selected, 3);
  assert.equal(running.status.injected, 2);
  const byName = Object.fromEntries((running.status.targets as any[]).map((t) => [t.name, t]));
  assert.deepEqual([byName['web-a'].state, byName['web-b'].state, byName['web-old'].state, byName['web-old'].reason], ['Injected', 'Injected', 'NotInjected', 'NoSidecar']);
  assert.equal(condition(running, 'Degraded').reason, 'NoSidecar');
  assert.ok(running.status.expiresAt && running.status.startTime);
  const a = injectors.get('web-a')!;
  assert.deepEqual(await listed(a), ids);
  const view = (await a.api('GET', `/_floodgate/faults/${ids[0]}`)).body;
  assert.equal(view.expiresAt.replace(/\.\d+Z$/, 'Z'), running.status.expiresAt, 'sent with the absolute expiry');
  assert.equal(view.leaseMs, 5000);
  // 10 GETs through web-a's sidecar: every 2nd is a SlowDown; the others reach the (dead) upstream.
  const codes: number[] = [];
  for (let i = 0; i < 10; i++) codes.push((await fetch(`${a.url}/bucket/key-${i}`)).status);
  assert.equal(codes.filter((c) => c === 503).length, 5);
  // Heartbeats keep it alive past the 5 s lease.
  await new Promise((r) => setTimeout(r, 7_000));
  assert.deepEqual(await listed(a), ids, 'still active after more than one lease');

  const done = await phaseIs('slow-gets', 'Completed');
  assert.deepEqual([done.status.injected, done.status.recovered, done.status.matched, done.status.faulted], [0, 2, 10, 5]);
  const t = Object.fromEntries((done.status.targets as any[]).map((x) => [x.name, x]));
  assert.deepEqual([t['web-a'].state, t['web-a'].matched, t['web-a'].faulted, t['web-b'].matched], ['Recovered', 10, 5, 0]);
  assert.equal(done.status.faults[0].seed, view.seed);
  assert.equal(condition(done, 'Effective').status, 'True');
  assert.equal(condition(done, 'Ready').reason, 'Completed');
  assert.ok(done.status.endTime);
  await waitFor('finalizer removed', async () => ((await fx('slow-gets')).metadata.finalizers ?? []).length === 0);
  for (const inj of injectors.values()) assert.deepEqual(await listed(inj), []);
  const events = await cp.kubectl(['get', 'events.events.k8s.io', '-n', NS, '--field-selector', 'regarding.name=slow-gets', '-o', 'json']);
  const reasons = (JSON.parse(events.stdout).items as any[]).map((e) => e.reason);
  for (const r of ['Running', 'Completed', 'TargetInjected', 'TargetNotInjected', 'TargetRecovered']) assert.ok(reasons.includes(r), `Event ${r} in ${reasons}`);
  const table = await cp.kubectl(['get', 'faultexperiments', 'slow-gets', '-n', NS]);
  assert.match(table.stdout, /PHASE\s+INJECTED\s+EFFECTIVE\s+DURATION\s+AGE/);
  assert.match(table.stdout, /slow-gets\s+Completed\s+0\s+True\s+12s/);
  const failures = op.logs.filter((l) => l.includes('"controller":"faultexperiment"') && /"level":"(error|warn)"/.test(l));
  assert.deepEqual(failures, [], 'every reconcile succeeded');
});

test('faults that match no request end Effective=False, reason NoEffect', async () => {
  await applyObjects(cp, [fxOf('no-effect', { target: { pods: { selector: { matchLabels: { app: 'web' } }, mode: 'all' } }, duration: '4s', faults: [{ kind: 'error', code: 'InternalError', status: 500, match: { operations: ['PutObject'] } }] })]);
  const done = await phaseIs('no-effect', 'Completed');
  assert.deepEqual([condition(done, 'Effective').status, condition(done, 'Effective').reason], ['False', 'NoEffect']);
  assert.equal(done.status.matched, 0);
});

test('deleting a running experiment reverts at once and lets it go', async () => {
  await applyObjects(cp, [fxOf('deleted', { target: { pods: { selector: { matchLabels: { app: 'web' } }, mode: 'all' } }, duration: '10m', faults: [{ kind: 'latency', ms: 50, match: {} }] })]);
  const ids = idsOf(await phaseIs('deleted', 'Running'));
  assert.deepEqual(await listed(injectors.get('web-b')!), ids);
  await cp.kubectl(['delete', 'faultexperiment', 'deleted', '-n', NS, '--wait=false']);
  await waitFor('deleted gone', async () => (await fx('deleted')) === undefined, 30_000);
  for (const inj of injectors.values()) assert.deepEqual(await listed(inj), []);
});

test('abort annotation and the cluster-wide kill switch abort running experiments and keep new ones from starting', async () => {
  const spec = { target: { pods: { selector: { matchLabels: { app: 'web' } }, mode: 'all' } }, duration: '10m', faults: [{ kind: 'latency', ms: 5, match: {} }] };
  await applyObjects(cp, [fxOf('abort-me', spec), fxOf('killed-1', spec)]);
  await phaseIs('abort-me', 'Running');
  await phaseIs('killed-1', 'Running');
  await cp.kubectl(['annotate', 'faultexperiment', 'abort-me', '-n', NS, 'floodgate.io/abort=true']);
  const aborted = await phaseIs('abort-me', 'Aborted');
  assert.equal(condition(aborted, 'Ready').reason, 'AbortRequested');
  assert.equal(((await phaseIs('killed-1', 'Running')).status.injected), 2, 'the other one runs on');

  await cp.kubectl(['create', 'configmap', 'floodgate-kill-switch', '-n', OP_NS, '--from-literal=abort=true']);
  stops.push(async () => { await cp.kubectl(['delete', 'configmap', 'floodgate-kill-switch', '-n', OP_NS], { allowFail: true }); });
  const killed = await phaseIs('killed-1', 'Aborted');
  assert.equal(condition(killed, 'Ready').reason, 'KillSwitch');
  await applyObjects(cp, [fxOf('killed-2', spec)]);
  assert.equal(condition(await phaseIs('killed-2', 'Aborted'), 'Ready').reason, 'KillSwitch');
  for (const inj of injectors.values()) assert.deepEqual(await listed(inj), []);
  await cp.kubectl(['delete', 'configmap', 'floodgate-kill-switch', '-n', OP_NS]);
  await waitFor('kill switch seen off', async () => op.logs.some((l) => l.includes('kill switch off')), 20_000);
});

test('operator killed mid-run: the injectors revert at expiry on their own; the restarted operator completes the status and drops the finalizer', async () => {
  await applyObjects(cp, [fxOf('orphaned', { target: { pods: { selector: { matchLabels: { app: 'web' } }, mode: 'all' } }, duration: '8s', lease: '30s', faults: [{ kind: 'latency', ms: 1, match: {} }] })]);
  const running = await phaseIs('orphaned', 'Running');
  const ids = idsOf(running);
  await op.stop('SIGKILL');
  const a = injectors.get('web-a')!;
  assert.deepEqual(await listed(a), ids);
  await waitFor('reverted at expiry with no operator', async () => (await listed(a)).length === 0, 30_000, 200);
  assert.equal((await a.api('GET', `/_floodgate/faults/${ids[0]}`)).body.reason, 'expired');
  const stale = await fx('orphaned');
  assert.equal(stale.status.phase, 'Running', 'nobody wrote the end yet');
  assert.ok(stale.metadata.finalizers.includes('floodgate.dev/revert-faults'));
  op = startOperator(cp, opArgs);
  const done = await phaseIs('orphaned', 'Completed');
  assert.deepEqual((done.status.targets as any[]).filter((t) => t.name !== 'web-old').map((t) => `${t.name}:${t.state}`), ['web-a:Recovered', 'web-b:Recovered']);
  await waitFor('finalizer removed', async () => ((await fx('orphaned')).metadata.finalizers ?? []).length === 0);
});

test('protected namespaces are never acted in, and a cap on the share of pods holds', async () => {
  await applyObjects(cp, [fxOf('in-system', { target: { pods: { selector: {}, mode: 'all' } }, duration: '1m', faults: [{ kind: 'latency', ms: 5, match: {} }] }, 'kube-system')]);
  const sys = await phaseIs('in-system', 'Failed', 'kube-system');
  assert.equal(condition(sys, 'Ready').reason, 'ProtectedNamespace');
  await op.stop();
  op = startOperator(cp, [...opArgs, '--max-pod-share', '50']);
  await applyObjects(cp, [fxOf('too-many', { target: { pods: { selector: { matchLabels: { app: 'api' } }, mode: 'all' } }, duration: '1m', faults: [{ kind: 'latency', ms: 5, match: {} }] })]);
  const capped = await phaseIs('too-many', 'Failed');
  assert.equal(condition(capped, 'Ready').reason, 'OverPodCap');
  assert.match(condition(capped, 'Ready').message, /4 of the namespace's 7 running pods/);
});

test('Failed when injection cannot be confirmed within the deadline: the injector refuses the token', async () => {
  const a = injectors.get('web-a')!;
  await applyObjects(cp, [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'wrong-token', namespace: NS }, stringData: { token: 'not-the-sidecars-token' } },
    podOf('bad-token', { app: 'bad' }, { [INJECTED_ANNOTATION]: 'true', [TOKEN_SECRET_ANNOTATION]: 'wrong-token', [CONTROL_PORT_ANNOTATION]: new URL(a.controlUrl).port }),
  ]);
  await markRunning('bad-token');
  await applyObjects(cp, [fxOf('unconfirmed', { target: { pods: { selector: { matchLabels: { app: 'bad' } } } }, duration: '5m', faults: [{ kind: 'latency', ms: 5, match: {} }] })]);
  const pending = await phaseIs('unconfirmed', 'Pending');
  const failed = await phaseIs('unconfirmed', 'Failed');
  assert.equal(condition(failed, 'Ready').reason, 'InjectionNotConfirmed');
  assert.equal(condition(failed, 'Degraded').status, 'True');
  const t = (failed.status.targets as any[])[0];
  assert.equal(t.name, 'bad-token');
  assert.match(t.message, /401/);
  assert.ok(Date.parse(failed.status.endTime) - Date.parse(pending.status.startTime) >= 19_000, 'failed at the deadline, not before');
  assert.deepEqual(await listed(a), []);
  assert.equal(t.reason, 'Unauthorized');
  await waitFor('finalizer removed', async () => ((await fx('unconfirmed')).metadata.finalizers ?? []).length === 0);
});

test('a VirtualBucket target: faults on each gateway pod\'s S3 front through its fault API and token Secret', async () => {
  const token = randomBytes(16).toString('hex');
  mkdirSync(join(dir, 'gw'));
  const gw: SpawnedGateway = await spawnGateway(join(dir, 'gw'), newCredentials(), ['--fault-token', token]);
  stops.push(() => gw.stop());
  const port = Number(new URL(gw.url).port);
  await applyObjects(cp, [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'photos-gateway-faults', namespace: NS }, stringData: { token } },
    { apiVersion: 'floodgate.dev/v1alpha1', kind: 'VirtualBucket', metadata: { name: 'photos', namespace: NS }, spec: { backends: ['nowhere'] } },
    podOf('photos-gateway-0', { 'app.kubernetes.io/name': 'floodgate-gateway', 'app.kubernetes.io/instance': 'photos', 'app.kubernetes.io/managed-by': 'floodgate-operator' }, {}, [{ name: 's3', containerPort: port }]),
  ]);
  await markRunning('photos-gateway-0');
  await applyObjects(cp, [fxOf('gw-latency', { target: { virtualBucket: 'photos' }, duration: '5s', faults: [{ kind: 'latency', ms: 20, match: {} }] })]);
  const running = await phaseIs('gw-latency', 'Running');
  assert.deepEqual((running.status.targets as any[]).map((t) => `${t.kind}:${t.name}:${t.virtualBucket}:${t.state}`), ['gateway:photos-gateway-0:photos:Injected']);
  const list = await fetch(`${gw.url}/_floodgate/faults`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json()) as { faults: { id: string }[] };
  assert.deepEqual(list.faults.map((f) => f.id), idsOf(running));
  await phaseIs('gw-latency', 'Completed');

  // A BackendBucket target: the gateways of every VirtualBucket using it, each fault narrowed to it.
  await applyObjects(cp, [{ apiVersion: 'floodgate.dev/v1alpha1', kind: 'BackendBucket', metadata: { name: 'nowhere', namespace: NS },
    spec: { endpoint: 'http://127.0.0.1:9', bucket: 'nowhere', credentialsSecret: { name: 'none' } } }]);
  await applyObjects(cp, [fxOf('bb-down', { target: { backendBucket: 'nowhere' }, duration: '4s', faults: [{ kind: 'backendDown', backend: 'nowhere' }, { kind: 'latency', ms: 5, match: { operations: ['GetObject'] } }] })]);
  const bb = await phaseIs('bb-down', 'Running');
  assert.deepEqual((bb.status.targets as any[]).map((t) => `${t.kind}:${t.name}:${t.virtualBucket}`), ['gateway:photos-gateway-0:photos']);
  const held = await fetch(`${gw.url}/_floodgate/faults`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json()) as { faults: { kind: string; spec: any }[] };
  assert.deepEqual(held.faults.map((f) => [f.kind, f.spec.backend ?? f.spec.match.backends]), [['backendDown', 'nowhere'], ['latency', ['nowhere']]]);
  const done = await phaseIs('bb-down', 'Completed');
  assert.equal(condition(done, 'Effective').reason, 'NoEffect', 'no GET reached the backend through the gateway');
});

// FaultExperiments end to end, on the cluster the platform scenarios set up: `kubectl apply` of an
// experiment against application pods with an injected sidecar, against a VirtualBucket's
// gateways, resource faults on some of several pods, the operator killed mid-run, an experiment
// that tests nothing, and the refusals. Every assertion is on what the application recorded, on
// S3 answers, on cgroup figures read in the pods, or on the experiment's status.
import assert from 'node:assert/strict';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { contentOf } from '../apps/content.ts';
import { condition, manifest, type Kube } from './kube.ts';
import { finishApp, gatewayClient, startApp, type AppRun } from './apps.ts';
import { backendKeys, NS, SYSTEM_NS, VB, GATEWAY, type Scenario } from './platform.ts';

const ACCESS = `${VB}-access`;
const SIDECAR = 'floodgate-injector';
const OPERATOR = 'deployment/floodgate-operator';
const INJECT = { 'floodgate.io/inject': 'true' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SLOWDOWN = [{ kind: 'error', code: 'SlowDown', status: 503, match: { operations: ['GetObject'] }, trigger: { probability: 0.5, seed: 42 } }];

async function experiment(k: Kube, name: string, target: object, faults: object[], duration: string, o: { ns?: string; lease?: string; allowFail?: boolean; as?: string } = {}) {
  const text = manifest('experiment.yaml', {
    NAME: name, NS: o.ns ?? NS, TARGET: JSON.stringify(target), FAULTS: JSON.stringify(faults), DURATION: duration, LEASE: o.lease ?? '10s',
  });
  return k.kubectl(['create', ...(o.as ? ['--as', o.as] : []), '-f', '-'], { input: text, allowFail: o.allowFail });
}

const fx = (k: Kube, name: string) => k.get('faultexperiment', NS, name);
const phaseOf = async (k: Kube, name: string) => (await fx(k, name))?.status?.phase as string | undefined;

async function waitPhase(k: Kube, name: string, phases: string[], timeoutMs = 120_000) {
  return k.waitFor(`experiment ${name} in ${phases.join('/')}`, async () => {
    const e = await fx(k, name);
    return phases.includes(e?.status?.phase) ? e : undefined;
  }, timeoutMs);
}

async function eventsOf(k: Kube, name: string): Promise<string[]> {
  const r = await k.kubectl(['get', 'events', '-n', NS, '--field-selector', `involvedObject.kind=FaultExperiment,involvedObject.name=${name}`, '-o', 'json']);
  return JSON.parse(r.stdout).items.map((e: any) => `${e.reason}: ${e.message}`);
}

const injected = (pod: any) => (pod.spec.initContainers ?? []).some((c: any) => c.name === SIDECAR && c.restartPolicy === 'Always');

/** Waits until the webhook injects: a server-side dry run of an opted-in pod comes back with the sidecar. */
async function injectionServing(k: Kube): Promise<void> {
  const probe = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'injection-probe', namespace: NS, labels: INJECT },
    spec: { containers: [{ name: 'app', image: k.env.images.app, env: [{ name: 'AWS_ENDPOINT_URL_S3', value: `http://${GATEWAY}.${NS}.svc:9000` }] }] } });
  await k.waitFor('the sidecar webhook to inject', async () => {
    const r = await k.kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], { input: probe, allowFail: true });
    return r.code === 0 && injected(JSON.parse(r.stdout));
  }, 120_000);
}

/** Starts an opted-in application once the webhook injects, and returns its pod running with the sidecar. */
async function startInjectedApp(k: Kube, app: AppRun) {
  await injectionServing(k);
  await startApp(k, app);
  return k.waitFor(`the ${app.job} pod to run with its sidecar`, async () => {
    const [p] = await k.list('pods', NS, `app=${app.job}`);
    return p && injected(p) && p.status?.phase === 'Running' && p.status.containerStatuses?.every((c: any) => c.ready) ? p : undefined;
  });
}

const slowdown: Scenario = {
  name: 'kubectl apply of a 50 % SlowDown on GetObject for 20 s: the application is throttled only inside the window; status and ledger agree with it',
  async run(k) {
    const app = { job: 'chaos-app', ns: NS, secret: ACCESS, mode: 'loop' as const, prefix: 'chaos', maxOps: 3000, maxSeconds: 50, pauseMs: 50, podLabels: INJECT };
    const pod = await startInjectedApp(k, app);
    const env = pod.spec.containers[0].env.find((e: any) => e.name === 'AWS_ENDPOINT_URL_S3');
    assert.equal(env?.value, 'http://127.0.0.1:9080', 'the application talks to its sidecar');
    await sleep(6000);
    await experiment(k, 'slowdown-get', { pods: { selector: { matchLabels: { app: app.job } }, mode: 'all' } }, SLOWDOWN, '20s');
    const seen = new Set<string>();
    await k.waitFor('the experiment to complete', async () => {
      const p = await phaseOf(k, 'slowdown-get');
      if (p) seen.add(p);
      return p === 'Completed' || p === 'Failed' || p === 'Aborted' ? p : undefined;
    }, 120_000);
    const { outcomes } = await finishApp(k, app);
    const e = await fx(k, 'slowdown-get');
    assert.equal(e.status.phase, 'Completed');
    // At the end no target has faults active (injected counts active ones): the one selected recovered.
    assert.equal(e.status.selected, 1);
    assert.equal(e.status.injected, 0);
    assert.equal(e.status.recovered, 1);
    assert.deepEqual(e.status.targets.map((t: any) => [t.name, t.state]), [[pod.metadata.name, 'Recovered']]);
    const start = Date.parse(e.status.startTime);
    const end = Date.parse(e.status.endTime);
    const gets = outcomes.filter((o) => o.op === 'get');
    const throttled = gets.filter((o) => !o.ok);
    assert.ok(throttled.length > 0, 'the application saw throttling');
    for (const o of throttled) {
      assert.equal(o.code, 'SlowDown');
      assert.equal(o.status, 503);
      assert.ok(o.t >= start && o.t <= end + 1000, `a SlowDown at ${new Date(o.t).toISOString()} outside the window ${e.status.startTime}…${e.status.endTime}`);
    }
    const after = gets.filter((o) => o.t > end + 1000);
    assert.ok(after.length > 10 && after.every((o) => o.ok), 'no throttling after the window');
    assert.ok(outcomes.filter((o) => o.op === 'put').every((o) => o.ok), 'PUTs are not matched');
    // The ledger the operator read from the sidecar counts exactly the application's SlowDowns.
    assert.equal(e.status.faulted, throttled.length, 'faulted = SlowDowns the application recorded');
    // The sidecar counts the GETs between its activation and the expiry; the application stamps a
    // GET when its answer arrives. GETs well inside the window were all matched, none outside it.
    const expires = Date.parse(e.status.expiresAt);
    const surely = gets.filter((o) => o.t >= start + 2000 && o.t <= expires - 1000).length;
    const inWindow = gets.filter((o) => o.t >= start && o.t <= expires);
    const atMost = gets.filter((o) => o.t >= start - 1000 && o.t <= expires + 1000).length;
    assert.ok(e.status.matched >= surely && e.status.matched <= atMost, `matched ${e.status.matched}: between the ${surely} GETs surely inside the window and the ${atMost} around it`);
    assert.equal(condition(e, 'Effective')?.status, 'True');
    // The admission webhook's SubjectAccessReview of the creator, carried into the status.
    assert.ok(e.status.creator?.user, 'the creator is recorded');
    assert.equal(e.status.creator.mayDeleteTargets, 'true');
    const events = (await eventsOf(k, 'slowdown-get')).join('\n');
    assert.match(events, /Running|Injected|Started/i);
    assert.match(events, /Completed/i);
    k.env.log(`slowdown: ${gets.length} GETs, ${inWindow.length} in the window, ${throttled.length} throttled; phases seen ${[...seen].join(' → ')}`);
  },
};

/** Which of these keys the VirtualBucket placed on a backend bucket, read from MinIO itself. */
async function keysOnBackend(k: Kube, bucket: string, keys: string[]): Promise<string[]> {
  const stored = new Set((await backendKeys(k, VB, [bucket]))[bucket]);
  return keys.filter((key) => stored.has(key));
}

const backendDown: Scenario = {
  name: 'backendDown on one BackendBucket through the VirtualBucket: writes fail over, reads of its objects get 503, all recover',
  async run(k) {
    const c = await gatewayClient(k, NS, GATEWAY, ACCESS);
    try {
      const pre = Array.from({ length: 10 }, (_, i) => `outage/pre-${i}-${2048 + i}b`);
      for (const key of pre) await c.s3.send(new PutObjectCommand({ Bucket: c.bucket, Key: key, Body: contentOf(key, 2048 + Number(key.split('-')[1])) }));
      const onA = await keysOnBackend(k, 'backend-a', pre);
      assert.ok(onA.length > 0 && onA.length < pre.length, `round-robin spread the objects (${onA.length} of ${pre.length} on minio-a)`);
      await experiment(k, 'minio-a-down', { virtualBucket: VB }, [{ kind: 'backendDown', backend: 'minio-a' }], '20s');
      await k.waitFor('the gateways to confirm the fault', async () => ((await fx(k, 'minio-a-down'))?.status?.injected ?? 0) >= 1);
      const during = Array.from({ length: 10 }, (_, i) => `outage/during-${i}-${4096 + i}b`);
      for (const key of during) await c.s3.send(new PutObjectCommand({ Bucket: c.bucket, Key: key, Body: contentOf(key, 4096 + Number(key.split('-')[1])) }));
      assert.deepEqual(await keysOnBackend(k, 'backend-a', during), [], 'no write went to the backend that is down');
      for (const key of pre) {
        const r = await c.s3.send(new GetObjectCommand({ Bucket: c.bucket, Key: key })).then(() => 200, (e) => e.$metadata?.httpStatusCode);
        assert.equal(r, onA.includes(key) ? 503 : 200, `GET ${key} while minio-a is down`);
      }
      const e = await waitPhase(k, 'minio-a-down', ['Completed', 'Failed', 'Aborted']);
      assert.equal(e.status.phase, 'Completed');
      for (const key of [...pre, ...during]) assert.ok(await c.verify(key), `${key} readable after the outage`);
    } finally {
      c.close();
    }
  },
};

/** cgroup figures of one container, v1 (cpuacct.usage in ns) or v2 (cpu.stat usage_usec), read inside it. */
async function cgroupOf(k: Kube, pod: string): Promise<{ cpuSeconds: number; memoryBytes: number }> {
  const script = 'if [ -r /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then echo v1; cat /sys/fs/cgroup/cpuacct/cpuacct.usage /sys/fs/cgroup/memory/memory.usage_in_bytes; '
    + 'else echo v2; sed -n "s/^usage_usec //p" /sys/fs/cgroup/cpu.stat; cat /sys/fs/cgroup/memory.current; fi';
  const r = await k.kubectl(['exec', '-n', NS, pod, '-c', SIDECAR, '--', 'sh', '-c', script]);
  const [version, cpu, mem] = r.stdout.trim().split('\n');
  return { cpuSeconds: Number(cpu) / (version === 'v1' ? 1e9 : 1e6), memoryBytes: Number(mem) };
}

const resources: Scenario = {
  name: 'CPU and memory faults on two of four selected pods: exactly two sidecars confirm, the load shows in their cgroups, and everything reverts',
  async run(k) {
    await injectionServing(k);
    await k.apply('targets.yaml', { NAME: 'burn', NS, REPLICAS: '4', SECRET: ACCESS });
    await k.kubectl(['rollout', 'status', 'deployment/burn', '-n', NS, '--timeout=180s']);
    const pods = (await k.list('pods', NS, 'app=burn')).filter((p) => !p.metadata.deletionTimestamp);
    assert.equal(pods.length, 4);
    assert.ok(pods.every(injected), 'every burn pod has the sidecar');
    const before = new Map(await Promise.all(pods.map(async (p) => [p.metadata.name, await cgroupOf(k, p.metadata.name)] as const)));
    const MEMORY = 48 * 1024 * 1024;
    await experiment(k, 'burn-two', { pods: { selector: { matchLabels: { app: 'burn' } }, mode: 'fixed', value: 2 } },
      [{ kind: 'cpu', cores: 0.5 }, { kind: 'memory', bytes: '48Mi' }], '25s');
    const running = await k.waitFor('two injected targets', async () => {
      const e = await fx(k, 'burn-two');
      return e?.status?.phase === 'Running' && e.status.injected === 2 ? e : undefined;
    });
    const chosen = new Set<string>(running.status.targets.filter((t: any) => t.state === 'Injected').map((t: any) => t.name as string));
    assert.equal(chosen.size, 2);
    assert.equal(running.status.selected, 2);
    const t0 = Date.now();
    const mid0 = new Map(await Promise.all(pods.map(async (p) => [p.metadata.name, await cgroupOf(k, p.metadata.name)] as const)));
    await sleep(5000);
    const mid1 = new Map(await Promise.all(pods.map(async (p) => [p.metadata.name, await cgroupOf(k, p.metadata.name)] as const)));
    const wall = (Date.now() - t0) / 1000;
    for (const p of pods) {
      const n = p.metadata.name;
      const grew = mid1.get(n)!.memoryBytes - before.get(n)!.memoryBytes;
      const cores = (mid1.get(n)!.cpuSeconds - mid0.get(n)!.cpuSeconds) / wall;
      k.env.log(`${n}: ${chosen.has(n) ? 'target' : 'spared'}; memory +${(grew / 2 ** 20).toFixed(1)} MiB, ${cores.toFixed(2)} cores`);
      if (chosen.has(n)) {
        assert.ok(grew >= MEMORY * 0.9, `${n} holds the memory (+${grew} bytes)`);
        // CPU time the burner gets depends on what else runs on the machine: only require that it burned.
        assert.ok(cores > 0.05, `${n} burns CPU (${cores.toFixed(3)} cores)`);
      } else {
        assert.ok(grew < MEMORY / 3, `${n} untouched (+${grew} bytes)`);
      }
    }
    const done = await waitPhase(k, 'burn-two', ['Completed', 'Failed', 'Aborted']);
    assert.equal(done.status.phase, 'Completed');
    assert.equal(done.status.recovered, 2);
    await k.waitFor('the memory to be released', async () => {
      const now = await Promise.all([...chosen].map((n) => cgroupOf(k, n)));
      return now.every((c, i) => c.memoryBytes - before.get([...chosen][i]!)!.memoryBytes < MEMORY / 3);
    }, 60_000);
  },
};

const operatorDown: Scenario = {
  name: 'the operator scaled to 0 mid-experiment: the faults still revert at expiry; the restarted operator completes the status. Deleting an experiment reverts at once',
  async run(k) {
    const app = { job: 'chaos-app-2', ns: NS, secret: ACCESS, mode: 'loop' as const, prefix: 'chaos2', maxOps: 4000, maxSeconds: 70, pauseMs: 50, podLabels: INJECT };
    await startInjectedApp(k, app);
    await experiment(k, 'orphaned', { pods: { selector: { matchLabels: { app: app.job } }, mode: 'all' } }, SLOWDOWN, '15s', { lease: '30s' });
    const running = await k.waitFor('the experiment to run', async () => {
      const e = await fx(k, 'orphaned');
      return e?.status?.phase === 'Running' && e.status.injected === 1 ? e : undefined;
    });
    const expiresAt = Date.parse(running.status.expiresAt);
    await k.kubectl(['scale', OPERATOR, '-n', SYSTEM_NS, '--replicas=0']);
    await k.waitFor('no operator pod', async () => (await k.list('pods', SYSTEM_NS, 'app.kubernetes.io/component=operator')).length === 0);
    await sleep(Math.max(0, expiresAt - Date.now()) + 3000);
    await k.kubectl(['scale', OPERATOR, '-n', SYSTEM_NS, '--replicas=1']);
    const e = await waitPhase(k, 'orphaned', ['Completed', 'Failed', 'Aborted'], 180_000);
    assert.equal(e.status.phase, 'Completed');
    await k.waitFor('the finalizer to be removed', async () => !((await fx(k, 'orphaned'))?.metadata?.finalizers ?? []).length || undefined);

    // Deleting a running experiment reverts at once.
    await experiment(k, 'deleted', { pods: { selector: { matchLabels: { app: app.job } }, mode: 'all' } }, SLOWDOWN, '5m');
    const second = await k.waitFor('the second experiment to run', async () => {
      const x = await fx(k, 'deleted');
      return x?.status?.injected === 1 ? x : undefined;
    });
    const secondStart = Date.parse(second.status.startTime);
    await sleep(3000);
    await k.kubectl(['delete', 'faultexperiment', 'deleted', '-n', NS, '--wait=true', '--timeout=60s']);
    const deletedAt = Date.now();
    const { outcomes } = await finishApp(k, app, { timeoutMs: 300_000 });
    const throttled = outcomes.filter((o) => o.op === 'get' && !o.ok);
    assert.ok(throttled.length > 0);
    const late = throttled.filter((o) => (o.t > expiresAt + 1500 && o.t < secondStart) || o.t > deletedAt + 1000);
    assert.deepEqual(late, [], 'no throttling after the expiry of the orphaned experiment or after the deletion');
    assert.ok(outcomes.some((o) => o.op === 'get' && o.ok && o.t > deletedAt + 1000), 'the application goes on after the deletion');
  },
};

const noEffect: Scenario = {
  name: 'an experiment whose faults match no request ends Effective=False, reason NoEffect',
  async run(k) {
    await experiment(k, 'tests-nothing', { pods: { selector: { matchLabels: { app: 'burn' } }, mode: 'one' } },
      [{ kind: 'error', code: 'InternalError', status: 500, match: { keyPrefix: 'no-such-prefix/' } }], '5s');
    const e = await waitPhase(k, 'tests-nothing', ['Completed', 'Failed', 'Aborted']);
    assert.equal(e.status.phase, 'Completed');
    const eff = condition(e, 'Effective');
    assert.equal(eff?.status, 'False');
    assert.equal(eff?.reason, 'NoEffect');
    assert.equal(e.status.matched, 0);
  },
};

const refusals: Scenario = {
  name: 'refused with a clear message: a protected namespace, over the pod cap, over a resource cap, a malformed fault, a creator without pod-delete rights',
  async run(k) {
    const pods = { pods: { selector: { matchLabels: { app: 'burn' } }, mode: 'one' } };
    const refused = async (what: string, r: Promise<{ code: number; stderr: string }>, pattern: RegExp) => {
      const res = await r;
      assert.notEqual(res.code, 0, `${what}: accepted`);
      assert.match(res.stderr, pattern, `${what}: ${res.stderr}`);
    };
    await refused('protected namespace', experiment(k, 'in-kube-system', { pods: { selector: {}, mode: 'all' } }, [{ kind: 'serviceDown', match: {} }], '24h', { ns: 'kube-system', allowFail: true }), /namespace "kube-system" is protected: FaultExperiments may not run in kube-system/);
    await refused('pod cap', experiment(k, 'too-many', { pods: { selector: {}, mode: 'all' } }, [{ kind: 'cpu', cores: 0.1 }], '10s', { allowFail: true }), /selects \d+ of the \d+ pods in namespace "floodgate-e2e" \(100 %\); one experiment may hit at most 50 %/);
    await refused('memory cap', experiment(k, 'too-much', pods, [{ kind: 'memory', bytes: '64Gi' }], '10s', { allowFail: true }), /spec\.faults\[0\]\.bytes: 64Gi is over the cap of \S+ for memory faults/);
    await refused('malformed fault', experiment(k, 'typo', pods, [{ kind: 'error', code: 'SlowDown', status: 503, mach: {} }], '10s', { allowFail: true }), /match is required|unknown field|mach/i);
    // A user who may create experiments but not delete the pods they would hit.
    await k.kubectl(['create', 'role', 'fx-only', '-n', NS, '--verb=create,get,list', '--resource=faultexperiments.floodgate.dev'], { allowFail: true });
    await k.kubectl(['create', 'rolebinding', 'fx-only', '-n', NS, '--role=fx-only', '--user=e2e-fx-only'], { allowFail: true });
    await refused('no pod-delete rights', experiment(k, 'not-yours', pods, [{ kind: 'cpu', cores: 0.1 }], '10s', { allowFail: true, as: 'e2e-fx-only' }), /user "e2e-fx-only" may not delete pods in namespace "floodgate-e2e": an experiment may only target what its creator could delete/);
  },
};

export const CHAOS: Scenario[] = [slowdown, backendDown, resources, operatorDown, noEffect, refusals];

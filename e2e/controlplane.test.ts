// The test harness itself, against the real binaries: apply, garbage collection through
// kube-controller-manager, RBAC in force, an apiserver restart, and that nothing outlives stop()
// — nor a test process that was SIGKILLed.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createInterface } from 'node:readline';
import { k8sBinDir, startControlPlane, type ControlPlane } from './lib/controlplane.ts';

/** Programs whose command line mentions `dir` (every control-plane process and the reaper do). */
function processesUsing(dir: string): string[] {
  const names: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a.includes(dir))) names.push(argv[0]!.split('/').at(-1)!);
    } catch { /* exited meanwhile */ }
  }
  return names.sort();
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('control plane with kube-controller-manager', () => {
  let cp: ControlPlane;
  let dir: string;

  before(async () => {
    k8sBinDir();
    const t0 = Date.now();
    cp = await startControlPlane({ controllers: true });
    dir = dirname(cp.kubeconfig);
    console.log(`# control plane with controllers started in ${Date.now() - t0} ms`);
  });
  after(() => cp?.stop());

  test('serves on loopback over TLS checked against the generated CA', async () => {
    assert.match(cp.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    const kubeconfig = readFileSync(cp.kubeconfig, 'utf8');
    assert.match(kubeconfig, /certificate-authority-data: /);
    assert.doesNotMatch(kubeconfig, /insecure-skip-tls-verify/);
    const v = JSON.parse((await cp.kubectl(['version', '-o', 'json'])).stdout);
    assert.equal(v.serverVersion.major, '1');
    assert.equal(v.serverVersion.minor, v.clientVersion.minor, 'kubectl has the apiserver minor');
  });

  test('kubectl apply creates a ConfigMap and reads it back', async () => {
    const manifest = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'hello', namespace: 'default' }, data: { greeting: 'hi' } });
    const applied = await cp.kubectl(['apply', '-f', '-'], { input: manifest });
    assert.match(applied.stdout, /configmap\/hello created/);
    const got = await cp.kubectl(['get', 'configmap', 'hello', '-o', 'jsonpath={.data.greeting}']);
    assert.equal(got.stdout, 'hi');
    const again = await cp.kubectl(['apply', '-f', '-'], { input: manifest });
    assert.match(again.stdout, /unchanged/);
  });

  test('a failing command rejects with its stderr, or returns the code with allowFail', async () => {
    await assert.rejects(cp.kubectl(['get', 'configmap', 'does-not-exist']), /exited 1:[\s\S]*NotFound/);
    const r = await cp.kubectl(['get', 'configmap', 'does-not-exist'], { allowFail: true });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not found/);
  });

  test('RBAC is enforced: a service account without bindings may do nothing', async () => {
    const r = await cp.kubectl(['auth', 'can-i', 'get', 'secrets', '--as=system:serviceaccount:default:nobody'], { allowFail: true });
    assert.equal(r.stdout.trim(), 'no');
    assert.equal(r.code, 1);
  });

  test('deleting an owner garbage-collects the Deployment it owns (and its ReplicaSet)', async () => {
    await cp.kubectl(['create', 'namespace', 'gc']);
    await cp.kubectl(['create', 'configmap', 'owner', '-n', 'gc', '--from-literal=k=v']);
    const uid = (await cp.kubectl(['get', 'configmap', 'owner', '-n', 'gc', '-o', 'jsonpath={.metadata.uid}'])).stdout;
    assert.match(uid, /^[0-9a-f-]{36}$/);
    const deployment = {
      apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: { name: 'owned', namespace: 'gc', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid, blockOwnerDeletion: true }] },
      spec: { replicas: 1, selector: { matchLabels: { app: 'owned' } },
        template: { metadata: { labels: { app: 'owned' } }, spec: { containers: [{ name: 'c', image: 'example.invalid/none:1' }] } } },
    };
    await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(deployment) });
    // The deployment controller runs: a ReplicaSet appears (its pod is created but never runs).
    await eventually('ReplicaSet created', async () => {
      const rs = await cp.kubectl(['get', 'replicasets', '-n', 'gc', '-o', 'name']);
      return rs.stdout.trim() ? rs.stdout : undefined;
    });
    await cp.kubectl(['delete', 'configmap', 'owner', '-n', 'gc', '--wait=true']);
    await eventually('Deployment and ReplicaSet collected', async () => {
      const left = await cp.kubectl(['get', 'deployments,replicasets', '-n', 'gc', '-o', 'name']);
      return left.stdout.trim() === '' ? true : undefined;
    });
    // The namespace controller finishes namespace deletion (apiserver-only planes never do).
    await cp.kubectl(['delete', 'namespace', 'gc', '--wait=true', '--timeout=60s']);
  });

  test('restartApiServer: same address, data kept, kubectl answers again', async () => {
    await cp.kubectl(['create', 'configmap', 'survivor', '--from-literal=x=1']);
    const server = cp.server;
    await cp.restartApiServer();
    assert.equal(cp.server, server);
    const got = await cp.kubectl(['get', 'configmap', 'survivor', '-o', 'jsonpath={.data.x}']);
    assert.equal(got.stdout, '1');
  });

  test('stop() leaves no process and no temp dir behind', async () => {
    const names = processesUsing(dir);
    for (const n of ['etcd', 'kube-apiserver', 'kube-controller-manager']) assert.ok(names.includes(n), `${n} runs: ${names}`);
    await cp.stop();
    assert.equal(existsSync(dir), false);
    await eventually('no process left', async () => (processesUsing(dir).length === 0 ? true : undefined), 5_000);
    await cp.stop(); // idempotent
  });
});

test('a SIGKILLed test process does not leak its control plane', async () => {
  const script = `
    import { startControlPlane } from './e2e/lib/controlplane.ts';
    const cp = await startControlPlane();
    console.log(cp.kubeconfig);
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: `${import.meta.dirname}/..`, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`child exited ${code} before starting a control plane`)));
  });
  const dir = dirname(line);
  const names = processesUsing(dir);
  for (const n of ['etcd', 'kube-apiserver']) assert.ok(names.includes(n), `${n} runs: ${names}`);
  child.kill('SIGKILL');
  await eventually('reaper killed the orphans', async () => (processesUsing(dir).length === 0 ? true : undefined), 15_000);
  assert.equal(existsSync(dir), false);
});

// Operator scale: 1,000 BackendBuckets (all on one cheap S3 backend) and 100 VirtualBuckets of 10
// backends each, applied at once to a real API server. Measures the time until every resource is
// Ready, reconciles per second and the operator's RSS. The 100 gateways are stood in for by one
// loopback server answering each VirtualBucket's /status as a healthy gateway would: the operator
// is what is measured here, not the gateways.
import { createServer } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlane } from '../e2e/lib/controlplane.ts';
import { ROOT } from '../e2e/lib/gateway.ts';
import { applyObjects, backendBucketOf, secretOf, startBackend, startOperator } from '../e2e/lib/operator.ts';
import { printTable } from './table.ts';

const BACKENDS = 1000;
const VIRTUAL = 100;
const PER_VB = 10;
const TIMEOUT_MS = 15 * 60_000;
const NS = 'default';

function metric(text: string, name: string): number {
  return text.split('\n').filter((l) => l.startsWith(name)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
}

export async function bench(): Promise<void> {
  const cp = await startControlPlane();
  const backend = await startBackend('bench-data');
  const vbBackends = new Map<string, string[]>();
  const statusServer = createServer((req, res) => {
    const name = /^\/([^/]+)\/status$/.exec(req.url ?? '')?.[1] ?? '';
    const names = vbBackends.get(name) ?? [];
    const now = new Date().toISOString();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
      generatedAt: now, configGeneration: 1,
      backends: names.map((n) => ({ name: n, kind: 's3', location: backend.endpoint, state: 'up', since: now, failures: 0, usedBytes: 0, objects: 0, weight: 1, labels: {} })),
      virtualBuckets: [{ name, strategy: 'round-robin', mode: 'proxy', backends: names, writable: names }],
    }));
  });
  await new Promise<void>((r) => statusServer.listen(0, '127.0.0.1', () => r()));
  const statusPort = (statusServer.address() as { port: number }).port;
  const op = startOperator(cp, ['--leader-elect', 'false', '--workers', '8', '--log-level', 'warn',
    '--gateway-status-url-template', `http://127.0.0.1:${statusPort}/{name}/status`]);
  try {
    await cp.kubectl(['apply', '--server-side', '-f', join(ROOT, 'crds')]);
    await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/backendbuckets.floodgate.dev', 'crd/virtualbuckets.floodgate.dev']);
    const url = await op.httpUrl;
    await applyObjects(cp, [secretOf(NS, 'keys', backend.creds)]);
    const objects: object[] = [];
    for (let i = 0; i < BACKENDS; i++) objects.push(backendBucketOf(NS, `bb-${i}`, backend, 'keys', { probeInterval: '10m' }));
    for (let v = 0; v < VIRTUAL; v++) {
      const names = Array.from({ length: PER_VB }, (_, j) => `bb-${v * PER_VB + j}`);
      vbBackends.set(`vb-${v}`, names);
      objects.push({ apiVersion: 'floodgate.dev/v1alpha1', kind: 'VirtualBucket', metadata: { name: `vb-${v}`, namespace: NS }, spec: { backends: names } });
    }
    const started = Date.now();
    for (let i = 0; i < objects.length; i += 200) await applyObjects(cp, objects.slice(i, i + 200));
    const applied = Date.now() - started;
    let readyBB = 0;
    let readyVB = 0;
    let peakRss = 0;
    while (Date.now() - started < TIMEOUT_MS) {
      const count = async (kind: string) => {
        const r = await cp.kubectl(['get', kind, '-n', NS, '-o', 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}']);
        return r.stdout.split('\n').filter((s) => s === 'True').length;
      };
      [readyBB, readyVB] = [await count('backendbuckets'), await count('virtualbuckets')];
      peakRss = Math.max(peakRss, metric(await (await fetch(`${url}/metrics`)).text(), 'process_resident_memory_bytes'));
      if (readyBB === BACKENDS && readyVB === VIRTUAL) break;
      await sleep(1000);
    }
    const elapsed = Date.now() - started;
    const text = await (await fetch(`${url}/metrics`)).text();
    const reconciles = metric(text, 'floodgate_operator_reconciles_total');
    printTable(`operator: ${BACKENDS} BackendBuckets + ${VIRTUAL} VirtualBuckets applied at once (one S3 backend, 8 workers per kind)`, [
      { measure: 'apply (kubectl, s)', value: applied / 1000 },
      { measure: 'all Ready (s)', value: readyBB === BACKENDS && readyVB === VIRTUAL ? elapsed / 1000 : NaN },
      { measure: 'BackendBuckets Ready', value: readyBB },
      { measure: 'VirtualBuckets Ready', value: readyVB },
      { measure: 'reconciles', value: reconciles },
      { measure: 'reconciles/s', value: reconciles / (elapsed / 1000) },
      { measure: 'operator RSS peak (MiB)', value: peakRss / 2 ** 20 },
    ]);
  } finally {
    await op.stop('SIGKILL');
    statusServer.close();
    await backend.close();
    await cp.stop();
  }
}

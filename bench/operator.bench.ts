// Operator scale: 1,000 BackendBuckets (all on one cheap S3 backend, a `floodgate gateway` child
// process) and 100 VirtualBuckets of 10 backends each, applied at once to a real API server.
// Measures the time until every resource is Ready, reconciles per second and the operator's peak
// RSS (VmHWM). The 100 gateways are stood in for by one loopback server answering each
// VirtualBucket's /status as a healthy gateway would: the operator is what is measured here, not
// the gateways. Everything listens on 127.0.0.1; the section is bounded to well under 10 minutes.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startControlPlane, type ControlPlane } from '../e2e/lib/controlplane.ts';
import { newCredentials, ROOT, spawnGateway, tempDir, type SpawnedGateway } from '../e2e/lib/gateway.ts';
import { applyObjects, backendBucketOf, secretOf, startOperator, type OperatorProcess } from '../e2e/lib/operator.ts';
import { createKube, loadKubeConfig, pathOf } from '../operator/kube/api.ts';
import { TYPES, type KubeList } from '../operator/kube/types.ts';
import { printTable } from './table.ts';

const BACKENDS = 1000;
const VIRTUAL = 100;
const PER_VB = 10;
const WORKERS = 8;
/** From the apply to all Ready; with start-up and teardown the section stays under 10 minutes. */
const READY_TIMEOUT_MS = 6 * 60_000;
const POLL_MS = 1000;
const NS = 'default';

function metric(text: string, name: string, labels = ''): number {
  return text.split('\n').filter((l) => l.startsWith(name) && l.includes(labels)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
}

/** VmHWM (peak) or VmRSS (now) of a process in bytes, 0 once it is gone. */
function rss(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Open file descriptors (sockets included) of a process, 0 once it is gone. */
function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

export async function bench(): Promise<void> {
  const vbBackends = new Map<string, string[]>();
  const dataDir = tempDir('floodgate-bench-op-');
  let cp: ControlPlane | undefined;
  let backend: SpawnedGateway | undefined;
  let op: OperatorProcess | undefined;
  let statusHits = 0;
  const statusServer = createServer((req, res) => {
    statusHits++;
    const name = /^\/([^/]+)\/status$/.exec(req.url ?? '')?.[1] ?? '';
    const names = vbBackends.get(name);
    if (!names) return void res.writeHead(404).end();
    const now = new Date().toISOString();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
      generatedAt: now, configGeneration: 1,
      backends: names.map((n) => ({ name: n, kind: 's3', location: backend?.url, state: 'up', since: now, failures: 0, usedBytes: 0, objects: 0, weight: 1, labels: {} })),
      virtualBuckets: [{ name, strategy: 'round-robin', mode: 'proxy', backends: names, writable: names }],
    }));
  });
  try {
    await new Promise<void>((r) => statusServer.listen(0, '127.0.0.1', () => r()));
    const statusPort = (statusServer.address() as { port: number }).port;

    cp = await startControlPlane();
    const creds = newCredentials();
    backend = await spawnGateway(dataDir, creds);
    const s3 = new S3Client({ endpoint: backend.url, region: 'us-east-1', forcePathStyle: true, credentials: creds });
    await s3.send(new CreateBucketCommand({ Bucket: 'bench-data' }));
    s3.destroy();
    const target = { endpoint: backend.url, bucket: 'bench-data' };

    await cp.kubectl(['apply', '--server-side', '-f', join(ROOT, 'crds')]);
    await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/backendbuckets.floodgate.dev', 'crd/virtualbuckets.floodgate.dev']);
    op = startOperator(cp, ['--leader-elect', 'false', '--workers', String(WORKERS), '--log-level', 'info',
      '--gateway-status-url-template', `http://127.0.0.1:${statusPort}/{name}/status`]);
    // Its URL comes from the "operator started" line, logged at info.
    let timer: NodeJS.Timeout | undefined;
    const url = await Promise.race([op.httpUrl, new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`operator did not start in 30 s:\n${op!.logs.join('\n')}`)), 30_000);
    })]).finally(() => clearTimeout(timer));
    await applyObjects(cp, [secretOf(NS, 'keys', creds)]);

    const objects: object[] = [];
    // probeInterval 10m: one probe per backend during the run, so what is measured is the
    // operator getting 1,100 objects to Ready, not steady-state probing.
    for (let i = 0; i < BACKENDS; i++) objects.push(backendBucketOf(NS, `bb-${i}`, target, 'keys', { probeInterval: '10m' }));
    for (let v = 0; v < VIRTUAL; v++) {
      const names = Array.from({ length: PER_VB }, (_, j) => `bb-${v * PER_VB + j}`);
      vbBackends.set(`vb-${v}`, names);
      objects.push({ apiVersion: 'floodgate.dev/v1alpha1', kind: 'VirtualBucket', metadata: { name: `vb-${v}`, namespace: NS }, spec: { backends: names } });
    }

    // Ready counts straight from the API (one list per kind), cheaper than a kubectl per poll.
    const kube = createKube(loadKubeConfig(cp.kubeconfig));
    const countReady = async (t: typeof TYPES.backendBucket | typeof TYPES.virtualBucket) => {
      const list = await kube.request<KubeList>('GET', pathOf(t, NS));
      return list.items.filter((o) => (o.status as { conditions?: { type: string; status: string }[] } | undefined)
        ?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
    };

    // No kubelet here: each rendered gateway Deployment gets the status its one pod would give
    // it (a VirtualBucket is Ready only with a ready gateway pod).
    const marked = new Set<string>();
    const markDeploymentsReady = async () => {
      const list = await kube.request<KubeList>('GET', pathOf(TYPES.deployment, NS));
      for (const d of list.items) {
        if (marked.has(d.metadata.name)) continue;
        await kube.request('PATCH', pathOf(TYPES.deployment, NS, d.metadata.name, 'status'), {
          body: { status: { observedGeneration: d.metadata.generation, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 } },
          contentType: 'application/merge-patch+json',
        });
        marked.add(d.metadata.name);
      }
    };

    const before = await (await fetch(`${url}/metrics`)).text();
    const idleRss = rss(op.proc.pid!, 'VmRSS');
    const started = Date.now();
    // One kubectl apply of all 1,100; the operator starts on them while it runs, so poll meanwhile.
    let applied = NaN;
    const applying = applyObjects(cp, objects).then(() => { applied = Date.now() - started; });
    let applyError: unknown;
    applying.catch((e: unknown) => { applyError = e; });
    let readyBB = 0;
    let readyVB = 0;
    let readyAt = NaN;
    let firstBB = NaN;
    let fdPeak = 0;
    for (let i = 0; i < READY_TIMEOUT_MS / POLL_MS && Date.now() - started < READY_TIMEOUT_MS; i++) {
      if (applyError) throw applyError;
      if (op.proc.exitCode !== null || op.proc.signalCode !== null) throw new Error(`operator exited:\n${op.logs.slice(-30).join('\n')}`);
      fdPeak = Math.max(fdPeak, openFds(op.proc.pid!));
      [readyBB, readyVB] = await Promise.all([countReady(TYPES.backendBucket), countReady(TYPES.virtualBucket), markDeploymentsReady()]);
      if (readyBB > 0 && Number.isNaN(firstBB)) firstBB = Date.now() - started;
      if (readyBB === BACKENDS && readyVB === VIRTUAL && Number.isFinite(applied)) {
        readyAt = Date.now() - started;
        break;
      }
      await sleep(POLL_MS);
    }
    const elapsed = Number.isFinite(readyAt) ? readyAt : Date.now() - started;
    const after = await (await fetch(`${url}/metrics`)).text();
    const count = (labels: string) => metric(after, 'floodgate_operator_reconciles_total', labels) - metric(before, 'floodgate_operator_reconciles_total', labels);
    const reconciles = count('');
    const hwm = rss(op.proc.pid!, 'VmHWM');
    const heapUsed = metric(after, 'nodejs_heap_size_used_bytes');
    if (!Number.isFinite(readyAt)) process.stderr.write(`operator bench: not all Ready after ${READY_TIMEOUT_MS / 1000} s; last log lines:\n${op.logs.slice(-20).join('\n')}\n`);
    printTable(`operator: ${BACKENDS} BackendBuckets + ${VIRTUAL} VirtualBuckets (${PER_VB} backends each) applied at once; one S3 backend, ${WORKERS} workers per kind`, [
      { measure: 'apply (one kubectl apply, s)', value: applied / 1000 },
      { measure: 'first BackendBucket Ready (s)', value: firstBB / 1000 },
      { measure: 'all Ready (s)', value: readyAt / 1000 },
      { measure: 'BackendBuckets Ready', value: `${readyBB}/${BACKENDS}` },
      { measure: 'VirtualBuckets Ready', value: `${readyVB}/${VIRTUAL}` },
      { measure: 'reconciles (BackendBucket)', value: count('controller="backendbucket"') },
      { measure: 'reconciles (VirtualBucket)', value: count('controller="virtualbucket"') },
      { measure: 'reconciles retried', value: count('result="retry"') },
      { measure: 'reconciles/s', value: reconciles / (elapsed / 1000) },
      { measure: 'gateway /status reads', value: statusHits },
      { measure: 'operator open fds (peak of 1 s samples)', value: fdPeak },
      { measure: 'operator RSS before the apply (MiB)', value: idleRss / 2 ** 20 },
      { measure: 'operator peak RSS (MiB, VmHWM)', value: hwm / 2 ** 20 },
      { measure: 'operator heap used at the end (MiB)', value: heapUsed / 2 ** 20 },
    ]);
  } finally {
    await op?.stop('SIGKILL');
    statusServer.closeAllConnections();
    await new Promise<void>((r) => statusServer.close(() => r()));
    await backend?.stop();
    await cp?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

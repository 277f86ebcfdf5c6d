// E2E helpers for the operator: run `floodgate operator` as a process against the test control
// plane, real S3 backends (`floodgate gateway` processes over the embedded store), and the gateway
// a VirtualBucket would run in a pod — started here from the rendered ConfigMap and Secrets, on
// loopback, so the operator reads a real /status.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { parse, stringify } from 'yaml';
import type { ControlPlane } from './controlplane.ts';
import { newCredentials, ROOT, spawnGateway, tempDir, type SpawnedGateway, type TestCredentials } from './gateway.ts';

export interface OperatorProcess {
  proc: ChildProcess;
  logs: string[];
  httpUrl: Promise<string>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function startOperator(cp: ControlPlane, extra: string[] = []): OperatorProcess {
  const proc = spawn(process.execPath, [join(ROOT, 'main.ts'), 'operator', '--kubeconfig', cp.kubeconfig, '--http-listen', '127.0.0.1:0',
    '--gateway-status-url-template', 'http://127.0.0.1:{port}/status', '--lease-duration', '6s', '--renew-deadline', '4s', '--retry-period', '1s',
    '--probe-timeout', '2s', '--log-level', 'debug', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  let resolveUrl!: (u: string) => void;
  const httpUrl = new Promise<string>((r) => { resolveUrl = r; });
  const onLine = (d: Buffer) => {
    for (const line of d.toString().split('\n').filter(Boolean)) {
      logs.push(line);
      if (logs.length > 5000) logs.shift();
      try {
        const rec = JSON.parse(line) as { msg?: string; http?: string };
        if (rec.msg === 'operator started' && rec.http) resolveUrl(rec.http);
      } catch { /* not JSON */ }
    }
  };
  proc.stdout!.on('data', onLine);
  proc.stderr!.on('data', onLine);
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const reap = () => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); };
  process.once('exit', reap);
  return {
    proc, logs, httpUrl, exited,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

/** Polls until check returns a value (not undefined/false); fails with `what` and the last value after timeoutMs. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 300): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let i = 0; i < 100_000; i++) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) break;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)?.slice(0, 2000)}`);
}

export async function getObject(cp: ControlPlane, kind: string, ns: string, name: string): Promise<any | undefined> {
  const r = await cp.kubectl(['get', kind, name, '-n', ns, '-o', 'json'], { allowFail: true });
  return r.code === 0 ? JSON.parse(r.stdout) : undefined;
}

export async function applyObjects(cp: ControlPlane, objects: object[], allowFail = false) {
  return cp.kubectl(['apply', '--server-side', '--field-manager=e2e', '-f', '-'], { input: objects.map((o) => JSON.stringify(o)).join('\n'), allowFail });
}

export const condition = (obj: any, type: string) => (obj?.status?.conditions as any[] | undefined)?.find((c) => c.type === type);

export interface Backend {
  gateway: SpawnedGateway;
  creds: TestCredentials;
  bucket: string;
  endpoint: string;
  close(): Promise<void>;
}

/** A real S3 server with one bucket: `floodgate gateway` over the embedded store on loopback. */
export async function startBackend(bucket: string): Promise<Backend> {
  const dir = tempDir('floodgate-op-backend-');
  const creds = newCredentials();
  const gateway = await spawnGateway(dir, creds);
  const s3 = new S3Client({ endpoint: gateway.url, region: 'us-east-1', forcePathStyle: true, credentials: creds });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  return {
    gateway, creds, bucket, endpoint: gateway.url,
    close: async () => {
      await gateway.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const secretOf = (ns: string, name: string, c: TestCredentials) => ({
  apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: ns }, stringData: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey },
});

export const backendBucketOf = (ns: string, name: string, b: { endpoint: string; bucket: string }, secret: string, extra: object = {}, labels: Record<string, string> = {}) => ({
  apiVersion: 'floodgate.dev/v1alpha1', kind: 'BackendBucket', metadata: { name, namespace: ns, labels },
  spec: { endpoint: b.endpoint, bucket: b.bucket, credentialsSecret: { name: secret }, probeInterval: '5s', ...extra },
});

const decode = (s: any, k: string) => Buffer.from(s.data[k], 'base64').toString('utf8');

/**
 * Writes the gateway config a VirtualBucket's pod would get — the ConfigMap, with each mounted
 * Secret directory replaced by a local copy and the paths moved into a temp dir — and returns it.
 */
export async function materializeGatewayConfig(cp: ControlPlane, ns: string, vbName: string, dir: string): Promise<string> {
  const cm = await getObject(cp, 'configmap', ns, `${vbName}-gateway`);
  const deployment = await getObject(cp, 'deployment', ns, `${vbName}-gateway`);
  const config = parse(cm.data['config.yaml']);
  const volumes = deployment.spec.template.spec.volumes as any[];
  const mounts = deployment.spec.template.spec.containers[0].volumeMounts as any[];
  for (const b of config.backends) {
    const mount = mounts.find((m) => m.mountPath === b.credentials.secretDir);
    const vol = volumes.find((v) => v.name === mount.name);
    const secret = await getObject(cp, 'secret', ns, vol.secret.secretName);
    const local = join(dir, 'backends', b.name);
    mkdirSync(local, { recursive: true });
    for (const item of vol.secret.items) writeFileSync(join(local, item.path), decode(secret, item.key));
    b.credentials.secretDir = local;
  }
  config.dataDir = join(dir, 'data');
  config.index = { kind: 'sqlite', path: join(dir, 'data', 'index.db') };
  mkdirSync(config.dataDir, { recursive: true });
  const file = join(dir, 'config.yaml');
  writeFileSync(file + '.tmp', stringify(config));
  const { renameSync } = await import('node:fs');
  renameSync(file + '.tmp', file);
  return file;
}

/** Starts the VirtualBucket's gateway as a local process on the Service port its status URL points at. */
export async function runVirtualBucketGateway(cp: ControlPlane, ns: string, vbName: string, port: number, dir: string) {
  const file = await materializeGatewayConfig(cp, ns, vbName, dir);
  const vb = await getObject(cp, 'virtualbucket', ns, vbName);
  const access = await getObject(cp, 'secret', ns, vb.status.accessSecret);
  const creds = { accessKeyId: decode(access, 'accessKeyId'), secretAccessKey: decode(access, 'secretAccessKey') };
  // The fault control and admin tokens, as the pod gets them (the `faults` and `admin` Secret
  // volumes, --fault-token-file and --admin-token-file).
  const deployment = await getObject(cp, 'deployment', ns, `${vbName}-gateway`);
  const volumes = deployment.spec.template.spec.volumes as any[];
  const extra: string[] = [];
  const tokens: Record<string, string | undefined> = {};
  for (const [volume, flag] of [['faults', '--fault-token-file'], ['admin', '--admin-token-file']] as const) {
    const v = volumes.find((x) => x.name === volume);
    if (!v) continue;
    tokens[volume] = decode(await getObject(cp, 'secret', ns, v.secret.secretName), 'token');
    writeFileSync(join(dir, `${volume}-token`), tokens[volume]!, { mode: 0o600 });
    extra.push(flag, join(dir, `${volume}-token`));
  }
  const gateway = await spawnGateway(join(dir, 'data'), creds, ['--config', file, '--listen', `127.0.0.1:${port}`, ...extra]);
  return { gateway, creds, file, faultToken: tokens.faults, adminToken: tokens.admin };
}

/**
 * Stands in for the kubelet the test control plane lacks, for one VirtualBucket's gateway pods
 * (their gateway runs as a local process instead): pods the ReplicaSet controller created are
 * marked Running and Ready, and pods being deleted are removed at once (a Recreate rollout waits
 * for them). Then the Deployment's readyReplicas is what the controllers compute from real pods.
 */
export function simulateGatewayPods(cp: ControlPlane, ns: string, vbName: string): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    for (let i = 0; running && i < 100_000; i++) {
      const r = await cp.kubectl(['get', 'pods', '-n', ns, '-l', `app.kubernetes.io/instance=${vbName},app.kubernetes.io/name=floodgate-gateway`, '-o', 'json'], { allowFail: true });
      for (const pod of r.code === 0 ? (JSON.parse(r.stdout).items as any[]) : []) {
        const name = pod.metadata.name as string;
        if (pod.metadata.deletionTimestamp) {
          await cp.kubectl(['delete', 'pod', name, '-n', ns, '--grace-period=0', '--force', '--wait=false'], { allowFail: true });
        } else if (!(pod.status?.conditions as any[] | undefined)?.some((c) => c.type === 'Ready' && c.status === 'True')) {
          const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
          const status = { phase: 'Running', startTime: now, conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: now })) };
          await cp.kubectl(['patch', 'pod', name, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })], { allowFail: true });
        }
      }
      await sleep(500);
    }
  })();
  return async () => { running = false; await loop; };
}

/** Without controllers (bare API server): sets the Deployment's status as if its pods were ready. */
export async function setDeploymentReady(cp: ControlPlane, ns: string, name: string, ready: number): Promise<void> {
  const d = await getObject(cp, 'deployment', ns, name);
  const replicas = d?.spec?.replicas ?? 1;
  const status = { observedGeneration: d.metadata.generation, replicas, updatedReplicas: replicas, readyReplicas: ready, availableReplicas: ready };
  await cp.kubectl(['patch', 'deployment', name, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })]);
}

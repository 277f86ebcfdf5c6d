// A real Kubernetes control plane for tests, envtest-style: etcd + kube-apiserver (+ optionally
// kube-controller-manager for garbage collection, namespace deletion, service accounts and
// Deployments→ReplicaSets→Pods) as local processes on 127.0.0.1, built from the Go module proxy
// by tools/k8s-bins.sh. No kubelet and no scheduler: pods are created but never run, and nothing
// here ever dials a Service or Pod IP (the service CIDR is only allocated from, never reached).
import { execFileSync, spawn } from 'node:child_process';
import { request } from 'node:https';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { newToken, writeKubeconfig, writePki, writeTokenFile } from './controlplane-pki.ts';
import { processGroup, type Child } from './controlplane-processes.ts';
import { freePort } from '../../proxy/backends/s3/minio.fixture.ts';

export interface ControlPlane {
  kubeconfig: string;          // path to a kubeconfig file (token auth), server https://127.0.0.1:<port>
  server: string;              // https://127.0.0.1:<port>
  binDir: string;              // where kubectl/helm live
  kubectl(args: string[], opts?: { input?: string; allowFail?: boolean }): Promise<{ code: number; stdout: string; stderr: string }>;
  helm(args: string[], opts?: { allowFail?: boolean }): Promise<{ code: number; stdout: string; stderr: string }>;
  restartApiServer(): Promise<void>;   // stop and start kube-apiserver on the same port (for informer-resilience tests)
  stop(): Promise<void>;
}

const ROOT = resolve(import.meta.dirname, '../..');
const READY_TIMEOUT_MS = 120_000;
const COMMAND_TIMEOUT_MS = 180_000;

let binDirCache: string | undefined;

/** Runs tools/k8s-bins.sh (a no-op once built; the first build takes long) and returns its bin dir. */
export function k8sBinDir(): string {
  if (binDirCache) return binDirCache;
  const out = execFileSync(join(ROOT, 'tools', 'k8s-bins.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = out.trim().split('\n').at(-1);
  if (!dir) throw new Error('tools/k8s-bins.sh printed no bin directory');
  binDirCache = dir;
  return dir;
}

export async function startControlPlane(opts: { controllers?: boolean } = {}): Promise<ControlPlane> {
  const binDir = k8sBinDir();
  // Free ports are picked before the servers bind them, so a test running beside this one can
  // take one in between: such a start is retried on fresh ports.
  for (let attempt = 1; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), 'floodgate-k8s-'));
    const procs = processGroup(dir);
    try {
      return await boot(binDir, dir, procs, opts.controllers ?? false);
    } catch (err) {
      await procs.stopAll();
      if (attempt >= 3 || !/address already in use/.test(String((err as Error).message))) throw err;
    }
  }
}

async function boot(binDir: string, dir: string, procs: ReturnType<typeof processGroup>, controllers: boolean): Promise<ControlPlane> {
  const pki = writePki(dir);
  const admin = newToken('floodgate-admin', ['system:masters']);
  // The controller manager gets its own identity; system:masters keeps the harness independent of
  // which bootstrap roles each controller needs.
  const kcmUser = newToken('system:kube-controller-manager', ['system:masters']);
  writeTokenFile(join(dir, 'tokens.csv'), [admin, kcmUser]);

  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const etcd = procs.spawn('etcd', join(binDir, 'etcd'), [
    '--name=default', `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`, `--initial-cluster=default=${peerUrl}`,
    '--unsafe-no-fsync=true', '--log-level=warn',
  ]);
  await waitUntil(etcd, async () => (await fetch(`${etcdUrl}/health`)).ok, 'etcd /health');

  const server = `https://127.0.0.1:${apiPort}`;
  const apiserverArgs = [
    `--etcd-servers=${etcdUrl}`, '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${apiPort}`,
    `--tls-cert-file=${pki.servingCert}`, `--tls-private-key-file=${pki.servingKey}`,
    `--token-auth-file=${join(dir, 'tokens.csv')}`, '--anonymous-auth=false', '--authorization-mode=RBAC',
    `--service-account-issuer=${server}`, `--service-account-key-file=${pki.saPublicKey}`,
    `--service-account-signing-key-file=${pki.saPrivateKey}`,
    '--service-cluster-ip-range=10.0.0.0/24', '--allow-privileged=true', '--profiling=false',
    // Checked like on stricter clusters: setting blockOwnerDeletion needs update on the owner's
    // finalizers, so a chart's RBAC that lacks it fails here too.
    '--enable-admission-plugins=OwnerReferencesPermissionEnforcement',
    // Without the controller manager nothing creates the `default` ServiceAccount pods need.
    ...(controllers ? [] : ['--disable-admission-plugins=ServiceAccount']),
  ];
  const startApiServer = async (): Promise<Child> => {
    const child = procs.spawn('kube-apiserver', join(binDir, 'kube-apiserver'), apiserverArgs);
    await waitUntil(child, () => readyz(server, pki.caCertPem, admin.token), 'kube-apiserver /readyz');
    return child;
  };
  let apiserver = await startApiServer();

  const kubeconfig = join(dir, 'admin.kubeconfig');
  writeKubeconfig(kubeconfig, server, pki.caCertPem, admin);
  const kubectlCache = join(dir, 'kubectl-cache');
  const helmHome = join(dir, 'helm');
  mkdirSync(helmHome);

  const kubectl: ControlPlane['kubectl'] = (args, o = {}) =>
    run('kubectl', join(binDir, 'kubectl'), [`--kubeconfig=${kubeconfig}`, `--cache-dir=${kubectlCache}`], args, { HOME: dir }, o);
  const helm: ControlPlane['helm'] = (args, o = {}) =>
    run('helm', join(binDir, 'helm'), [`--kubeconfig=${kubeconfig}`], args, {
      HOME: dir,
      HELM_CACHE_HOME: join(helmHome, 'cache'), HELM_CONFIG_HOME: join(helmHome, 'config'), HELM_DATA_HOME: join(helmHome, 'data'),
    }, o);

  let kcm: Child | undefined;
  if (controllers) {
    const kcmKubeconfig = join(dir, 'kcm.kubeconfig');
    writeKubeconfig(kcmKubeconfig, server, pki.caCertPem, kcmUser);
    kcm = procs.spawn('kube-controller-manager', join(binDir, 'kube-controller-manager'), [
      `--kubeconfig=${kcmKubeconfig}`, '--leader-elect=false', '--bind-address=127.0.0.1', '--secure-port=0',
      '--controllers=garbagecollector,namespace,serviceaccount,serviceaccount-token,root-ca-cert-publisher,deployment,replicaset',
      `--service-account-private-key-file=${pki.saPrivateKey}`, `--root-ca-file=${pki.caCert}`,
      '--use-service-account-credentials=false', '--profiling=false',
    ]);
    // The serviceaccount controller creating `default` in `default` proves the manager is up and
    // talking to the apiserver.
    await waitUntil(kcm, async () =>
      (await kubectl(['get', 'serviceaccount', 'default', '-n', 'default', '-o', 'name'], { allowFail: true })).code === 0,
    'kube-controller-manager (default ServiceAccount)');
  }

  let stopped = false;
  return {
    kubeconfig, server, binDir, kubectl, helm,
    async restartApiServer() {
      if (stopped) throw new Error('control plane is stopped');
      // It stops listening at once on SIGTERM but then waits for open watches (the controller
      // manager's) to drain for tens of seconds; clients see it gone either way.
      await apiserver.stop(3_000);
      apiserver = await startApiServer();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await kcm?.stop(5_000);
      await apiserver.stop();
      await etcd.stop();
      await procs.stopAll();
    },
  };
}

/** Polls `check` until it returns true; fails early with the process log when the process exits. */
export async function waitUntil(child: Child, check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (!child.running()) throw new Error(`${child.name} exited before ${what} was ready:\n${child.logTail()}`);
    try {
      if (await check()) return;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${child.logTail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export function readyz(server: string, ca: string, token: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const req = request(`${server}/readyz`, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy(new Error('readyz timed out')));
    req.on('error', reject);
    req.end();
  });
}

export type Result = { code: number; stdout: string; stderr: string };

export function run(name: string, bin: string, fixed: string[], args: string[], env: Record<string, string>,
  o: { input?: string; allowFail?: boolean }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, [...fixed, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    p.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
    p.on('error', (err) => { clearTimeout(timer); reject(err); });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? (signal ? 128 : 1), stdout, stderr };
      if (signal) reject(new Error(`${name} ${args.join(' ')} killed by ${signal} (timeout ${COMMAND_TIMEOUT_MS} ms)\n${stderr}`));
      else if (result.code !== 0 && !o.allowFail) reject(new Error(`${name} ${args.join(' ')} exited ${result.code}:\n${stderr}${stdout}`));
      else resolve(result);
    });
    p.stdin.on('error', () => { /* the command may exit without reading its input */ });
    p.stdin.end(o.input ?? '');
  });
}

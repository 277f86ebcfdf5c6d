// A real one-node Kubernetes cluster on this machine for tests ("kind without Docker"): the
// control plane of e2e/lib/controlplane.ts plus kube-scheduler, containerd + runc + bridge CNI,
// the kubelet, kube-proxy and CoreDNS, on private address ranges that only this harness creates.
// Needs root. One cluster at a time per machine (a lock file); a crashed run's leftovers are
// removed by the next start. See docs/testing-cluster.md.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { processGroup, type Child } from '../controlplane-processes.ts';
import { k8sBinDir, run, type Result } from '../controlplane.ts';
import { importImage, startContainerd } from './containerd.ts';
import { startControlPlane } from './controlplane.ts';
import { VOLUME_COUNT, coreDnsManifest, storageManifest } from './dns.ts';
import { has, snapshot, type HostSnapshot } from './host.ts';
import { DNS_SERVICE_IP, LOCK_FILE, NODE_IP, NODE_NAME, POD_CIDR, SERVICE_CIDR, STATE_DIR, paths } from './layout.ts';
import { guardInstalled, installGuard, preflight, setupLinks } from './network.ts';
import { startKubelet, startKubeProxy } from './node.ts';
import { LAST_LOGS, cleanHost, saveRecord } from './teardown.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const READY_TIMEOUT_MS = 180_000;

export interface Cluster {
  kubeconfig: string;            // admin (system:masters), server https://127.0.0.1:<port>
  server: string;
  binDir: string;                // kubectl, helm
  nodeName: string;
  nodeIP: string;
  podCIDR: string;
  serviceCIDR: string;
  dnsIP: string;
  stateDir: string;
  logsDir: string;               // component logs while running (moved to LAST_LOGS at stop)
  /** Images the harness built and imported: busybox (for test pods), pause, coredns. */
  images: { busybox: string; pause: string; coredns: string };
  /** Milliseconds from the start (binaries and images cached, lock held) to node Ready and to CoreDNS Ready. */
  times: { nodeReadyMs: number; dnsReadyMs: number };
  /** When the egress guard went in (epoch ms): before containerd, hence before any pod. */
  guardInstalledAt: number;
  kubectl(args: string[], opts?: { input?: string; allowFail?: boolean }): Promise<Result>;
  helm(args: string[], opts?: { allowFail?: boolean }): Promise<Result>;
  /** `ctr images import` of a docker-archive or OCI archive into the node's containerd. */
  importImage(archive: string): void;
  /** True when the egress guard rules are in place (checked by the smoke test). */
  guardInstalled(): boolean;
  /** The host as it was before this cluster (taken while holding the lock, after any leftovers were removed). */
  hostBefore: HostSnapshot;
  /**
   * Teardown, unless FLOODGATE_KEEP_CLUSTER=1 (then the cluster stays up until the next start).
   * `hostAfter` is taken before the lock is released, so no other cluster has started yet.
   */
  stop(): Promise<{ teardownMs: number; hostAfter?: HostSnapshot }>;
}

/**
 * Why this machine cannot run the cluster, or undefined when it can (tests skip with this
 * message). Only a non-root run skips: as root `make testdeps` installs every tool
 * (tools/cluster-pkgs.sh), so one missing is a broken setup, and it fails instead of skipping
 * the cluster tests unnoticed.
 */
export function clusterUnsupported(): string | undefined {
  if (process.getuid?.() !== 0) return 'the test cluster needs root (containerd, bridges, iptables)';
  const missing = ['containerd', 'ctr', 'runc', 'socat', 'iptables', 'ip6tables', 'nft', 'conntrack', 'nfacct']
    .filter((c) => !has(c));
  if (!existsSync('/usr/lib/cni/bridge')) missing.push('/usr/lib/cni (containernetworking-plugins)');
  if (missing.length) throw new Error(`the test cluster needs ${missing.join(', ')}: tools/cluster-pkgs.sh installs them`);
  return undefined;
}

function tool(script: string): string {
  const out = execFileSync(join(ROOT, 'tools', script), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const dir = out.trim().split('\n').at(-1);
  if (!dir) throw new Error(`tools/${script} printed no directory`);
  return dir;
}

/** Holds LOCK_FILE until released or until this process dies (the holder watches our pid). */
async function lock(): Promise<() => void> {
  const holder: ChildProcess = spawn('flock', [LOCK_FILE, 'sh', '-c',
    'echo "$$"; while kill -0 "$1" 2>/dev/null; do sleep 1; done', 'lock', String(process.pid)],
  { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  const shPid = await new Promise<number>((res, rej) => {
    holder.stdout?.once('data', (d: Buffer) => res(Number(d.toString().trim())));
    holder.once('exit', (code) => rej(new Error(`flock ${LOCK_FILE} exited ${code}`)));
  });
  holder.stdout?.destroy();
  holder.unref();
  return () => {
    try {
      process.kill(shPid, 'SIGTERM');
    } catch { /* gone */ }
  };
}

export async function startCluster(opts: { images?: string[] } = {}): Promise<Cluster> {
  const why = clusterUnsupported();
  if (why) throw new Error(why);
  const k8sBin = k8sBinDir();
  const nodeBin = tool('cluster-bins.sh');
  const imagesDir = tool('cluster-images.sh');
  const corednsVersion = readFileSync(join(imagesDir, 'coredns.version'), 'utf8').trim();
  const images = { busybox: 'floodgate.local/busybox:1', pause: 'floodgate.local/pause:1', coredns: `floodgate.local/coredns:${corednsVersion}` };

  const unlock = await lock();
  const started = Date.now();     // binaries and images are cached by now; waiting for the lock is not counted
  const p = paths();
  try {
    if (existsSync(STATE_DIR)) {
      console.error(`cluster: removing the leftovers of an earlier run in ${STATE_DIR}`);
      cleanHost(p);
    }
    preflight();
  } catch (err) {
    unlock();
    throw err;
  }
  const before = snapshot();
  mkdirSync(p.procs, { recursive: true });
  saveRecord(p, before);
  const procs = processGroup(p.procs, { keepDir: true });
  const children: Child[] = [];
  const kubectlCache = join(STATE_DIR, 'kubectl-cache');
  const helmHome = join(STATE_DIR, 'helm');
  const kubectl: Cluster['kubectl'] = (args, o = {}) =>
    run('kubectl', join(k8sBin, 'kubectl'), [`--kubeconfig=${p.kubeconfig}`, `--cache-dir=${kubectlCache}`], args, { HOME: STATE_DIR }, o);
  const helm: Cluster['helm'] = (args, o = {}) =>
    run('helm', join(k8sBin, 'helm'), [`--kubeconfig=${p.kubeconfig}`], args, {
      HOME: STATE_DIR,
      HELM_CACHE_HOME: join(helmHome, 'cache'), HELM_CONFIG_HOME: join(helmHome, 'config'), HELM_DATA_HOME: join(helmHome, 'data'),
    }, o);

  let stopping = false;
  const teardown = async (): Promise<{ teardownMs: number; hostAfter?: HostSnapshot }> => {
    if (stopping) return { teardownMs: 0 };
    stopping = true;
    const t0 = Date.now();
    try {
      await deletePods(p.cniIpam, kubectl, children);
      await procs.stopAll();
      cleanHost(p, before);
      return { teardownMs: Date.now() - t0, hostAfter: snapshot() };
    } finally {
      unlock();
    }
  };

  try {
    setupLinks();
    installGuard();      // before containerd can start the first sandbox
    const guardInstalledAt = Date.now();
    children.push(await startContainerd(p, procs));
    for (const name of ['pause', 'coredns', 'busybox']) importImage(p, join(imagesDir, `${name}.tar`));
    for (const archive of opts.images ?? []) importImage(p, archive);
    const cp = await startControlPlane(k8sBin, nodeBin, p, procs);
    children.push(...cp.children);
    children.push(await startKubeProxy(nodeBin, p, cp, procs));
    children.push(await startKubelet(nodeBin, p, cp, procs));
    await until(children, async () => (await kubectl(['get', 'node', NODE_NAME, '-o',
      'jsonpath={.status.conditions[?(@.type=="Ready")].status}'], { allowFail: true })).stdout === 'True', 'node Ready');
    const nodeReadyMs = Date.now() - started;
    const volumes = Array.from({ length: VOLUME_COUNT }, (_, i) => join(p.volumes, `pv-${i}`));
    for (const v of volumes) {
      mkdirSync(v, { recursive: true });
      chmodSync(v, 0o1777);
    }
    await kubectl(['apply', '-f', '-'], { input: storageManifest(volumes) });
    await kubectl(['apply', '-f', '-'], { input: coreDnsManifest(images.coredns) });
    await until(children, async () => (await kubectl(['-n', 'kube-system', 'get', 'deployment', 'coredns', '-o',
      'jsonpath={.status.readyReplicas}'], { allowFail: true })).stdout === '1', 'CoreDNS Ready');
    const dnsReadyMs = Date.now() - started;
    return {
      kubeconfig: p.kubeconfig, server: cp.server, binDir: k8sBin, nodeName: NODE_NAME, nodeIP: NODE_IP,
      podCIDR: POD_CIDR, serviceCIDR: SERVICE_CIDR, dnsIP: DNS_SERVICE_IP, stateDir: STATE_DIR, logsDir: p.procs,
      images, times: { nodeReadyMs, dnsReadyMs }, guardInstalledAt, hostBefore: before, kubectl, helm,
      importImage: (archive) => importImage(p, archive),
      guardInstalled,
      async stop() {
        if (process.env.FLOODGATE_KEEP_CLUSTER === '1') {
          procs.release();
          console.error(`cluster kept up (FLOODGATE_KEEP_CLUSTER=1): kubectl --kubeconfig=${p.kubeconfig} …; ` +
            `logs in ${p.procs}; the next start or \`node e2e/lib/cluster/down.ts\` removes it`);
          return { teardownMs: 0 };
        }
        return teardown();
      },
    };
  } catch (err) {
    const logs = children.map((c) => `--- ${c.name} ---\n${c.logTail(15)}`).join('\n');
    await teardown().catch((e: unknown) => console.error('cluster teardown after a failed start:', e));
    throw new Error(`${(err as Error).message}\n(component logs kept in ${LAST_LOGS})\n${logs}`, { cause: err });
  }
}

async function until(children: Child[], check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const dead = children.find((c) => !c.running());
    if (dead) throw new Error(`${dead.name} exited before ${what}:\n${dead.logTail()}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Deletes every pod through the kubelet so that CNI DEL runs for each sandbox: the controller
 * manager and scheduler stop first (nothing recreates pods), then pods are force-deleted and we
 * wait until host-local has released every pod IP.
 */
async function deletePods(ipamDir: string, kubectl: Cluster['kubectl'], children: Child[]): Promise<void> {
  const byName = (n: string) => children.find((c) => c.name === n);
  const kubelet = byName('kubelet');
  if (!kubelet?.running() || !byName('kube-apiserver')?.running()) return;
  await byName('kube-controller-manager')?.stop(5_000);
  await byName('kube-scheduler')?.stop(5_000);
  await kubectl(['delete', 'pods', '--all', '--all-namespaces', '--force', '--grace-period=0', '--wait=false'], { allowFail: true });
  const reserved = () => {
    const dir = join(ipamDir, 'floodgate-cluster');
    return existsSync(dir) ? readdirSync(dir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : [];
  };
  const deadline = Date.now() + 90_000;
  while (reserved().length && Date.now() < deadline && kubelet.running()) await new Promise((r) => setTimeout(r, 250));
  const left = reserved();
  if (left.length) console.error(`cluster: CNI DEL did not run for ${left.join(', ')}; removing their netns directly`);
}

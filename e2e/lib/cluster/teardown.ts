// Leaves the machine as it was: pods deleted through the kubelet (so CNI DEL runs), processes
// stopped by recorded pid, then whatever remains — a crashed run's pods, shims, mounts, links,
// chains, cgroups, host paths and sysctls — removed by what was recorded before the start.
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostSnapshot } from './host.ts';
import { clusterCgroups, mountsUnder, readSysctl, sh, snapshot } from './host.ts';
import { STATE_DIR, type Paths } from './layout.ts';
import { cleanNetfilter } from './netfilter.ts';
import { podNetns, removeNetns, removeNetwork } from './network.ts';

/** Logs of the last cluster are kept here after teardown, for debugging. */
export const LAST_LOGS = '/var/tmp/floodgate-cluster-last-logs';

export function saveRecord(p: Paths, before: HostSnapshot): void {
  writeFileSync(p.record, JSON.stringify(before, null, 2));
}

function readRecord(p: Paths): HostSnapshot | undefined {
  try {
    return JSON.parse(readFileSync(p.record, 'utf8')) as HostSnapshot;
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch { /* already gone */ }
}

/** Pids inside the cluster's pod cgroups: containers and sandboxes of this cluster only. */
function podPids(): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name === 'cgroup.procs') {
        for (const l of readFileSync(join(dir, e.name), 'utf8').split('\n')) if (l) pids.add(Number(l));
      }
    }
  };
  const root = '/sys/fs/cgroup/pids/kubepods';
  if (existsSync(root)) walk(root);
  return [...pids];
}

/** Processes a crashed run left: its recorded component pids, pod processes, containerd shims on our socket. */
function killLeftovers(p: Paths): void {
  const recorded = (() => {
    try {
      return readFileSync(join(p.procs, 'pids'), 'utf8').split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  })();
  // A recorded pid counts only while its command line still names our state folder or one of our binaries.
  for (const pid of recorded) if (/kube|etcd|containerd|socat/.test(cmdline(pid))) kill(pid);
  for (const pid of podPids()) kill(pid);
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const cmd = cmdline(pid);
    if (cmd.startsWith('/usr/bin/containerd-shim') && cmd.includes(p.containerdSock)) kill(pid);
  }
}

function unmountAll(): void {
  for (let round = 0; round < 5; round++) {
    const mounts = mountsUnder(STATE_DIR);
    if (!mounts.length) return;
    for (const m of mounts) sh('umount', [m], { allowFail: true }) || sh('umount', ['-l', m], { allowFail: true });
  }
  const left = mountsUnder(STATE_DIR);
  if (left.length) throw new Error(`cannot unmount under ${STATE_DIR}:\n${left.join('\n')}`);
}

function removeCgroups(before: HostSnapshot): void {
  // Deepest first: a cgroup folder can only be removed once its children are gone.
  const rm = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rm(join(dir, e.name));
    for (let i = 0; i < 20; i++) {
      try {
        rmdirSync(dir);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);   // processes still exiting
      }
    }
    throw new Error(`cannot remove cgroup ${dir}`);
  };
  for (const dir of clusterCgroups().reverse()) if (!before.cgroups.includes(dir) && existsSync(dir)) rm(dir);
}

function pruneEmpty(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) pruneEmpty(join(dir, e.name));
  try {
    rmdirSync(dir);
  } catch { /* not empty: someone else's */ }
}

/** Puts the host back as `before` records it. Safe to run on a clean host and on a crashed run's leftovers. */
export function cleanHost(p: Paths, fallback?: HostSnapshot): void {
  const before = readRecord(p) ?? fallback ?? { ...snapshot(), cgroups: [] };
  killLeftovers(p);
  removeNetns(podNetns());
  unmountAll();
  removeNetwork();
  cleanNetfilter(before);
  removeCgroups(before);
  const now = snapshot();
  for (const path of now.paths) {
    if (before.paths.includes(path) || !existsSync(path)) continue;
    if (path === '/run/netns') sh('umount', [path], { allowFail: true });
    // Another containerd on the machine may share /run/containerd: only empty folders go.
    if (path === '/run/containerd') pruneEmpty(path);
    else rmSync(path, { recursive: true, force: true });
  }
  for (const [key, value] of Object.entries(before.sysctls)) {
    if (readSysctl(key) !== value) writeFileSync(join('/proc/sys', key), value);
  }
  if (existsSync(p.procs)) {
    rmSync(LAST_LOGS, { recursive: true, force: true });
    renameSync(p.procs, LAST_LOGS);
  }
  if (mountsUnder(STATE_DIR).length) throw new Error(`mounts left under ${STATE_DIR}`);
  rmSync(STATE_DIR, { recursive: true, force: true });
}

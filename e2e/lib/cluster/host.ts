// Small synchronous wrappers over the host tools the cluster needs (ip, iptables, nft, mount…),
// and a snapshot of everything a cluster could leave behind, to compare before and after.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HOST_PATHS, SYSCTLS, STATE_DIR } from './layout.ts';

/** Runs a command and returns its stdout; throws with stderr unless `allowFail`. */
export function sh(cmd: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input: opts.input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 60_000 });
  } catch (err) {
    if (opts.allowFail) return '';
    const e = err as { stderr?: string; stdout?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr ?? ''}${e.stdout ?? ''}`, { cause: err });
  }
}

export function has(cmd: string): boolean {
  return sh('sh', ['-c', `command -v ${cmd}`], { allowFail: true }).trim() !== '';
}

export function readSysctl(key: string): string | undefined {
  try {
    return readFileSync(join('/proc/sys', key), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * The cgroup folders the cluster creates, per hierarchy: the kubelet's `kubepods` tree (every pod
 * container lives below it). containerd's `k8s.io` folder belongs to `ctr run` containers, which
 * this cluster never starts, and other tools on the machine use it: it is left alone.
 */
export function clusterCgroups(): string[] {
  const found: string[] = [];
  for (const h of readdirSync('/sys/fs/cgroup')) {
    for (const name of ['kubepods', 'kubepods.slice']) {
      const dir = join('/sys/fs/cgroup', h, name);
      if (existsSync(dir)) found.push(dir);
    }
  }
  return found.sort();
}

export interface HostSnapshot {
  iptables: string;
  ip6tables: string;
  nftTables: string[];
  links: string[];
  routes: string;
  mounts: string[];
  cgroups: string[];
  netns: string[];
  nfacct: string[];
  paths: string[];
  sysctls: Record<string, string>;
}

/** Rule text without packet counters, which change all the time. */
function rules(cmd: string): string {
  return sh(cmd, [], { allowFail: true }).split('\n')
    .filter((l) => !l.startsWith('#')).map((l) => l.replace(/^(:\S+ \S+) \[\d+:\d+\]$/, '$1')).join('\n');
}

export function nfacctNames(): string[] {
  return sh('nfacct', ['list'], { allowFail: true }).split('\n')
    .map((l) => /= (\S+);\s*$/.exec(l)?.[1]).filter((n): n is string => !!n).sort();
}

export function snapshot(): HostSnapshot {
  const sysctls: Record<string, string> = {};
  for (const k of SYSCTLS) {
    const v = readSysctl(k);
    if (v !== undefined) sysctls[k] = v;
  }
  return {
    iptables: rules('iptables-save'),
    ip6tables: rules('ip6tables-save'),
    nftTables: sh('nft', ['list', 'tables'], { allowFail: true }).split('\n').filter(Boolean).sort(),
    links: sh('ip', ['-o', 'link', 'show'], { allowFail: true }).split('\n').filter(Boolean)
      .map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '').sort(),
    routes: sh('ip', ['route', 'show', 'table', 'all'], { allowFail: true }),
    mounts: readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean)
      .map((l) => l.split(' ')[4] ?? '').sort(),
    cgroups: clusterCgroups(),
    netns: existsSync('/run/netns') ? readdirSync('/run/netns').sort() : [],
    nfacct: nfacctNames(),
    paths: HOST_PATHS.filter((p) => existsSync(p)),
    sysctls,
  };
}

/** Mount points at or below `dir`, deepest first (so each can be unmounted in turn). */
export function mountsUnder(dir: string = STATE_DIR): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean)
    .map((l) => (l.split(' ')[4] ?? '').replace(/\\040/g, ' '))
    .filter((m) => m === dir || m.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
}

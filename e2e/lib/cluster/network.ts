// The cluster's links, routes and guard rules. Everything lives in CLUSTER_RANGE, on two bridges
// that only this harness creates; a catch-all route sends any address of the range that has no
// more specific route (an unused Service IP, say) to the port-less node bridge, so it never leaves
// through the machine's own interface, and the egress guard drops pod traffic that would.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CLUSTER_RANGE, GUARD_COMMENT, NODE_IP, NODE_LINK, POD_CIDR, POD_GATEWAY, POD_LINK } from './layout.ts';
import { sh } from './host.ts';

const prefix = CLUSTER_RANGE.split('.').slice(0, 2).join('.') + '.';

/** Refuses to start when a link or route of another workload overlaps ours. */
export function preflight(): void {
  for (const link of [NODE_LINK, POD_LINK]) {
    if (sh('ip', ['link', 'show', link], { allowFail: true })) throw new Error(`link ${link} already exists (another cluster running?)`);
  }
  const routes = sh('ip', ['-4', 'route', 'show', 'table', 'all']).split('\n').filter((r) => r.includes(prefix));
  if (routes.length) throw new Error(`routes in ${CLUSTER_RANGE} already exist, refusing to start:\n${routes.join('\n')}`);
}

/** The egress guard, one rule per direction, in mangle FORWARD (kube-proxy prepends accepts in filter FORWARD). */
const guardRules = [
  ['-s', POD_CIDR, '!', '-o', POD_LINK, '-m', 'comment', '--comment', GUARD_COMMENT, '-j', 'DROP'],
  ['-d', POD_CIDR, '!', '-i', POD_LINK, '-m', 'comment', '--comment', GUARD_COMMENT, '-j', 'DROP'],
];

export function installGuard(): void {
  for (const rule of guardRules) sh('iptables', ['-w', '-t', 'mangle', '-I', 'FORWARD', ...rule]);
}

export function guardInstalled(): boolean {
  return sh('iptables', ['-w', '-t', 'mangle', '-S', 'FORWARD'], { allowFail: true }).split('\n')
    .filter((l) => l.includes(GUARD_COMMENT) && l.includes('-j DROP')).length === guardRules.length;
}

export function setupLinks(): void {
  sh('ip', ['link', 'add', NODE_LINK, 'type', 'bridge']);
  sh('ip', ['addr', 'add', `${NODE_IP}/32`, 'dev', NODE_LINK]);
  sh('ip', ['link', 'set', NODE_LINK, 'up']);
  // The CNI bridge plugin adopts an existing bridge that already has its gateway address; made
  // here so the pod range is routed to it before the first pod (not to the default route).
  sh('ip', ['link', 'add', POD_LINK, 'type', 'bridge']);
  sh('ip', ['addr', 'add', `${POD_GATEWAY}/${POD_CIDR.split('/')[1]}`, 'dev', POD_LINK]);
  sh('ip', ['link', 'set', POD_LINK, 'up']);
  sh('ip', ['route', 'add', CLUSTER_RANGE, 'dev', NODE_LINK]);
}

/** Removes the links, routes and guard of this (or a crashed earlier) cluster; each step tolerates absence. */
export function removeNetwork(): void {
  for (const rule of guardRules) {
    while (check(['-w', '-t', 'mangle', '-C', 'FORWARD', ...rule])) sh('iptables', ['-w', '-t', 'mangle', '-D', 'FORWARD', ...rule]);
  }
  // Veths of pods whose CNI DEL never ran (crash): their peers die with them.
  for (const line of sh('ip', ['-o', 'link', 'show', 'master', POD_LINK], { allowFail: true }).split('\n').filter(Boolean)) {
    const name = line.split(':')[1]?.trim().split('@')[0];
    if (name) sh('ip', ['link', 'del', name], { allowFail: true });
  }
  sh('ip', ['route', 'del', CLUSTER_RANGE, 'dev', NODE_LINK], { allowFail: true });
  for (const link of [POD_LINK, NODE_LINK]) sh('ip', ['link', 'del', link], { allowFail: true });
}

function check(args: string[]): boolean {
  try {
    sh('iptables', args);
    return true;
  } catch {
    return false;
  }
}

/** Network namespaces under /run/netns that hold an address of our pod range (a crashed run's). */
export function podNetns(): string[] {
  if (!existsSync('/run/netns')) return [];
  return readdirSync('/run/netns').filter((ns) => ns.startsWith('cni-') &&
    sh('ip', ['-n', ns, '-4', '-o', 'addr', 'show'], { allowFail: true }).includes(` ${POD_CIDR.split('.').slice(0, 3).join('.')}.`));
}

export function removeNetns(names: string[]): void {
  for (const ns of names) {
    sh('umount', [join('/run/netns', ns)], { allowFail: true });
    sh('ip', ['netns', 'del', ns], { allowFail: true });
  }
}

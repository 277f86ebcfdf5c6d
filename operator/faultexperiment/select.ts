// Which pods an experiment hits. Pod targets: the label selector (matchLabels + matchExpressions)
// over running pods in the experiment's namespace, then `mode` picks how many, deterministically
// from the experiment's uid — the same pods on every reconcile and after an operator restart.
// VirtualBucket/BackendBucket targets: the gateway pods of the VirtualBuckets concerned.
import { createHash } from 'node:crypto';
import type { PodSelector } from '../../crds/faultexperiment.ts';
import type { KubeObject } from '../kube/types.ts';
import { selects } from '../selection.ts';

export function matchesSelector(sel: PodSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(l, e.key);
    const ok = e.operator === 'In' ? has && (e.values ?? []).includes(l[e.key]!)
      : e.operator === 'NotIn' ? !has || !(e.values ?? []).includes(l[e.key]!)
        : e.operator === 'Exists' ? has : !has;
    if (!ok) return false;
  }
  return true;
}

/** A pod an experiment may act on: scheduled and running, not on its way out. */
export function isLive(pod: KubeObject): boolean {
  return !pod.metadata.deletionTimestamp && (pod.status as { phase?: string } | undefined)?.phase === 'Running';
}

/** How many of n candidates a mode takes; percent rounds down but takes at least one. */
export function countFor(mode: 'one' | 'all' | 'fixed' | 'percent', value: number | undefined, n: number): number {
  if (n === 0) return 0;
  if (mode === 'one') return 1;
  if (mode === 'all') return n;
  if (mode === 'fixed') return Math.min(n, value ?? 1);
  return Math.min(n, Math.max(1, Math.floor((n * (value ?? 100)) / 100)));
}

/** Ranks names by sha256(seed/name): a stable shuffle, the same for the same seed on any replica. */
export function choose(names: readonly string[], k: number, seed: string): string[] {
  const rank = (n: string) => createHash('sha256').update(`${seed}/${n}`).digest('hex');
  return [...names].sort((a, b) => (rank(a) < rank(b) ? -1 : rank(a) > rank(b) ? 1 : 0)).slice(0, k).sort();
}

export function selectPods(pods: readonly KubeObject[], sel: PodSelector, mode: 'one' | 'all' | 'fixed' | 'percent', value: number | undefined, seed: string): string[] {
  const names = pods.filter((p) => isLive(p) && matchesSelector(sel, p.metadata.labels)).map((p) => p.metadata.name);
  return choose(names, countFor(mode, value, names.length), seed);
}

/** The labels render.ts gives a VirtualBucket's gateway pods. */
export function isGatewayOf(pod: KubeObject, virtualBucket: string): boolean {
  const l = pod.metadata.labels ?? {};
  return l['app.kubernetes.io/name'] === 'floodgate-gateway' && l['app.kubernetes.io/instance'] === virtualBucket
    && l['app.kubernetes.io/managed-by'] === 'floodgate-operator';
}

/** Gateway pods (live) of the given VirtualBuckets, as [pod name, VirtualBucket] in name order. */
export function gatewayPods(pods: readonly KubeObject[], virtualBuckets: readonly string[]): { name: string; virtualBucket: string }[] {
  const out: { name: string; virtualBucket: string }[] = [];
  for (const vb of virtualBuckets) {
    for (const p of pods) if (isLive(p) && isGatewayOf(p, vb)) out.push({ name: p.metadata.name, virtualBucket: vb });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** VirtualBuckets (not being deleted) whose gateways send requests to a BackendBucket. */
export function usersOfBackend(vbs: readonly KubeObject[], bb: KubeObject): string[] {
  return vbs.filter((vb) => !vb.metadata.deletionTimestamp && selects(vb, bb)).map((vb) => vb.metadata.name).sort();
}

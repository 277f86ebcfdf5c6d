// From an experiment's spec to the targets it names (chosen once, then read back from status)
// and from each target to its injector: base URL and bearer token. Tokens are read from Secrets
// by name, once per reconcile, and never logged.
import type { FaultExperimentSpec, FaultExperimentStatus } from '../../crds/faultexperiment.ts';
import { isNotFound, pathOf } from '../kube/api.ts';
import { TYPES, type KubeObject } from '../kube/types.ts';
import { GATEWAY_PORT_NAME, gatewayFaultSecretName, injectorOf, TOKEN_SECRET_KEY } from './contract.ts';
import type { Endpoint } from './injector-client.ts';
import type { ResolvedTarget } from './plan.ts';
import { gatewayPods, isLive, selectPods, usersOfBackend } from './select.ts';
import type { FxCtx } from './types.ts';

const GATEWAY_DEFAULT_PORT = 9000;

export interface Chosen { kind: 'pod' | 'gateway'; name: string; virtualBucket?: string }
export type Choice = { ok: true; targets: Chosen[] } | { ok: false; wait: boolean; reason: string; message: string };

/** Picks the targets now (first reconcile). `wait`: may appear later (pods not running yet). */
export function chooseTargets(ctx: FxCtx, fx: KubeObject, spec: FaultExperimentSpec): Choice {
  const ns = fx.metadata.namespace!;
  const pods = ctx.pods.list(ns);
  const t = spec.target;
  if (t.pods) {
    const names = selectPods(pods, t.pods.selector, t.pods.mode, t.pods.value, fx.metadata.uid!);
    if (names.length === 0) return { ok: false, wait: true, reason: 'NoTargets', message: 'the selector matches no running pod in this namespace' };
    const live = pods.filter(isLive).length;
    if (names.length * 100 > ctx.options.maxPodSharePercent * live) {
      return { ok: false, wait: false, reason: 'OverPodCap', message: `${names.length} of the namespace's ${live} running pods selected: over the cap of ${ctx.options.maxPodSharePercent} % (operator flag --max-pod-share)` };
    }
    return { ok: true, targets: names.map((name) => ({ kind: 'pod', name })) };
  }
  let vbs: string[];
  if (t.virtualBucket) {
    if (!ctx.virtualBuckets.get(`${ns}/${t.virtualBucket}`)) return { ok: false, wait: true, reason: 'VirtualBucketNotFound', message: `no VirtualBucket ${t.virtualBucket} in this namespace` };
    vbs = [t.virtualBucket];
  } else {
    const bb = ctx.backendBuckets.get(`${ns}/${t.backendBucket}`);
    if (!bb) return { ok: false, wait: true, reason: 'BackendBucketNotFound', message: `no BackendBucket ${t.backendBucket} in this namespace` };
    vbs = usersOfBackend(ctx.virtualBuckets.list(ns), bb);
    if (vbs.length === 0) return { ok: false, wait: true, reason: 'NoVirtualBucket', message: `no VirtualBucket uses BackendBucket ${t.backendBucket}, so no gateway sends it requests` };
  }
  const gws = gatewayPods(pods, vbs);
  if (gws.length === 0) return { ok: false, wait: true, reason: 'NoGateways', message: `no running gateway pod of VirtualBucket ${vbs.join(', ')}` };
  return { ok: true, targets: gws.map((g) => ({ kind: 'gateway', name: g.name, virtualBucket: g.virtualBucket })) };
}

export const chosenFromStatus = (s: FaultExperimentStatus): Chosen[] =>
  (s.targets ?? []).map((t) => ({ kind: t.kind, name: t.name, ...(t.virtualBucket ? { virtualBucket: t.virtualBucket } : {}) }));

function gatewayPort(pod: KubeObject): number {
  const containers = ((pod.spec as { containers?: { ports?: { name?: string; containerPort: number }[] }[] } | undefined)?.containers) ?? [];
  for (const c of containers) for (const p of c.ports ?? []) if (p.name === GATEWAY_PORT_NAME) return p.containerPort;
  return GATEWAY_DEFAULT_PORT;
}

/** Each chosen target with its endpoint, or why it has none. */
export async function resolveTargets(ctx: FxCtx, ns: string, chosen: readonly Chosen[]): Promise<{ targets: ResolvedTarget[]; endpoints: Map<string, Endpoint> }> {
  const tokens = new Map<string, Promise<string | undefined>>();
  const token = (secret: string) => {
    if (!tokens.has(secret)) {
      tokens.set(secret, ctx.kube.request('GET', pathOf(TYPES.secret, ns, secret)).then((s) => {
        const v = s.data?.[TOKEN_SECRET_KEY];
        return v ? Buffer.from(v, 'base64').toString('utf8').trim() || undefined : undefined;
      }, (e: unknown) => { if (isNotFound(e)) return undefined; throw e; }));
    }
    return tokens.get(secret)!;
  };
  const endpoints = new Map<string, Endpoint>();
  const targets: ResolvedTarget[] = [];
  for (const c of chosen) {
    const base: ResolvedTarget = { kind: c.kind, name: c.name, ...(c.virtualBucket ? { virtualBucket: c.virtualBucket } : {}) };
    const pod = ctx.pods.get(`${ns}/${c.name}`);
    if (!pod || pod.metadata.deletionTimestamp) { targets.push({ ...base, unavailable: { reason: 'PodGone', message: 'the pod no longer exists' } }); continue; }
    let baseUrl: string;
    let secret: string;
    if (c.kind === 'pod') {
      const inj = injectorOf(pod);
      if (!inj.ok) { targets.push({ ...base, unavailable: { reason: inj.reason, message: inj.message } }); continue; }
      baseUrl = inj.baseUrl;
      secret = inj.tokenSecret;
    } else {
      const ip = (pod.status as { podIP?: string } | undefined)?.podIP;
      if (!ip) { targets.push({ ...base, unavailable: { reason: 'NoPodIP', message: 'the gateway pod has no IP yet' } }); continue; }
      baseUrl = `http://${ip.includes(':') ? `[${ip}]` : ip}:${gatewayPort(pod)}`;
      secret = gatewayFaultSecretName(c.virtualBucket!);
    }
    const t = await token(secret);
    if (!t) { targets.push({ ...base, unavailable: { reason: 'TokenSecretMissing', message: `Secret ${secret} (key ${TOKEN_SECRET_KEY}) is missing or empty` } }); continue; }
    endpoints.set(c.name, { baseUrl, token: t });
    targets.push(base);
  }
  return { targets, endpoints };
}

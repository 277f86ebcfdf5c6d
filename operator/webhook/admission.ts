// The three webhooks' decisions, with the API calls they need:
//   /mutate/pods               inject the sidecar (fail-open: any doubt admits the pod unchanged)
//   /mutate/faultexperiments   record the creator and the SubjectAccessReview answer
//   /validate/faultexperiments refuse protected namespaces, over-share, over-cap, malformed, unauthorised
import { randomBytes } from 'node:crypto';
import type { Kube } from '../kube/api.ts';
import type { KubeList, KubeObject } from '../kube/types.ts';
import {
  CREATED_BY_ANNOTATION, CREATOR_CAN_DELETE_PODS_ANNOTATION, NAMESPACE_LABEL, NAMESPACE_LABEL_VALUE, TOKEN_SECRET_KEY, TOKEN_SECRET_LABEL,
} from '../injection-contract.ts';
import { injectPatch, skipReason, type Pod } from './inject.ts';
import type { AdmissionHandler, AdmissionRequest, Verdict } from './server.ts';
import type { AdmissionSettings } from './settings.ts';
import { matches, refusals, type Selector } from './validate.ts';

type Log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface AdmissionDeps {
  kube: Kube;
  settings: AdmissionSettings;
  log: Log;
}

const NS_CACHE_MS = 10_000;

export function admissionRoutes(d: AdmissionDeps): Record<string, AdmissionHandler> {
  const nsCache = new Map<string, { labels: Record<string, string>; at: number }>();
  async function namespaceLabels(ns: string): Promise<Record<string, string>> {
    const hit = nsCache.get(ns);
    if (hit && Date.now() - hit.at < NS_CACHE_MS) return hit.labels;
    const o = await d.kube.request('GET', `/api/v1/namespaces/${encodeURIComponent(ns)}`);
    const labels = o.metadata.labels ?? {};
    nsCache.set(ns, { labels, at: Date.now() });
    return labels;
  }

  async function mutatePod(r: AdmissionRequest): Promise<Verdict> {
    const ns = r.namespace ?? '';
    const pod = (r.object ?? {}) as Pod;
    const skip = (reason: string, warn = false): Verdict => {
      d.log('debug', 'pod not injected', { namespace: ns, pod: pod.metadata?.name ?? pod.metadata?.generateName, reason });
      return warn ? { allowed: true, warnings: [`floodgate: sidecar not injected: ${reason}`] } : { allowed: true };
    };
    if (r.operation !== 'CREATE') return { allowed: true };
    // The webhook configuration selects the same pods; checked again here so a hand-edited or
    // stale configuration can never inject into a protected or non-opted-in namespace.
    const why = skipReason(pod, ns, d.settings.protectedNamespaces);
    if (why) return skip(why);
    try {
      if ((await namespaceLabels(ns))[NAMESPACE_LABEL] !== NAMESPACE_LABEL_VALUE) return skip(`namespace is not labelled ${NAMESPACE_LABEL}=${NAMESPACE_LABEL_VALUE}`);
      const dry = injectPatch(pod, 'floodgate-injector-dryrun', d.settings.sidecar);
      if (!dry.inject) return skip(dry.reason, true);
      const secret = r.dryRun ? 'floodgate-injector-dryrun' : await createTokenSecret(ns, pod);
      const result = injectPatch(pod, secret, d.settings.sidecar);
      if (!result.inject) return skip(result.reason, true);
      d.log('info', 'sidecar injected', { namespace: ns, pod: pod.metadata?.name ?? `${pod.metadata?.generateName ?? ''}*`, tokenSecret: secret, dryRun: !!r.dryRun });
      return { allowed: true, patch: result.patch, warnings: result.warnings.map((w) => `floodgate: ${w}`) };
    } catch (e) {
      // Fail open: a pod without chaos is better than a pod that cannot start.
      d.log('warn', 'pod admitted without sidecar', { namespace: ns, error: (e as Error).message });
      return { allowed: true, warnings: [`floodgate: sidecar not injected: ${(e as Error).message}`] };
    }
  }

  async function createTokenSecret(ns: string, pod: Pod): Promise<string> {
    const created = await d.kube.request('POST', `/api/v1/namespaces/${encodeURIComponent(ns)}/secrets`, {
      body: {
        apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
        metadata: {
          generateName: 'floodgate-injector-',
          labels: { [TOKEN_SECRET_LABEL]: 'true', 'app.kubernetes.io/managed-by': 'floodgate-operator' },
          annotations: { 'floodgate.io/pod': pod.metadata?.name ?? `${pod.metadata?.generateName ?? ''}*` },
          // Until the pod exists (tokens.ts then makes the pod its owner): its controller, so a
          // Secret whose pod is never created does not outlive the ReplicaSet or Job.
          ownerReferences: (pod.metadata?.ownerReferences ?? []).filter((r) => r.controller)
            .map(({ apiVersion, kind, name, uid }) => ({ apiVersion, kind, name, uid })),
        },
        data: { [TOKEN_SECRET_KEY]: Buffer.from(randomBytes(32).toString('base64url')).toString('base64') },
      },
    });
    return created.metadata.name;
  }

  async function canDelete(r: AdmissionRequest, ns: string, spec: { target?: { virtualBucket?: string; backendBucket?: string } }): Promise<{ allowed: boolean; user: string; asked: string }> {
    const t = spec.target ?? {};
    const attrs = t.virtualBucket ? { namespace: ns, verb: 'delete', group: 'floodgate.dev', resource: 'virtualbuckets', name: t.virtualBucket }
      : t.backendBucket ? { namespace: ns, verb: 'delete', group: 'floodgate.dev', resource: 'backendbuckets', name: t.backendBucket }
        : { namespace: ns, verb: 'delete', group: '', resource: 'pods' };
    const u = r.userInfo;
    const sar = await d.kube.request<{ status?: { allowed?: boolean } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: u.username, uid: u.uid, groups: u.groups, extra: u.extra, resourceAttributes: attrs } },
    });
    const asked = `delete ${attrs.resource}${'name' in attrs ? ` "${attrs.name}"` : ''}`;
    return { allowed: sar.status?.allowed === true, user: `user "${u.username ?? '?'}"`, asked };
  }

  async function podCounts(ns: string, sel: Selector): Promise<{ total: number; matching: number }> {
    let total = 0;
    let matching = 0;
    let cont: string | undefined;
    for (let page = 0; page < 200; page++) {
      const list = await d.kube.request<KubeList>('GET', `/api/v1/namespaces/${encodeURIComponent(ns)}/pods`, { query: { limit: '500', ...(cont ? { continue: cont } : {}) } });
      for (const p of list.items) {
        // Pods on their way out are not there to be hit.
        if (p.metadata.deletionTimestamp || ['Succeeded', 'Failed'].includes((p.status as { phase?: string } | undefined)?.phase ?? '')) continue;
        total++;
        if (matches(sel, p.metadata.labels)) matching++;
      }
      cont = list.metadata.continue;
      if (!cont) break;
    }
    return { total, matching };
  }

  const specChanged = (r: AdmissionRequest) => r.operation === 'CREATE' || JSON.stringify(r.object?.spec) !== JSON.stringify(r.oldObject?.spec);

  async function validateExperiment(r: AdmissionRequest): Promise<Verdict> {
    const obj = (r.object ?? {}) as unknown as KubeObject<{ target?: { pods?: { selector?: Selector } } }>;
    // Finalizer and annotation updates (the controller's own) and deletions are not re-judged.
    if (!specChanged(r) || obj.metadata?.deletionTimestamp) return { allowed: true };
    const ns = r.namespace ?? '';
    const spec = obj.spec ?? {};
    const first = refusals({ namespace: ns, spec }, d.settings);
    if (first.length) return deny(r, first);
    const sel = spec.target?.pods?.selector;
    const [pods, access] = await Promise.all([sel ? podCounts(ns, sel) : undefined, canDelete(r, ns, spec as never)]);
    const all = refusals({ namespace: ns, spec, pods, access }, d.settings);
    return all.length ? deny(r, all) : { allowed: true };
  }

  function deny(r: AdmissionRequest, reasons: string[]): Verdict {
    d.log('info', 'FaultExperiment refused', { namespace: r.namespace, name: r.name, user: r.userInfo.username, reasons });
    return { allowed: false, code: 422, reason: 'Invalid', message: `FaultExperiment ${r.namespace}/${r.name ?? ''} refused: ${reasons.join('; ')}` };
  }

  async function mutateExperiment(r: AdmissionRequest): Promise<Verdict> {
    const obj = (r.object ?? {}) as unknown as KubeObject;
    const old = r.oldObject as unknown as KubeObject | undefined;
    const ann = obj.metadata?.annotations ?? {};
    let want: Record<string, string>;
    if (r.operation === 'CREATE') {
      const access = await canDelete(r, r.namespace ?? '', (obj.spec ?? {}) as never).catch(() => undefined);
      want = { [CREATED_BY_ANNOTATION]: r.userInfo.username ?? '', [CREATOR_CAN_DELETE_PODS_ANNOTATION]: access ? String(access.allowed) : 'unknown' };
    } else {
      // Nobody rewrites history: the values written at creation are put back.
      const o = old?.metadata?.annotations ?? {};
      want = Object.fromEntries([CREATED_BY_ANNOTATION, CREATOR_CAN_DELETE_PODS_ANNOTATION].filter((k) => o[k] !== undefined).map((k) => [k, o[k]!]));
    }
    const ops = Object.entries(want).filter(([k, v]) => ann[k] !== v)
      .map(([k, v]) => ({ op: 'add', path: `/metadata/annotations/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`, value: v }));
    if (!ops.length) return { allowed: true };
    return { allowed: true, patch: obj.metadata?.annotations ? ops : [{ op: 'add', path: '/metadata/annotations', value: { ...want } }] };
  }

  return { '/mutate/pods': mutatePod, '/mutate/faultexperiments': mutateExperiment, '/validate/faultexperiments': validateExperiment };
}

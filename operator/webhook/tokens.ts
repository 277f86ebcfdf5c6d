// Token Secrets after admission. The webhook creates one per pod before the pod exists (it has
// no uid yet), owned by the pod's controller (ReplicaSet, Job…) when it has one, so a Secret whose
// pod is never created (refused by a later admission step) goes away with that controller. Once
// the pod appears its Secret is owned by the pod alone, so the garbage collector removes it with
// the pod. No delete permission on Secrets is needed for either.
import { isNotFound, type Kube } from '../kube/api.ts';
import { startInformer, type Informer } from '../kube/informer.ts';
import type { KubeObject } from '../kube/types.ts';
import { INJECT_LABEL, INJECTED_ANNOTATION, TOKEN_SECRET_ANNOTATION, TOKEN_SECRET_LABEL } from '../injection-contract.ts';

type Log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

const POD = { group: '', version: 'v1', plural: 'pods', kind: 'Pod' } as const;

export interface TokenJanitor {
  readonly pods: Informer;
  stop(): void;
}

export function startTokenJanitor(kube: Kube, o: { log: Log; resyncMs?: number }): TokenJanitor {
  const adopted = new Set<string>();                 // pod uids whose Secret is owned by them
  const secretPath = (ns: string, name: string) => `/api/v1/namespaces/${encodeURIComponent(ns)}/secrets/${encodeURIComponent(name)}`;

  async function adopt(pod: KubeObject): Promise<void> {
    const m = pod.metadata;
    const name = m.annotations?.[TOKEN_SECRET_ANNOTATION];
    if (m.annotations?.[INJECTED_ANNOTATION] !== 'true' || !name || !m.uid || m.deletionTimestamp || adopted.has(m.uid)) return;
    try {
      const s = await kube.request('GET', secretPath(m.namespace!, name));
      if (s.metadata.labels?.[TOKEN_SECRET_LABEL] !== 'true') return;   // not ours: never touched
      const owners = s.metadata.ownerReferences ?? [];
      if (owners.length !== 1 || owners[0]!.uid !== m.uid) {
        // The resourceVersion makes it a compare-and-swap; a conflict is retried on the next event.
        await kube.request('PATCH', secretPath(m.namespace!, name), {
          contentType: 'application/merge-patch+json',
          body: { metadata: { resourceVersion: s.metadata.resourceVersion, ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: m.name, uid: m.uid }] } },
        });
        o.log('debug', 'token Secret owned by its pod', { namespace: m.namespace, secret: name, pod: m.name });
      }
      adopted.add(m.uid);
    } catch (e) {
      if (!isNotFound(e)) o.log('warn', 'token Secret not adopted (retried on the next pod event or resync)', { namespace: m.namespace, secret: name, error: (e as Error).message });
    }
  }

  const pods = startInformer(kube, POD, {
    labelSelector: `${INJECT_LABEL}=true`, resyncMs: o.resyncMs ?? 5 * 60_000,
    onChange: (_k, obj, old) => {
      if (obj) void adopt(obj);
      else if (old?.metadata.uid) adopted.delete(old.metadata.uid);
    },
    onError: (err, attempt) => o.log(attempt > 3 ? 'warn' : 'debug', 'pod informer restarting', { error: (err as Error).message }),
  });
  return { pods, stop: () => pods.stop() };
}

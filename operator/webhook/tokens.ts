// Token Secrets after admission. The webhook creates one per pod before the pod exists (so it has
// no uid to own it yet); here each is given an ownerReference to its pod once the pod appears, so
// the garbage collector removes it with the pod. A Secret whose pod never appeared (refused by a
// later admission step, a failed create) is deleted after a grace period.
import { isNotFound, type Kube } from '../kube/api.ts';
import { startInformer, type Informer } from '../kube/informer.ts';
import type { KubeObject } from '../kube/types.ts';
import { INJECT_LABEL, INJECTED_ANNOTATION, TOKEN_SECRET_ANNOTATION, TOKEN_SECRET_LABEL } from '../injection-contract.ts';

type Log = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

const POD = { group: '', version: 'v1', plural: 'pods', kind: 'Pod' } as const;

export interface TokenJanitor {
  /** A Secret the webhook just created (ns/name). */
  created(namespace: string, name: string): void;
  readonly pods: Informer;
  stop(): void;
}

export function startTokenJanitor(kube: Kube, o: { log: Log; graceMs?: number; sweepMs?: number; resyncMs?: number }): TokenJanitor {
  const graceMs = o.graceMs ?? 2 * 60_000;
  const pending = new Map<string, number>();        // ns/secret → created at
  const adopted = new Set<string>();                 // pod uids whose Secret is owned
  const secretPath = (ns: string, name: string) => `/api/v1/namespaces/${encodeURIComponent(ns)}/secrets/${encodeURIComponent(name)}`;

  async function adopt(pod: KubeObject): Promise<void> {
    const m = pod.metadata;
    const name = m.annotations?.[TOKEN_SECRET_ANNOTATION];
    if (m.annotations?.[INJECTED_ANNOTATION] !== 'true' || !name || !m.uid || adopted.has(m.uid)) return;
    pending.delete(`${m.namespace}/${name}`);
    try {
      const s = await kube.request('GET', secretPath(m.namespace!, name));
      if (s.metadata.labels?.[TOKEN_SECRET_LABEL] !== 'true') return;   // not ours: never touched
      if (!s.metadata.ownerReferences?.some((r) => r.uid === m.uid)) {
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

  async function sweep(): Promise<void> {
    if (!pods.synced) return;
    const claimed = new Set(pods.list().map((p) => `${p.metadata.namespace}/${p.metadata.annotations?.[TOKEN_SECRET_ANNOTATION]}`));
    for (const [key, at] of pending) {
      if (claimed.has(key)) { pending.delete(key); continue; }
      if (Date.now() - at < graceMs) continue;
      pending.delete(key);
      const [ns, name] = key.split('/') as [string, string];
      try {
        const s = await kube.request('GET', secretPath(ns, name));
        if (s.metadata.labels?.[TOKEN_SECRET_LABEL] !== 'true' || s.metadata.ownerReferences?.length) continue;
        await kube.request('DELETE', secretPath(ns, name), { body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: s.metadata.uid } } });
        o.log('info', 'orphaned token Secret deleted (its pod was never created)', { namespace: ns, secret: name });
      } catch (e) {
        if (!isNotFound(e)) o.log('warn', 'orphaned token Secret not deleted', { namespace: ns, secret: name, error: (e as Error).message });
      }
    }
  }
  const timer = setInterval(() => void sweep(), o.sweepMs ?? 30_000);
  timer.unref();

  return {
    created: (ns, name) => { pending.set(`${ns}/${name}`, Date.now()); },
    pods,
    stop: () => { clearInterval(timer); pods.stop(); },
  };
}

// A list+watch cache that survives: the watch resumes from the last resourceVersion, a 410 Gone
// relists, any other failure (API server restart, dropped stream, bad response) retries with
// capped exponential backoff, and a full relist runs every `resyncMs` even when the watch looks
// healthy (a half-open stream never stalls us for longer than that). Every object seen on a
// relist is reported again, so reconcilers get a periodic level-triggered nudge.
import { setTimeout as sleep } from 'node:timers/promises';
import { isNotFound, pathOf, type Kube } from './api.ts';
import { keyOf, type KubeList, type KubeObject, type ResourceType } from './types.ts';

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  resyncMs?: number;
  /** Longest a single watch request stays open (the server ends it, we start another). */
  watchSeconds?: number;
  backoff?: { initialMs: number; maxMs: number };
  onChange(key: string, obj: KubeObject | undefined, old: KubeObject | undefined): void;
  onError?(err: unknown, attempt: number): void;
}

export interface Informer {
  readonly type: ResourceType;
  get(key: string): KubeObject | undefined;
  list(namespace?: string): KubeObject[];
  /** True once the first list has landed. */
  readonly synced: boolean;
  /** Relists so far (the first included); for metrics and tests. */
  readonly relists: number;
  stop(): void;
}

function strip(o: KubeObject): KubeObject {
  if (o.metadata.managedFields) delete o.metadata.managedFields;
  return o;
}

export function startInformer(kube: Kube, type: ResourceType, opts: InformerOptions): Informer {
  const cache = new Map<string, KubeObject>();
  const stopper = new AbortController();
  const resyncMs = opts.resyncMs ?? 10 * 60_000;
  const watchSeconds = opts.watchSeconds ?? 240;
  const { initialMs, maxMs } = opts.backoff ?? { initialMs: 500, maxMs: 30_000 };
  const query: Record<string, string> = opts.labelSelector ? { labelSelector: opts.labelSelector } : {};
  const path = pathOf(type, opts.namespace);
  let synced = false;
  let relists = 0;

  function put(o: KubeObject): void {
    const key = keyOf(o);
    const old = cache.get(key);
    cache.set(key, strip(o));
    opts.onChange(key, o, old);
  }

  function remove(key: string): void {
    const old = cache.get(key);
    if (!old) return;
    cache.delete(key);
    opts.onChange(key, undefined, old);
  }

  async function relist(): Promise<string> {
    const items: KubeObject[] = [];
    let cont: string | undefined;
    let rv = '';
    for (let page = 0; page < 10_000; page++) {
      const list = await kube.request<KubeList>('GET', path, { query: { ...query, limit: '500', ...(cont ? { continue: cont } : {}) }, signal: stopper.signal });
      items.push(...list.items);
      rv = list.metadata.resourceVersion ?? rv;
      cont = list.metadata.continue;
      if (!cont) break;
    }
    const seen = new Set<string>();
    for (const o of items) {
      seen.add(keyOf(o));
      put(o);
    }
    for (const key of [...cache.keys()]) if (!seen.has(key)) remove(key);
    relists++;
    synced = true;
    return rv;
  }

  /** Watches until the resync deadline; returns false when the resourceVersion expired (410). */
  async function watchUntil(rv: string, deadline: number): Promise<boolean> {
    let version = rv;
    while (!stopper.signal.aborted && Date.now() < deadline) {
      const seconds = Math.max(1, Math.min(watchSeconds, Math.ceil((deadline - Date.now()) / 1000)));
      let gone = false;
      // Our own inactivity bound: the server ends the watch after `seconds`; a stream silent much
      // longer than that is dead.
      const timeout = AbortSignal.timeout((seconds + 30) * 1000);
      await kube.watch(path, { ...query, resourceVersion: version, allowWatchBookmarks: 'true', timeoutSeconds: String(seconds) }, (e) => {
        if (e.type === 'ERROR') {
          if (e.object.code === 410) gone = true;
          else throw new Error(`watch ${type.plural}: ${e.object.message ?? 'error event'}`);
          return;
        }
        version = e.object.metadata?.resourceVersion ?? version;
        if (e.type === 'BOOKMARK') return;
        if (e.type === 'DELETED') remove(keyOf(e.object));
        else put(e.object);
      }, AbortSignal.any([stopper.signal, timeout]));
      if (gone) return false;
    }
    return true;
  }

  void (async () => {
    let attempt = 0;
    while (!stopper.signal.aborted) {
      try {
        const rv = await relist();
        attempt = 0;
        await watchUntil(rv, Date.now() + resyncMs);
      } catch (err) {
        if (stopper.signal.aborted) break;
        attempt++;
        opts.onError?.(err, attempt);
        // A missing resource type (CRD not installed yet) is retried at the slow end.
        const base = isNotFound(err) ? maxMs : Math.min(maxMs, initialMs * 2 ** (attempt - 1));
        await sleep(base * (0.8 + Math.random() * 0.4), undefined, { signal: stopper.signal }).catch(() => {});
      }
    }
  })();

  return {
    type,
    get: (key) => cache.get(key),
    list: (namespace) => [...cache.values()].filter((o) => namespace === undefined || o.metadata.namespace === namespace),
    get synced() { return synced; },
    get relists() { return relists; },
    stop: () => stopper.abort(),
  };
}

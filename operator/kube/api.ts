// A thin Kubernetes REST client over the kubeconfig's authentication (client-node's KubeConfig
// and undici's fetch). Thin on purpose: every write states its content type (client-node 2.x
// defaults patches to JSON-patch), lists strip managedFields, and watches are plain
// line-delimited streams whose lifetime the informer controls.
import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { fetch, type Dispatcher } from 'undici';
import { scopeChildSpan } from '../../proxy/observability/request-scope.ts';
import { endSpan, SpanKind } from '../../proxy/observability/tracing.ts';
import type { KubeObject, ResourceType } from './types.ts';

export const FIELD_MANAGER = 'floodgate-operator';
const DISPATCHER_MAX_AGE_MS = 5 * 60_000;

export class KubeError extends Error {
  override name = 'KubeError';
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}

export const isNotFound = (e: unknown) => e instanceof KubeError && e.status === 404;
export const isConflict = (e: unknown) => e instanceof KubeError && e.status === 409;

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: KubeObject & { code?: number; message?: string };
}

export interface Kube {
  server: string;
  request<T = KubeObject>(method: string, path: string, o?: { body?: unknown; contentType?: string; query?: Record<string, string>; signal?: AbortSignal }): Promise<T>;
  watch(path: string, query: Record<string, string>, onEvent: (e: WatchEvent) => void, signal: AbortSignal): Promise<void>;
}

export function pathOf(t: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  const base = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
  return [base, namespace ? `namespaces/${encodeURIComponent(namespace)}` : '', t.plural, name ? encodeURIComponent(name) : '', subresource ?? '']
    .filter(Boolean).join('/').replace(/^\/?/, '/').replace(/\/+/g, '/');
}

/** Loads a kubeconfig file, or the in-cluster/default configuration when no path is given. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

export function createKube(kc: KubeConfig, opts: { requestTimeoutMs?: number } = {}): Kube {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const server = cluster.server.replace(/\/$/, '');
  const timeoutMs = opts.requestTimeoutMs ?? 30_000;

  // client-node builds a new undici Agent on every applySecurityAuthentication: used as is, each
  // request opened its own TLS connection and left it idle (600+ sockets and ~600 MiB RSS for
  // 1,100 resources). One dispatcher is shared instead, replaced every few minutes so rotated
  // client certificates (exec plugins, mounted files) are picked up; headers stay per request.
  let shared: { dispatcher: Dispatcher; at: number } | undefined;
  async function authed(url: URL): Promise<{ headers: Record<string, string>; dispatcher?: Dispatcher }> {
    const ctx = new RequestContext(url.toString(), HttpMethod.GET);
    await kc.applySecurityAuthentication(ctx);
    const fresh = ctx.getDispatcher() as Dispatcher | undefined;
    if (fresh && (!shared || Date.now() - shared.at > DISPATCHER_MAX_AGE_MS)) {
      const old = shared?.dispatcher;
      shared = { dispatcher: fresh, at: Date.now() };
      // Later: a request may have taken it just now. close() lets in-flight requests (watches) finish.
      if (old) setTimeout(() => void old.close().catch(() => {}), 60_000).unref();
    }
    return { headers: { ...ctx.getHeaders() }, dispatcher: fresh ? shared!.dispatcher : undefined };
  }

  async function failure(res: { status: number; text(): Promise<string> }): Promise<KubeError> {
    const text = await res.text();
    try {
      const st = JSON.parse(text) as { reason?: string; message?: string };
      return new KubeError(res.status, st.reason ?? 'Unknown', st.message ?? text);
    } catch {
      return new KubeError(res.status, 'Unknown', text.slice(0, 500));
    }
  }

  return {
    server,
    async request<T>(method: string, path: string, o: { body?: unknown; contentType?: string; query?: Record<string, string>; signal?: AbortSignal } = {}): Promise<T> {
      const url = new URL(server + path);
      for (const [k, v] of Object.entries(o.query ?? {})) url.searchParams.set(k, v);
      const { headers, dispatcher } = await authed(url);
      if (o.body !== undefined) headers['content-type'] = o.contentType ?? 'application/json';
      headers.accept = 'application/json';
      const signal = o.signal ? AbortSignal.any([o.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
      // Inside a traced reconcile, each API call is a child span of it.
      const span = scopeChildSpan(`kube ${method}`, { 'http.request.method': method, 'url.path': path }, SpanKind.CLIENT);
      const res = await fetch(url, { method, headers, dispatcher, signal, body: o.body === undefined ? undefined : JSON.stringify(o.body) })
        .catch((e: unknown) => { endSpan(span, undefined, e); throw e; });
      endSpan(span, res.status);
      if (res.status >= 300) throw await failure(res);
      return (await res.json()) as T;
    },
    async watch(path, query, onEvent, signal) {
      const url = new URL(server + path);
      for (const [k, v] of Object.entries({ ...query, watch: 'true' })) url.searchParams.set(k, v);
      const { headers, dispatcher } = await authed(url);
      const res = await fetch(url, { headers: { ...headers, accept: 'application/json' }, dispatcher, signal });
      if (res.status !== 200 || !res.body) throw await failure(res);
      const lines = createInterface({ input: Readable.fromWeb(res.body as never), crlfDelay: Infinity });
      for await (const line of lines) {
        if (line.trim()) onEvent(JSON.parse(line) as WatchEvent);
      }
    },
  };
}

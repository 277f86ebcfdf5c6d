// `floodgate injector`: a reverse proxy on loopback in front of an upstream S3 endpoint. The app
// points AWS_ENDPOINT_URL_S3 here; with no active fault every request passes through untouched
// and streamed. Lifecycle of one request:
//   control route? → classify (operation, bucket, key) → request log line (written at close) →
//   engine.onRequest (latency, terminal faults) → forward upstream → wrapBody (body faults) → client
// Forwarding with no fault on the request goes over the relay pool for bodiless GET/HEAD and for
// large PUT bodies taken off node's parser (sidecar/forward.ts), over undici otherwise.
// The control API is served under /_floodgate/ on this listener, and also on a separate one
// (controlHost/controlPort) so an operator can reach it while S3 stays on 127.0.0.1.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Pool } from 'undici';
import type { FaultEngine } from './faults/engine.ts';
import type { Effects, FaultRegistry } from './faults/registry.ts';
import type { FaultSpec } from './faults/model.ts';
import { createFaultService } from './service.ts';
import { sendErrorFault } from './faults/s3/error.ts';
import { isS3Error } from '../proxy/s3/errors.ts';
import { classify } from './sidecar/operation.ts';
import { forward } from './sidecar/forward.ts';
import { createRelayPool } from '../proxy/relay/client.ts';
import { requestScope } from '../proxy/observability/request-scope.ts';
import { signedHeaderNames } from '../proxy/observability/trace-context.ts';
import { logRequestLine } from '../proxy/observability/request-line.ts';
import { newRequestId } from '../proxy/observability/request-id.ts';
import { endSpan, SpanKind, startChildSpan, startServerSpan, traceHeaders, tracing, type Span } from '../proxy/observability/tracing.ts';

export interface SidecarOptions {
  host: string;
  port: number;
  /** Upstream S3 origin, e.g. http://gateway.ns.svc:9000 */
  upstream: string;
  token: string;
  controlHost?: string;
  controlPort?: number;
  /** Base domains for virtual-host style requests (bucket.<domain>), used only for matching. */
  domains?: readonly string[];
  defaultDurationMs?: number;
  maxDurationMs?: number;
  connections?: number;
  effects?: Effects;
  checkCaps?: (spec: FaultSpec) => string | undefined;
  resourceStatus?: (id: string) => unknown;
  onEvent?: (msg: string, fields: Record<string, unknown>) => void;
}

export interface Sidecar {
  url: string;
  port: number;
  controlUrl: string;
  engine: FaultEngine;
  registry: FaultRegistry;
  close(): Promise<void>;
}

async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  return (server.address() as AddressInfo).port;
}

function trackSockets(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });
  return sockets;
}

export async function startSidecar(o: SidecarOptions): Promise<Sidecar> {
  const upstream = new URL(o.upstream);
  if (upstream.protocol !== 'http:' && upstream.protocol !== 'https:') throw new Error(`upstream must be http(s)://host:port, got ${o.upstream}`);
  const service = createFaultService({
    token: o.token, resources: true, defaultDurationMs: o.defaultDurationMs, maxDurationMs: o.maxDurationMs,
    effects: o.effects, checkCaps: o.checkCaps, resourceStatus: o.resourceStatus, onEvent: o.onEvent,
  });
  const { engine, registry, routes: control } = service;
  const pool = new Pool(upstream.origin, { connections: o.connections ?? 256, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
  const relay = upstream.protocol === 'http:'
    ? createRelayPool(upstream.origin, { connectTimeoutMs: 10_000, headersTimeoutMs: 0, bodyTimeoutMs: 0, keepAliveMs: 30_000, maxIdle: o.connections ?? 256 })
    : undefined;
  const upstreams = { pool, relay };
  const event = o.onEvent ?? (() => {});
  const domains = o.domains ?? [];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (control(req, res)) return;
    if (tracing()) return traced(req, res);
    const requestId = newRequestId();
    const c = classify(req.method ?? 'GET', req.url ?? '/', req.headers, domains);
    // Every request gets a log line, as on the gateway, with or without a fault held.
    logRequestLine(req, res, { requestId, ...c }, event);
    try {
      // With no fault held at all, nothing is decided: straight to the upstream.
      if (registry.size === 0) return await forward(upstreams, req, res);
      const faults = await engine.onRequest({ req, res, requestId, ...c });
      if (faults?.handled || res.destroyed) return;
      await forward(upstreams, req, res, faults ? { wrapBody: (s, h) => faults.wrapBody(s, h) } : undefined);
    } catch (e) {
      upstreamFailed(res, e, requestId);
    }
  }

  /** The same path with a SERVER span (fault decisions as its events) and a CLIENT span upstream. */
  async function traced(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newRequestId();
    const c = classify(req.method ?? 'GET', req.url ?? '/', req.headers, domains);
    const span = startServerSpan(`injector ${c.operation}`, req.headers, { 'http.request.method': req.method ?? 'GET', 'url.path': (req.url ?? '/').split('?')[0]!, 'floodgate.request_id': requestId, 'rpc.method': c.operation });
    res.once('close', () => endSpan(span, res.statusCode));
    requestScope.enterWith({ requestId, span });
    logRequestLine(req, res, { requestId, ...c, traceId: span?.spanContext().traceId }, event);
    let upstreamSpan: Span | undefined;
    try {
      const faults = registry.size === 0 ? undefined : await engine.onRequest({ req, res, requestId, ...c });
      if (faults?.handled || res.destroyed) return;
      upstreamSpan = startChildSpan(`upstream ${req.method ?? 'GET'}`, span, { 'server.address': upstream.host }, SpanKind.CLIENT);
      res.once('close', () => endSpan(upstreamSpan, res.statusCode));
      // A client that signed its traceparent keeps it (rewriting it would break the signature).
      const signed = signedHeaderNames(req.headers, req.url ?? '/');
      const replaceHeaders = signed.has('traceparent') || signed.has('tracestate') ? undefined : traceHeaders(upstreamSpan);
      await forward(upstreams, req, res, { replaceHeaders, ...(faults ? { wrapBody: (s, h) => faults.wrapBody(s, h) } : {}) });
    } catch (e) {
      upstreamSpan?.recordException(e as Error);
      upstreamFailed(res, e, requestId);
    }
  }

  function upstreamFailed(res: ServerResponse, e: unknown, requestId: string): void {
    if (res.headersSent || res.destroyed) { res.destroy(); return; }
    // The client's own body failed (a raw PUT body cut short): its S3 error, not the upstream's.
    if (isS3Error(e)) { sendErrorFault(res, e, requestId); return; }
    event('upstream error', { requestId, error: (e as Error).message });
    sendErrorFault(res, { code: 'BadGateway', status: 502, message: `The injector could not reach the upstream S3 endpoint: ${(e as Error).message}` }, requestId);
  }

  const server = createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 65_000 }, (req, res) => void handle(req, res));
  const sockets = trackSockets(server);
  const port = await listen(server, o.host, o.port);
  let controlServer: Server | undefined;
  let controlPort = port;
  let controlSockets = new Set<Socket>();
  if (o.controlPort !== undefined) {
    controlServer = createServer((req, res) => {
      if (!control(req, res)) res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found","status":404}');
    });
    controlSockets = trackSockets(controlServer);
    controlPort = await listen(controlServer, o.controlHost ?? o.host, o.controlPort);
  }
  const fmt = (h: string, p: number) => `http://${h.includes(':') ? `[${h}]` : h}:${p}`;

  return {
    url: fmt(o.host, port),
    port,
    controlUrl: controlServer ? fmt(o.controlHost ?? o.host, controlPort) : fmt(o.host, port),
    engine,
    registry,
    async close() {
      await service.close();
      const closing = [server, controlServer].filter((s): s is Server => s !== undefined).map((s) => new Promise<void>((r) => { s.close(() => r()); s.closeIdleConnections(); }));
      setTimeout(() => { for (const s of [...sockets, ...controlSockets]) s.destroy(); }, 1000).unref();
      await Promise.all(closing);
      await Promise.all([pool.close(), relay?.close()]);
    },
  };
}

// The gateway's HTTP server. Request lifecycle, in order:
//   accept → requestId → health/metrics/status → extra routes (control APIs) → parseTarget →
//   resolveOperation → verifyRequest → faults (when an engine is wired) → handler →
//   (any error) sendError → finish: metrics + log
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { verifyRequest, type KeyLookup } from './auth/sigv4.ts';
import { S3Error, isS3Error } from './s3/errors.ts';
import { sendError } from './s3/respond.ts';
import { bucketFromHost, param, parseTarget, resolveOperation } from './s3/route.ts';
import { HANDLERS } from './s3/dispatch.ts';
import { refuseUnsupportedFeatures } from './s3/features.ts';
import { settled, takeTurn } from './connection-order.ts';
import { addCorsHeaders, answerPreflight, corsStoreOf } from './s3/cors.ts';
import { isPostUpload, postUpload } from './s3/post-upload.ts';
import type { RedirectLookup, S3Context } from './s3/handlers/context.ts';
import type { FaultEngine, RequestFaults } from '../injector/faults/engine.ts';
import { PER_REQUEST_KINDS } from '../injector/faults/kinds.ts';
import type { ObjectStore } from './store/types.ts';
import { createMetrics, type GatewayMetrics } from './observability/metrics.ts';
import { observeRequest, traceStage } from './observability/request-record.ts';
import { errorFields, type Logger } from './observability/log.ts';
import { newRequestId } from './observability/request-id.ts';

export interface GatewayOptions {
  store: ObjectStore;
  keys: KeyLookup;
  host: string;
  port: number;
  /** Base domains for virtual-host addressing: `bucket.<domain>`. */
  domains: readonly string[];
  region: string;
  /** A request body that stops arriving for this long gets RequestTimeout. */
  idleTimeoutMs: number;
  logger: Logger;
  /** Extra routes served before S3 (control APIs, /status); return true when handled. */
  routes?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Readiness beyond "listening" (e.g. the index is open, the store can write), with the reason when not. */
  ready?: () => boolean | { ok: boolean; reason?: string };
  /** Served as JSON on anonymous GET /status, like /healthz (the virtual store's status()). */
  status?: () => unknown;
  /** Redirect mode: GET/HEAD of an object answered 307 to the URL this returns. */
  redirect?: RedirectLookup;
  /** The fault engine, consulted for every authenticated S3 request (docs/faults.md). */
  faults?: GatewayFaultHooks;
}

export interface GatewayFaultHooks {
  engine: FaultEngine;
  /** The backend a request goes to, for faults matched by backend; asked only when one is active. */
  locate?: (bucket: string, key: string, uploadId: string | undefined) => Promise<string | undefined>;
}

export interface Gateway {
  url: string;
  port: number;
  server: Server;
  metrics: GatewayMetrics;
  /**
   * Drains: stops accepting connections, lets in-flight requests finish for up to `graceMs`
   * (keep-alive connections close as their response ends), then cuts what is left.
   */
  close(graceMs?: number): Promise<{ cut: number }>;
}

/** `Expect: 100-continue` is honoured and an empty Expect ignored; any other expectation is refused. */
function checkExpectation(req: IncomingMessage): void {
  const expect = String(req.headers.expect ?? '').trim();
  if (expect !== '' && !/^100-continue$/i.test(expect)) {
    throw new S3Error('ExpectationFailed', `The expectation "${expect}" is not supported; only 100-continue is.`, { details: { Expect: expect } });
  }
}

/** A refused small body (an oversized XML document) is read and discarded so the client sees the error. */
function drainable(err: S3Error): boolean {
  return (err as { drainBody?: boolean }).drainBody === true;
}

function isAnonymousGet(req: IncomingMessage): boolean {
  return req.method === 'GET' && req.headers.authorization === undefined && !/[?&](X-Amz-)?Signature=/i.test(req.url ?? '');
}

/** Zero active faults costs one registry walk; the backend is looked up only for faults that match on it. */
async function requestFaults(hooks: GatewayFaultHooks, ctx: S3Context): Promise<RequestFaults | undefined> {
  if (hooks.engine.registry.size === 0) return undefined;
  const active = hooks.engine.registry.active();
  const { bucket, key } = ctx.target;
  let backend: string | undefined;
  if (hooks.locate && bucket && key !== undefined && active.some((a) => PER_REQUEST_KINDS.has(a.spec.kind) && a.spec.match?.backends)) {
    backend = await hooks.locate(bucket, key, param(ctx.target, 'uploadId')).catch(() => undefined);
  }
  return hooks.engine.onRequest({ req: ctx.req, res: ctx.res, operation: ctx.op, bucket, key, backend, requestId: ctx.requestId });
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const metrics = createMetrics();
  const sockets = new Set<Socket>();
  const inFlight = new Set<ServerResponse>();
  const cors = corsStoreOf(opts.store);
  let closing = false;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    inFlight.add(res);
    res.once('close', () => {
      inFlight.delete(res);
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
    if (closing) res.setHeader('connection', 'close');
    const turn = takeTurn(req, res);
    if (turn) await turn;
    const requestId = newRequestId();
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', requestId);
    res.setHeader('server', 'Floodgate');
    const rawUrl = req.url ?? '/';
    const path = rawUrl.split('?')[0]!;

    if (isAnonymousGet(req) && serveHealth(path, res)) return;
    if (opts.routes?.(req, res)) return;
    // A CORS preflight carries no signature (browsers send none): answered from the bucket's rules.
    if (req.method === 'OPTIONS') return preflight(req, res, rawUrl, path, requestId);

    const record = observeRequest(req, res, { metrics, logger: opts.logger, requestId, domains: opts.domains });

    let ctx: S3Context | undefined;
    try {
      // HTTP/0.9 has no headers to sign or to carry an answer's status: refuse it outright.
      if (req.httpVersionMajor < 1) throw new S3Error('InvalidRequest', 'HTTP/1.0 or later is required.');
      // A browser POST upload is signed inside the form (its policy), not in the headers.
      if (req.method === 'POST' && /^multipart\/form-data/i.test(String(req.headers['content-type'] ?? ''))) {
        const t = parseTarget(rawUrl, req.headers.host, opts.domains);
        if (isPostUpload(req, t.bucket, t.key, t.query)) {
          record.operation = 'PutObject';
          record.bucket = t.bucket;
          await postUpload(req, res, { store: opts.store, keys: opts.keys, idleTimeoutMs: opts.idleTimeoutMs, bucket: t.bucket! });
          return;
        }
      }
      // Authentication comes first: an anonymous request learns nothing, not even which
      // sub-resources or operations exist (AWS answers it AccessDenied).
      const auth = traceStage(record, 'auth', () => verifyRequest({
        method: req.method ?? 'GET', rawUrl, headers: req.headers, headersDistinct: req.headersDistinct, hostBucket: bucketFromHost(req.headers.host, opts.domains),
      }, opts.keys));
      const target = parseTarget(rawUrl, req.headers.host, opts.domains);
      record.bucket = target.bucket;
      record.key = target.key;
      const op = resolveOperation(req.method ?? 'GET', target, req.headers);
      record.operation = op;
      opts.logger.log('debug', 'authenticated', { requestId, operation: op, accessKeyId: auth.accessKeyId, presigned: auth.presigned, payload: auth.payloadHash });
      checkExpectation(req);
      refuseUnsupportedFeatures(op, req.headers);
      if (req.headers.origin !== undefined && cors) {
        req.pause();
        await addCorsHeaders(cors, target.bucket, req, res);
      }
      ctx = { req, res, requestId, target, op, auth, store: opts.store, region: opts.region, idleTimeoutMs: opts.idleTimeoutMs, bodyStarted: false, redirect: opts.redirect };
      if (opts.faults && opts.faults.engine.registry.size > 0) {
        // The byte counter above set the body flowing: hold it while faults are decided (and
        // delayed), or its first chunks would reach only the counter. The handler resumes it.
        req.pause();
        ctx.faults = await requestFaults(opts.faults, ctx);
        if (ctx.faults?.handled || res.destroyed) return;
      }
      await HANDLERS[op](ctx);
    } catch (e) {
      const err = isS3Error(e) ? e : new S3Error('InternalError', undefined, { cause: e });
      record.errorCode = err.code;
      if (!isS3Error(e)) opts.logger.log('error', 'internal error', { requestId, operation: record.operation, ...errorFields(e) });
      if (res.destroyed) return;
      sendError(res, err, path, requestId, !req.complete && !drainable(err));
    }
  }

  async function preflight(req: IncomingMessage, res: ServerResponse, rawUrl: string, path: string, requestId: string): Promise<void> {
    try {
      const target = parseTarget(rawUrl, req.headers.host, opts.domains);
      const headers = await answerPreflight(cors, target.bucket, req);
      res.writeHead(200, { ...headers, 'content-length': 0 }).end();
    } catch (e) {
      sendError(res, isS3Error(e) ? e : new S3Error('InternalError', undefined, { cause: e }), path, requestId, !req.complete);
    }
  }

  function serveHealth(path: string, res: ServerResponse): boolean {
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return true;
    }
    if (path === '/readyz') {
      const r = opts.ready ? opts.ready() : true;
      const ok = typeof r === 'boolean' ? r : r.ok;
      const why = typeof r === 'boolean' || !r.reason ? '' : `: ${r.reason}`;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : `not ready${why}\n`);
      return true;
    }
    if (path === '/status' && opts.status) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(opts.status()));
      return true;
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return true;
    }
    return false;
  }

  // Node's default 300 s requestTimeout would cut off long uploads; idle bodies are handled per
  // request instead. keepAliveTimeout above the SDKs' idle reuse window avoids reset races.
  const server = createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 65_000 }, (req, res) => void handle(req, res));
  server.on('checkContinue', (req, res) => void handle(req, res));
  // Any other Expect value (even an empty one) lands here instead of Node's bare 417.
  server.on('checkExpectation', (req, res) => void handle(req, res));
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // A malformed request later in a pipeline must not cut off the answers to the ones before it.
    void settled(socket).then(() => answerClientError(err, socket));
  });
  function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    if (!socket.writable) return void socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    const requestId = newRequestId();
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${err.code === 'HPE_HEADER_OVERFLOW' ? 'RequestHeaderSectionTooLarge' : 'BadRequest'}</Code><Message>Malformed HTTP request</Message><RequestId>${requestId}</RequestId></Error>`;
    socket.end(`HTTP/1.1 ${status}\r\nx-amz-request-id: ${requestId}\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}`,
    port,
    server,
    metrics,
    async close(graceMs = 2000) {
      closing = true;
      for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const drained = new Promise<void>((resolve) => {
        const check = () => (inFlight.size === 0 ? resolve() : setTimeout(check, 50).unref());
        check();
      });
      await Promise.race([drained, new Promise<void>((resolve) => { timer = setTimeout(resolve, graceMs); })]);
      clearTimeout(timer);
      const cut = inFlight.size;
      for (const s of sockets) s.destroy();
      await closed;
      return { cut };
    },
  };
}

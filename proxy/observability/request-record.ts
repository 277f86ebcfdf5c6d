// What one S3 request did, for its metrics and its log line. The server fills in what it learns
// (operation, bucket, key, error) while serving; the record is written once, when the response
// closes — finished, cut by a fault, or reset by the client.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayMetrics } from './metrics.ts';
import type { Logger } from './log.ts';
import { describeUnresolved } from './operation-label.ts';
import { parseTraceParent } from './trace-context.ts';
import { requestScope, requestScopeWanted } from './request-scope.ts';
import { endSpan, startChildSpan, startServerSpan, type Span } from './tracing.ts';

export interface RequestRecord {
  operation?: string;
  bucket?: string;
  key?: string;
  /** The S3 error code sent, when the server knows it (a HEAD error has no body to read it from). */
  errorCode?: string;
  /** The request's SERVER span, when tracing. */
  span?: Span;
}

export interface ObserveOptions {
  metrics: GatewayMetrics;
  logger: Logger;
  requestId: string;
  domains: readonly string[];
}

/** Body bytes read past node's parser and the request stream (s3/raw-body.ts), by request. */
const rawBytes = new WeakMap<IncomingMessage, (n: number) => void>();

/** Counts `n` body bytes of `req` that the request stream never emitted. */
export function countRawBytes(req: IncomingMessage, n: number): void {
  rawBytes.get(req)?.(n);
}

/** Where countRawBytes() counts `req`'s bytes: the gateway's request record, the sidecar's log line. */
export function onRawBytes(req: IncomingMessage, count: (n: number) => void): void {
  rawBytes.set(req, count);
}

export const ERROR_CODE = /<Code>([A-Za-z0-9.]{1,64})<\/Code>/;

export function observeRequest(req: IncomingMessage, res: ServerResponse, o: ObserveOptions): RequestRecord {
  const started = process.hrtime.bigint();
  const rec: RequestRecord = {};
  rec.span = startServerSpan('S3', req.headers, { 'http.request.method': req.method ?? 'GET', 'url.path': (req.url ?? '/').split('?')[0]!, 'floodgate.request_id': o.requestId });
  const traceId = rec.span?.spanContext().traceId ?? parseTraceParent(req.headers.traceparent)?.traceId;
  if (requestScopeWanted()) requestScope.enterWith({ requestId: o.requestId, traceId, span: rec.span });
  let bytesIn = 0;
  req.on('data', (c: Buffer) => { bytesIn += c.length; });
  onRawBytes(req, (n) => { bytesIn += n; });
  const sent = countBodyBytes(res, (chunk) => {
    if (rec.errorCode === undefined && res.statusCode >= 300) rec.errorCode = ERROR_CODE.exec(chunk)?.[1];
  });
  o.metrics.inFlight.inc();
  res.once('close', () => {
    o.metrics.inFlight.dec();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const unresolved = rec.operation === undefined ? describeUnresolved(req.method ?? 'GET', req.url ?? '/', req.headers, o.domains) : undefined;
    const operation = rec.operation ?? unresolved!.operation;
    const bucket = rec.bucket ?? unresolved?.bucket;
    const key = rec.key ?? unresolved?.key;
    const labels = { operation, bucket: rec.operation !== undefined && rec.bucket !== undefined && rec.errorCode !== 'NoSuchBucket' ? rec.bucket : '' };
    const bytesOut = sent();
    o.metrics.requests.inc({ ...labels, status: String(res.statusCode) });
    if (rec.errorCode !== undefined) o.metrics.errors.inc({ ...labels, code: rec.errorCode });
    o.metrics.duration.observe(labels, seconds);
    o.metrics.bytesIn.observe(labels, bytesIn);
    o.metrics.bytesOut.observe(labels, bytesOut);
    if (rec.span) {
      rec.span.updateName(`S3 ${operation}`);
      rec.span.setAttributes({ 'rpc.system': 'aws-api', 'rpc.method': operation, 'http.request.body.size': bytesIn, 'http.response.body.size': bytesOut });
      if (bucket !== undefined) rec.span.setAttribute('aws.s3.bucket', bucket);
      if (key !== undefined) rec.span.setAttribute('aws.s3.key', key);
      if (rec.errorCode !== undefined) rec.span.setAttribute('aws.s3.error_code', rec.errorCode);
      endSpan(rec.span, res.statusCode);
    }
    o.logger.log('info', 'request', {
      requestId: o.requestId, traceId, operation, method: req.method, bucket, key,
      status: res.statusCode, errorCode: rec.errorCode, bytesIn, bytesOut,
      durationMs: Math.round(seconds * 1e6) / 1e3, complete: res.writableFinished,
      remote: req.socket?.remoteAddress, userAgent: req.headers['user-agent'],
    });
  });
  return rec;
}

/**
 * Counts the body bytes handed to the connection, so a response cut short by a truncation
 * fault or a reset counts what went out, not its Content-Length. `peek` sees the start of the
 * first chunk (where an XML error carries its code). Returns the reader of the count.
 */
export function countBodyBytes(res: ServerResponse, peek: (start: string) => void): () => number {
  let n = 0;
  let first = true;
  const noBody = () => res.req.method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304;
  const count = (chunk: unknown, encoding: unknown) => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function' || res.destroyed || noBody()) return;
    const len = typeof chunk === 'string' ? Buffer.byteLength(chunk, typeof encoding === 'string' ? encoding as BufferEncoding : 'utf8') : (chunk as Uint8Array).byteLength;
    if (first && len > 0) {
      first = false;
      peek(typeof chunk === 'string' ? chunk.slice(0, 512) : Buffer.from((chunk as Uint8Array).buffer, (chunk as Uint8Array).byteOffset, Math.min(len, 512)).toString('latin1'));
    }
    n += len;
  };
  const write = res.write;
  const end = res.end;
  res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
    count(chunk, rest[0]);
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof res.write;
  res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
    count(chunk, rest[0]);
    return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
  } as typeof res.end;
  return () => n;
}

/** Runs one stage of the request (auth, …) as a child span of the request's, when tracing. */
export function traceStage<T>(rec: RequestRecord, name: string, fn: () => T): T {
  const span = startChildSpan(name, rec.span);
  if (!span) return fn();
  try {
    const out = fn();
    span.end();
    return out;
  } catch (e) {
    span.recordException(e as Error);
    endSpan(span, undefined, e);
    throw e;
  }
}

// The request log line of a process that is not the gateway (the sidecar): the same field names
// as the gateway's (request-record.ts), written when the response closes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { countBodyBytes, ERROR_CODE, onRawBytes } from './request-record.ts';
import { parseTraceParent } from './trace-context.ts';

export interface RequestLineFields {
  /** Ours; the line carries the x-amz-request-id the client got (the upstream's, when it answered). */
  requestId: string;
  operation: string;
  bucket?: string;
  key?: string;
  traceId?: string;
}

/**
 * Counts the body bytes that arrive for `req` without reading it: a 'data' listener would set
 * the body flowing before the upstream request is ready to take it (and faults hold it paused),
 * so the count sits where Node's HTTP parser hands each body chunk to the request stream, plus
 * what is read past the parser (a raw PUT body, s3/raw-body.ts).
 */
export function countRequestBytes(req: IncomingMessage): () => number {
  let n = 0;
  onRawBytes(req, (raw) => { n += raw; });
  const push = req.push;
  req.push = function (this: IncomingMessage, chunk: unknown, ...rest: unknown[]) {
    if (chunk !== null && chunk !== undefined) n += typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Uint8Array).byteLength;
    return (push as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof req.push;
  return () => n;
}

/** A header of the answer, whether set with setHeader or passed to writeHead (which the forwarder does). */
function answerHeaders(res: ServerResponse): (name: string) => string | undefined {
  let given: Record<string, unknown> | undefined;
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    const h = args.find((a, i) => i > 0 && typeof a === 'object' && a !== null);
    if (Array.isArray(h)) {
      given = {};
      const flat = (h as unknown[]).flat() as unknown[];
      for (let i = 0; i + 1 < flat.length; i += 2) given[String(flat[i]).toLowerCase()] = flat[i + 1];
    } else if (h) given = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof res.writeHead;
  return (name) => {
    const v = given?.[name] ?? res.getHeader(name);
    const one = Array.isArray(v) ? v[0] : v;
    return one === undefined || one === null ? undefined : String(one);
  };
}

export function logRequestLine(req: IncomingMessage, res: ServerResponse, f: RequestLineFields, log: (msg: string, fields: Record<string, unknown>) => void): void {
  const started = process.hrtime.bigint();
  let errorCode: string | undefined;
  const remote = req.socket?.remoteAddress;
  const received = countRequestBytes(req);
  const header = answerHeaders(res);
  const sent = countBodyBytes(res, (chunk) => {
    if (res.statusCode >= 300) errorCode = ERROR_CODE.exec(chunk)?.[1];
  });
  res.once('close', () => {
    const bytesOut = sent();
    // A forwarded body cut short (a truncate fault) still ends the response: short of its
    // Content-Length, it was not complete.
    const length = header('content-length');
    const bodyless = req.method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304;
    log('request', {
      requestId: header('x-amz-request-id') || f.requestId,
      traceId: f.traceId ?? parseTraceParent(req.headers.traceparent)?.traceId,
      operation: f.operation, method: req.method, bucket: f.bucket, key: f.key, status: res.statusCode, errorCode,
      bytesIn: received(), bytesOut, durationMs: Math.round(Number(process.hrtime.bigint() - started) / 1e3) / 1e3,
      complete: res.writableFinished && (bodyless || length === undefined || Number(length) === bytesOut),
      remote, userAgent: req.headers['user-agent'],
    });
  });
}

// The request log line of a process that is not the gateway (the sidecar): the same field names
// as the gateway's (request-record.ts), written when the response closes. bytesIn is left out:
// counting it would need a 'data' listener, which would set a body flowing before the upstream
// request is ready to take it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { countBodyBytes, ERROR_CODE } from './request-record.ts';
import { parseTraceParent } from './trace-context.ts';

export interface RequestLineFields {
  requestId: string;
  operation: string;
  bucket?: string;
  key?: string;
  traceId?: string;
}

export function logRequestLine(req: IncomingMessage, res: ServerResponse, f: RequestLineFields, log: (msg: string, fields: Record<string, unknown>) => void): void {
  const started = process.hrtime.bigint();
  let errorCode: string | undefined;
  const sent = countBodyBytes(res, (chunk) => {
    if (res.statusCode >= 300) errorCode = ERROR_CODE.exec(chunk)?.[1];
  });
  res.once('close', () => {
    log('request', {
      requestId: f.requestId, traceId: f.traceId ?? parseTraceParent(req.headers.traceparent)?.traceId,
      operation: f.operation, method: req.method, bucket: f.bucket, key: f.key, status: res.statusCode, errorCode,
      bytesOut: sent(), durationMs: Math.round(Number(process.hrtime.bigint() - started) / 1e3) / 1e3,
      complete: res.writableFinished, remote: req.socket?.remoteAddress, userAgent: req.headers['user-agent'],
    });
  });
}

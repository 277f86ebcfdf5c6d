// Calls from the gateway to its remote S3 backends, published on a diagnostics channel: the
// backend client reports each call here, and `--log-level debug` turns them into log lines.
// With no subscriber a call costs one hasSubscribers check.
import { channel } from 'node:diagnostics_channel';
import type { Logger } from './log.ts';
import { requestScope, wantRequestScope } from './request-scope.ts';
import { endSpan, SpanKind, startChildSpan, traceHeaders } from './tracing.ts';

export interface BackendCall {
  backend: string;
  method: string;
  bucket?: string;
  key?: string;
  /** Query parameter names only: values may be upload ids or, on presigned URLs, signatures. */
  query?: string[];
  requestId?: string;
  traceId?: string;
  status?: number;
  durationMs: number;
  error?: string;
}

const calls = channel('floodgate:backend:call');

/**
 * Wraps one upstream request; `send` resolves with its response head. When tracing, the call is
 * a CLIENT span and `headers` (sent, unsigned: SigV4 signs only what it lists) gets its traceparent.
 */
export async function observeBackendCall<T extends { statusCode: number }>(
  call: Omit<BackendCall, 'durationMs' | 'status' | 'error' | 'requestId' | 'traceId'>, headers: Record<string, string>, send: () => Promise<T>,
): Promise<T> {
  const scope = requestScope.getStore();
  const span = startChildSpan(`backend ${call.method}`, scope?.span, {
    'http.request.method': call.method, 'floodgate.backend': call.backend,
    ...(call.bucket !== undefined ? { 'aws.s3.bucket': call.bucket } : {}), ...(call.key !== undefined ? { 'aws.s3.key': call.key } : {}),
  }, SpanKind.CLIENT);
  if (span) Object.assign(headers, traceHeaders(span));
  if (!calls.hasSubscribers) {
    if (!span) return send();
    return send().then((r) => { endSpan(span, r.statusCode); return r; }, (e: unknown) => { endSpan(span, undefined, e); throw e; });
  }
  const started = process.hrtime.bigint();
  const ms = () => Math.round(Number(process.hrtime.bigint() - started) / 1e3) / 1e3;
  try {
    const res = await send();
    endSpan(span, res.statusCode);
    calls.publish({ ...call, requestId: scope?.requestId, traceId: scope?.traceId, status: res.statusCode, durationMs: ms() } satisfies BackendCall);
    return res;
  } catch (e) {
    endSpan(span, undefined, e);
    calls.publish({ ...call, requestId: scope?.requestId, traceId: scope?.traceId, durationMs: ms(), error: e instanceof Error ? e.message : String(e) } satisfies BackendCall);
    throw e;
  }
}

/** Logs every backend call at debug; returns the unsubscribe. */
export function logBackendCalls(logger: Logger): () => void {
  const onCall = (msg: unknown) => {
    const c = msg as BackendCall;
    logger.log('debug', 'backend call', { ...c });
  };
  calls.subscribe(onCall);
  wantRequestScope(true);
  return () => {
    calls.unsubscribe(onCall);
    wantRequestScope(false);
  };
}

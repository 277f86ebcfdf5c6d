// W3C Trace Context (https://www.w3.org/TR/trace-context/): the trace id a client sent in
// `traceparent`, so a request's log line can be found from the application's own trace.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

export interface TraceParent {
  traceId: string;
  spanId: string;
  flags: number;
}

/** undefined for a missing or malformed header, version ff, or the all-zero ids the spec forbids. */
export function parseTraceParent(header: string | string[] | undefined): TraceParent | undefined {
  if (typeof header !== 'string') return undefined;
  const m = TRACEPARENT.exec(header.trim().toLowerCase());
  if (!m || m[1] === 'ff' || (m[1] === '00' && m[5] !== undefined)) return undefined;
  if (/^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return undefined;
  return { traceId: m[2]!, spanId: m[3]!, flags: parseInt(m[4]!, 16) };
}

/**
 * Header names a SigV4 request signed (Authorization's SignedHeaders, or X-Amz-SignedHeaders of
 * a presigned URL). A proxy that rewrote one of them — a signed traceparent — would break the
 * signature, so it passes those through and the trace skips its own span instead.
 */
export function signedHeaderNames(headers: Record<string, string | string[] | undefined>, rawUrl: string): ReadonlySet<string> {
  const auth = typeof headers.authorization === 'string' ? /SignedHeaders=([^,\s]+)/.exec(headers.authorization)?.[1] : undefined;
  const query = /[?&]X-Amz-SignedHeaders=([^&]+)/i.exec(rawUrl)?.[1];
  const list = auth ?? (query ? decodeURIComponent(query) : '');
  return new Set(list.toLowerCase().split(';').filter(Boolean));
}

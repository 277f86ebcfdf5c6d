// Fault: an S3 error response — real code, status and message in S3's XML envelope, with the
// request id headers and an optional Retry-After. HEAD gets no body (SDKs read the status).
import type { ServerResponse } from 'node:http';
import { S3_ERRORS, S3Error } from '../../../proxy/s3/errors.ts';
import type { FaultOf } from '../model.ts';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ESC[c]!);

export function defaultMessage(code: string): string {
  return (S3_ERRORS as Record<string, readonly [number, string]>)[code]?.[1] ?? 'Injected fault.';
}

export function faultError(spec: { code: string; status: number; message?: string }): S3Error {
  return S3Error.custom(spec.code, spec.status, spec.message ?? defaultMessage(spec.code));
}

export function errorDocument(err: S3Error, resource: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${esc(err.code)}</Code><Message>${esc(err.message)}</Message>` +
    `<Resource>${esc(resource)}</Resource><RequestId>${requestId}</RequestId><HostId>${requestId}</HostId></Error>`;
}

export function sendErrorFault(res: ServerResponse, spec: Pick<FaultOf<'error'>, 'code' | 'status' | 'message' | 'retryAfter'>, requestId: string): void {
  const err = faultError(spec);
  const body = Buffer.from(errorDocument(err, (res.req.url ?? '/').split('?')[0]!, requestId));
  const headers: Record<string, string | number> = {
    'content-type': 'application/xml', 'content-length': body.length, 'x-amz-request-id': requestId, 'x-amz-id-2': requestId,
  };
  if (spec.retryAfter !== undefined) headers['retry-after'] = spec.retryAfter;
  res.writeHead(spec.status, headers);
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

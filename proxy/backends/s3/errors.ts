// Upstream failures as the S3 errors our clients should see. Codes that mean the same thing to
// the client pass through with our catalogue's message (a backend's message can name its real
// bucket and key, which clients must never see). Failures that are the gateway's or the
// backend's fault, not the client's (refused credentials, missing backend bucket, 5xx, dead
// connections), become 503 ServiceUnavailable naming the backend, and are marked so the health
// monitor counts them.
import { xmlParser } from '../../s3/xml.ts';
import { S3Error, S3_ERRORS, type S3ErrorCode } from '../../s3/errors.ts';
import { isConnectionError } from './http.ts';

/** Codes whose meaning is about the client's request: relayed as ours. */
const CLIENT_CODES = new Set<string>([
  'NoSuchKey', 'NoSuchUpload', 'NoSuchVersion', 'InvalidPart', 'InvalidPartOrder', 'EntityTooSmall', 'EntityTooLarge',
  'PreconditionFailed', 'NotModified', 'InvalidRange', 'BadDigest', 'InvalidDigest', 'XAmzContentSHA256Mismatch',
  'IncompleteBody', 'InvalidArgument', 'InvalidRequest', 'KeyTooLongError', 'MetadataTooLarge', 'MalformedXML',
  'SlowDown', 'RequestTimeout', 'ConditionalRequestConflict', 'BucketNotEmpty', 'BucketAlreadyOwnedByYou',
  'BucketAlreadyExists', 'NoSuchBucket', 'MissingContentLength', 'InvalidBucketName', 'NotImplemented',
]);

/** Other servers' names for our codes (MinIO's, mostly). */
const ALIASES: Record<string, S3ErrorCode> = {
  XAmzContentChecksumMismatch: 'BadDigest',
  XMinioInvalidObjectName: 'InvalidArgument',
  XMinioObjectTooLarge: 'EntityTooLarge',
  XMinioServerNotInitialized: 'ServiceUnavailable',
};

const STATUS_CODES: Record<number, S3ErrorCode> = {
  304: 'NotModified', 400: 'InvalidRequest', 404: 'NoSuchKey', 409: 'ConditionalRequestConflict', 411: 'MissingContentLength',
  412: 'PreconditionFailed', 416: 'InvalidRange', 501: 'NotImplemented',
};

/** An S3Error that is the backend's fault: counts against its health. */
export interface BackendFault {
  backendFault: true;
  backend: string;
}

export function isBackendFault(e: unknown): e is S3Error & BackendFault {
  return e instanceof S3Error && (e as Partial<BackendFault>).backendFault === true;
}

export function backendUnavailable(backend: string, why: string, cause?: unknown): S3Error & BackendFault {
  const e = new S3Error('ServiceUnavailable', `Backend ${backend} is unavailable: ${why}.`, { cause, headers: { 'retry-after': '1' } });
  return Object.assign(e, { backendFault: true as const, backend });
}

const parser = xmlParser([]);

export function parseErrorXml(text: string): { code: string; message: string } | undefined {
  if (!/<Error[\s>]/.test(text)) return undefined;
  try {
    const doc = parser.parse(text) as { Error?: { Code?: unknown; Message?: unknown } };
    const code = doc.Error?.Code;
    return typeof code === 'string' ? { code, message: typeof doc.Error?.Message === 'string' ? doc.Error.Message : '' } : undefined;
  } catch {
    return undefined;
  }
}

/** Maps an S3 error code from the backend, with its HTTP status. */
export function mapUpstreamCode(backend: string, status: number, code: string | undefined, upstreamMessage = ''): S3Error {
  if (code && ALIASES[code]) code = ALIASES[code];
  if (code && CLIENT_CODES.has(code) && code in S3_ERRORS) return new S3Error(code as S3ErrorCode);
  if (code === 'ServiceUnavailable' || code === 'InternalError' || status >= 500) {
    return backendUnavailable(backend, `it answered ${status}${code ? ` ${code}` : ''}`, new Error(upstreamMessage || String(status)));
  }
  if (status === 401 || status === 403) {
    // AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId, clock skew: the gateway's
    // credentials or clock, never something the client can fix.
    return backendUnavailable(backend, `it refused the gateway's request with ${status}${code ? ` ${code}` : ''}`, new Error(upstreamMessage || String(status)));
  }
  if (code === undefined && STATUS_CODES[status]) return new S3Error(STATUS_CODES[status]);
  return new S3Error('InvalidRequest', `The storage backend rejected the request (${code ?? status}).`);
}

const MAX_ERROR_BODY = 64 * 1024;

/** Reads (a capped amount of) an error response and maps it. HEAD responses have no body. */
export async function upstreamError(backend: string, res: { statusCode: number; body: AsyncIterable<unknown> }): Promise<S3Error> {
  let text = '';
  try {
    for await (const chunk of res.body) {
      if (text.length < MAX_ERROR_BODY) text += (chunk as Buffer).toString('utf8');
    }
  } catch { /* the status alone still says enough */ }
  const parsed = parseErrorXml(text);
  return mapUpstreamCode(backend, res.statusCode, parsed?.code, parsed?.message);
}

/** Maps a thrown transport error (refused, reset, timeout) or passes an S3Error through. */
export function transportError(backend: string, e: unknown): S3Error {
  if (e instanceof S3Error) return e;
  const code = (e as { code?: string }).code;
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return backendUnavailable(backend, 'no response within the first-byte timeout', e);
  if (code === 'UND_ERR_BODY_TIMEOUT') return backendUnavailable(backend, 'the transfer stalled past the idle timeout', e);
  if (isConnectionError(e)) return backendUnavailable(backend, `connection failed (${code ?? 'closed'})`, e);
  if ((e as Error).name === 'AbortError' || code === 'UND_ERR_ABORTED') return new S3Error('RequestTimeout', 'The request was aborted.', { cause: e });
  return backendUnavailable(backend, (e as Error).message ?? 'request failed', e);
}

// SigV4 verification for S3 requests: header auth and presigned (query) auth. Order of checks:
// parse → access key → time (skew or expiry) → payload mode → unsigned headers → signature, so
// each failure gets the error S3 gives for it. SigV2 requests (`AWS AKID:sig`, `?AWSAccessKeyId=`)
// are handed to sigv2.ts with the same keys. Client-side signing lives in sign.ts.
import { timingSafeEqual } from 'node:crypto';
import { S3Error } from '../s3/errors.ts';
import {
  canonicalHeaderValue, canonicalQuery, canonicalRequest, EMPTY_SHA256, formatAmzDate, headerValues, hexBytes, hmac,
  parseAmzDate, strictPath, stringToSign, type HeaderBag,
} from './canonical.ts';
import { isPresigned, parseAuthorizationHeader, parsePresignQuery, queryParams, type AuthParams } from './auth-params.ts';
import { deriveSigningKey } from './signing-key.ts';
import { checkSkew, isoSeconds, MAX_SKEW_MS } from './request-time.ts';
import { isSigV2Header, isSigV2Query, parseSigV2Header, parseSigV2Query, verifySigV2 } from './sigv2.ts';

export { presignUrl, signRequest, type Credentials } from './sign.ts';
export { encodeS3Path } from './canonical.ts';

/** Returns the secret for an access key id, or undefined when the key is unknown. */
export type KeyLookup = (accessKeyId: string) => string | undefined;

export interface AuthInput {
  method: string;
  /** req.url as received: path + query, undecoded. */
  rawUrl: string;
  /** node IncomingMessage.headers */
  headers: HeaderBag;
  headersDistinct?: Record<string, string[] | undefined>;
  /** The bucket the Host header names (virtual-host style); SigV2 signs it as part of the path. */
  hostBucket?: string;
  now?: Date;
}

interface AuthCommon {
  accessKeyId: string;
  /** x-amz-content-sha256 as signed, or UNSIGNED-PAYLOAD / X-Amz-Content-Sha256 for presigned (and for SigV2). */
  payloadHash: string;
  presigned: boolean;
}

export interface SigV2Auth extends AuthCommon {
  version: 2;
}

export interface SigV4Auth extends AuthCommon {
  version: 4;
  /** The request signature; the first chunk signature of an aws-chunked body chains from it. */
  seedSignature: string;
  signingKey: Buffer;
  /** date/region/s3/aws4_request */
  scope: string;
  amzDate: string;
}

export type AuthResult = SigV2Auth | SigV4Auth;

export { MAX_SKEW_MS };

const BODILESS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS']);

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The request time of header auth, checked against the scope date and the clock. */
function headerAuthDate(input: AuthInput, params: AuthParams, now: Date): string {
  const xAmzDate = first(input.headers['x-amz-date']);
  const raw = xAmzDate ?? first(input.headers.date);
  const t = xAmzDate !== undefined ? parseAmzDate(xAmzDate) : raw !== undefined ? new Date(raw) : undefined;
  if (!t || Number.isNaN(t.getTime())) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  const amzDate = xAmzDate ?? formatAmzDate(t);
  if (params.scopeDate !== amzDate.slice(0, 8)) {
    throw new S3Error('AuthorizationHeaderMalformed',
      `The authorization header is malformed; Invalid credential date "${params.scopeDate}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`);
  }
  checkSkew(raw!, t.getTime(), now);
  return amzDate;
}

function checkPresignTime(params: AuthParams, now: Date): void {
  const t = parseAmzDate(params.amzDate!)!;
  if (t.getTime() - now.getTime() > MAX_SKEW_MS) throw new S3Error('AccessDenied', 'Request is not valid yet');
  const expiresAt = new Date(t.getTime() + params.expires! * 1000);
  if (now.getTime() > expiresAt.getTime()) {
    throw new S3Error('AccessDenied', 'Request has expired', {
      details: { 'X-Amz-Expires': params.expires!, Expires: isoSeconds(expiresAt), ServerTime: isoSeconds(now) },
    });
  }
}

/** The aws-chunked modes the body decoder implements; any other value is a client error (400). */
const STREAMING_MODES = new Set(['STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER']);

/** The x-amz-content-sha256 of header auth; requests without a body may leave it out. */
function headerPayloadHash(input: AuthInput): string {
  const v = first(input.headers['x-amz-content-sha256']);
  if (v === undefined) {
    const len = first(input.headers['content-length']);
    const bodiless = (len === undefined || len === '0') && input.headers['transfer-encoding'] === undefined;
    if (BODILESS.has(input.method.toUpperCase()) && bodiless) return EMPTY_SHA256;
    throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  }
  if (v.startsWith('STREAMING-AWS4-ECDSA-P256-SHA256')) {
    throw new S3Error('NotImplemented', `x-amz-content-sha256 ${v} (SigV4a) is not supported; sign with AWS4-HMAC-SHA256.`);
  }
  if (/^[0-9a-fA-F]{64}$/.test(v) || v === 'UNSIGNED-PAYLOAD' || STREAMING_MODES.has(v)) return v;
  throw new S3Error('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER], or a valid sha256 value.', {
    details: { ArgumentName: 'x-amz-content-sha256', ArgumentValue: v },
  });
}

/** S3 refuses requests carrying x-amz-* headers (or host) outside the signature. */
function checkAllSigned(headers: HeaderBag, signed: readonly string[]): void {
  const set = new Set(signed);
  const unsigned = Object.keys(headers).filter((h) => {
    const name = h.toLowerCase();
    return (name === 'host' || name.startsWith('x-amz-')) && !set.has(name);
  });
  if (unsigned.length) {
    throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', {
      details: { HeadersNotSigned: unsigned.join(', ') },
    });
  }
}

function sameSignature(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex'), y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

export function verifyRequest(input: AuthInput, lookup: KeyLookup): AuthResult {
  const now = input.now ?? new Date();
  const q = input.rawUrl.indexOf('?');
  const rawPath = q < 0 ? input.rawUrl : input.rawUrl.slice(0, q);
  const rawQuery = q < 0 ? '' : input.rawUrl.slice(q + 1);
  const authorization = first(input.headers.authorization);
  const query = queryParams(rawQuery);
  const presigned = isPresigned(query);
  if (authorization !== undefined && (presigned || isSigV2Query(query))) {
    throw new S3Error('InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified');
  }
  if (isSigV2Header(authorization) || (authorization === undefined && !presigned && isSigV2Query(query))) {
    return verifyV2(input, rawPath, rawQuery, query, lookup, now);
  }
  if (authorization === undefined && !presigned) {
    throw new S3Error('AccessDenied', 'Access Denied: the request is not signed (anonymous access is not allowed).');
  }

  const params = authorization !== undefined ? parseAuthorizationHeader(authorization) : parsePresignQuery(query);
  const secret = lookup(params.accessKeyId);
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId', undefined, { details: { AWSAccessKeyId: params.accessKeyId } });

  let amzDate: string;
  let payloadHashes: string[];
  if (params.presigned) {
    checkPresignTime(params, now);
    amzDate = params.amzDate!;
    // The JS presigner pins X-Amz-Content-Sha256 whatever it signed; accept either spelling.
    payloadHashes = params.contentSha256 ? [params.contentSha256, 'UNSIGNED-PAYLOAD'] : ['UNSIGNED-PAYLOAD'];
  } else {
    amzDate = headerAuthDate(input, params, now);
    payloadHashes = [headerPayloadHash(input)];
  }
  checkAllSigned(input.headers, params.signedHeaders);

  const signingKey = deriveSigningKey(secret, params.scopeDate, params.scope.split('/')[1]!);
  const strict = strictPath(rawPath);
  // SDKs sign the strictly re-encoded path; some clients sign exactly what they sent.
  const uris = strict === rawPath || rawPath === '' ? [strict] : [strict, rawPath];
  const cq = canonicalQuery(rawQuery, params.presigned ? 'X-Amz-Signature' : undefined);
  const headerValue = (h: string) => canonicalHeaderValue(headerValues(h, input.headers, input.headersDistinct));
  let firstTry: { canonical: string; sts: string } | undefined;
  for (const payloadHash of payloadHashes) {
    for (const uri of uris) {
      const canonical = canonicalRequest({
        method: input.method.toUpperCase(), uri, query: cq, signedHeaders: params.signedHeaders, headerValue, payloadHash,
      });
      const sts = stringToSign(amzDate, params.scope, canonical);
      if (sameSignature(hmac(signingKey, sts).toString('hex'), params.signature)) {
        return {
          version: 4, accessKeyId: params.accessKeyId, payloadHash, presigned: params.presigned, seedSignature: params.signature,
          signingKey, scope: params.scope, amzDate,
        };
      }
      firstTry ??= { canonical, sts };
    }
  }
  throw new S3Error('SignatureDoesNotMatch', undefined, {
    details: {
      AWSAccessKeyId: params.accessKeyId,
      StringToSign: firstTry!.sts,
      SignatureProvided: params.signature,
      StringToSignBytes: hexBytes(firstTry!.sts),
      CanonicalRequest: firstTry!.canonical,
      CanonicalRequestBytes: hexBytes(firstTry!.canonical),
    },
  });
}

function verifyV2(input: AuthInput, rawPath: string, rawQuery: string, query: Map<string, string>, lookup: KeyLookup, now: Date): SigV2Auth {
  const authorization = first(input.headers.authorization);
  const params = authorization !== undefined ? parseSigV2Header(authorization) : parseSigV2Query(query);
  const secret = lookup(params.accessKeyId);
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId', undefined, { details: { AWSAccessKeyId: params.accessKeyId } });
  verifySigV2({
    method: input.method, rawPath, rawQuery, query, headers: input.headers, headersDistinct: input.headersDistinct,
    hostBucket: input.hostBucket, now,
  }, params, secret);
  return { version: 2, accessKeyId: params.accessKeyId, payloadHash: sigV2PayloadHash(input.headers), presigned: params.presigned };
}

/**
 * SigV2 has no payload signature, but an x-amz-content-sha256 it signed is honoured (the body is
 * checked against it). aws-chunked modes chain chunk signatures from a SigV4 seed: refused.
 */
function sigV2PayloadHash(headers: HeaderBag): string {
  const v = first(headers['x-amz-content-sha256']);
  if (v === undefined || v === 'UNSIGNED-PAYLOAD' || /^[0-9a-fA-F]{64}$/.test(v)) return v ?? 'UNSIGNED-PAYLOAD';
  throw new S3Error('InvalidRequest', `x-amz-content-sha256 ${v} needs Signature Version 4 (AWS4-HMAC-SHA256).`);
}

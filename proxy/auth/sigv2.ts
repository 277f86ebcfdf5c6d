// AWS Signature Version 2 (HMAC-SHA1), the legacy scheme older tools and the ceph/s3-tests `aws2`
// tests still use: header auth (`Authorization: AWS AKID:base64sig`) and query auth
// (`?AWSAccessKeyId=…&Expires=…&Signature=…`). Order of checks as for SigV4: parse → access key →
// time (skew or expiry) → signature, so each failure gets the error S3 gives for it.
// There is no payload signature: the body is checked only against Content-MD5 and checksums.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { S3Error } from '../s3/errors.ts';
import { headerValues, hexBytes, percentDecode, strictPath, type HeaderBag } from './canonical.ts';
import { checkSkew, isoSeconds } from './request-time.ts';

/** The sub-resources AWS documents for the CanonicalizedResource, and the response-* overrides. */
const SUBRESOURCES = new Set([
  'acl', 'cors', 'delete', 'lifecycle', 'location', 'logging', 'notification', 'partNumber', 'policy',
  'requestPayment', 'torrent', 'uploadId', 'uploads', 'versionId', 'versioning', 'versions', 'website',
  'response-content-type', 'response-content-language', 'response-expires', 'response-cache-control',
  'response-content-disposition', 'response-content-encoding',
]);
/** Further names botocore (and AWS with it) signs; tried only when the query has one. */
const BOTOCORE_SUBRESOURCES = new Set([
  ...SUBRESOURCES, 'accelerate', 'tagging', 'restore', 'storageClass', 'replication', 'analytics', 'metrics',
  'inventory', 'select', 'select-type', 'object-lock',
]);

export interface SigV2Input {
  method: string;
  rawPath: string;
  rawQuery: string;
  /** Decoded query (first occurrence wins). */
  query: Map<string, string>;
  headers: HeaderBag;
  headersDistinct?: Record<string, string[] | undefined>;
  /** The bucket named by the Host header (virtual-host style): the resource then starts with /bucket. */
  hostBucket?: string;
  now: Date;
}

export interface SigV2Params {
  presigned: boolean;
  accessKeyId: string;
  signature: string;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export function isSigV2Header(authorization: string | undefined): boolean {
  return authorization !== undefined && /^AWS( |$)/.test(authorization);
}

export function isSigV2Query(query: Map<string, string>): boolean {
  return query.has('AWSAccessKeyId') || query.has('Signature');
}

export function parseSigV2Header(authorization: string): SigV2Params {
  const m = /^AWS ([^:\s]+):(\S+)$/.exec(authorization.trim());
  if (!m) throw new S3Error('InvalidArgument', 'AWS authorization header is invalid.  Expected AwsAccessKeyId:signature', {
    details: { ArgumentName: 'Authorization', ArgumentValue: authorization },
  });
  return { presigned: false, accessKeyId: m[1]!, signature: m[2]! };
}

export function parseSigV2Query(query: Map<string, string>): SigV2Params & { expires: number } {
  const accessKeyId = query.get('AWSAccessKeyId'), signature = query.get('Signature'), expires = query.get('Expires');
  if (!accessKeyId || !signature || expires === undefined) {
    throw new S3Error('AccessDenied', 'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters');
  }
  if (!/^\d{1,15}$/.test(expires)) throw new S3Error('AccessDenied', 'Invalid date (should be seconds since epoch): ' + expires);
  // A '+' of base64 left unescaped in the URL reads as a space.
  return { presigned: true, accessKeyId, signature: signature.replace(/ /g, '+'), expires: Number(expires) };
}

/** Header auth: x-amz-date wins over Date; a date that does not parse (or before 1970) is AccessDenied. */
function checkHeaderDate(headers: HeaderBag, now: Date): void {
  const raw = first(headers['x-amz-date']) ?? first(headers.date);
  const t = raw === undefined ? NaN : Date.parse(raw);
  if (Number.isNaN(t) || t < 0) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  checkSkew(raw!, t, now);
}

function checkExpires(expires: number, now: Date): void {
  if (now.getTime() > expires * 1000) {
    throw new S3Error('AccessDenied', 'Request has expired', {
      details: { Expires: isoSeconds(new Date(expires * 1000)), ServerTime: isoSeconds(now) },
    });
  }
}

/** x-amz-* headers, lower-cased and sorted, repeated values joined with ',', folding undone. */
function canonicalAmzHeaders(input: SigV2Input): string {
  const names = new Set(Object.keys(input.headers).map((h) => h.toLowerCase()).filter((h) => h.startsWith('x-amz-')));
  // Query auth: botocore moves the x-amz-* headers it signed into the query.
  if (input.query.has('AWSAccessKeyId')) for (const k of input.query.keys()) if (k.toLowerCase().startsWith('x-amz-')) names.add(k.toLowerCase());
  let out = '';
  for (const name of [...names].sort()) {
    const values = headerValues(name, input.headers, input.headersDistinct);
    const v = values.length ? values : [input.query.get(name) ?? ''];
    out += `${name}:${v.map((x) => x.replace(/\s*\r?\n\s*/g, ' ').trim()).join(',')}\n`;
  }
  return out;
}

function canonicalSubresources(rawQuery: string, names: ReadonlySet<string>): string {
  const pairs: [string, string][] = [];
  for (const piece of rawQuery.split('&')) {
    if (!piece) continue;
    const eq = piece.indexOf('=');
    const name = eq < 0 ? piece : piece.slice(0, eq);
    if (!names.has(name)) continue;
    pairs.push([name, eq < 0 ? name : `${name}=${percentDecode(piece.slice(eq + 1)).toString('latin1')}`]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return pairs.length ? '?' + pairs.map((p) => p[1]).join('&') : '';
}

/** Every StringToSign a correct client may have signed, the AWS-documented form first. */
function stringsToSign(input: SigV2Input, dateLine: readonly string[]): string[] {
  const h = (name: string) => first(input.headers[name])?.trim() ?? (input.query.has('AWSAccessKeyId') ? input.query.get(name) ?? '' : '');
  const prefix = input.hostBucket !== undefined ? '/' + input.hostBucket : '';
  const paths = [input.rawPath || '/'];
  const strict = strictPath(input.rawPath);
  if (strict !== paths[0]) paths.push(strict);
  // A bucket is the resource /bucket/ (botocore signs that for path-style /bucket requests).
  if (prefix === '' && /^\/[^/]+$/.test(paths[0]!)) paths.push(paths[0] + '/');
  const subs = [canonicalSubresources(input.rawQuery, SUBRESOURCES)];
  const more = canonicalSubresources(input.rawQuery, BOTOCORE_SUBRESOURCES);
  if (more !== subs[0]) subs.push(more);
  const amz = canonicalAmzHeaders(input);
  const out: string[] = [];
  for (const date of dateLine) {
    for (const sub of subs) {
      for (const path of paths) {
        out.push(`${input.method.toUpperCase()}\n${h('content-md5')}\n${h('content-type')}\n${date}\n${amz}${prefix}${path}${sub}`);
      }
    }
  }
  return out;
}

/**
 * Whether `given` is the base64 HMAC-SHA1 of `stringToSign` under `secret`, in constant time.
 * Compared as base64 text: decoding would let padding bits differ (…U= and …V= are one digest).
 */
export function sigV2Matches(secret: string, stringToSign: string, given: string): boolean {
  const expected = createHmac('sha1', secret).update(stringToSign, 'latin1').digest('base64');
  const g = Buffer.from(given, 'latin1'), x = Buffer.from(expected, 'latin1');
  return g.length === x.length && timingSafeEqual(g, x);
}

/** Checks the request time and the signature of a SigV2 request under `secret`. */
export function verifySigV2(input: SigV2Input, params: SigV2Params & { expires?: number }, secret: string): void {
  let dates: string[];
  if (params.presigned) {
    checkExpires(params.expires!, input.now);
    dates = [input.query.get('Expires')!];
  } else {
    checkHeaderDate(input.headers, input.now);
    const date = first(input.headers.date)?.trim() ?? '';
    // With x-amz-date, AWS documents an empty Date line; botocore signs the Date header it sends anyway.
    dates = input.headers['x-amz-date'] !== undefined && date !== '' ? ['', date] : [date];
  }
  const candidates = stringsToSign(input, dates);
  for (const sts of candidates) {
    if (sigV2Matches(secret, sts, params.signature)) return;
  }
  throw new S3Error('SignatureDoesNotMatch', undefined, {
    details: {
      AWSAccessKeyId: params.accessKeyId,
      StringToSign: candidates[0]!,
      SignatureProvided: params.signature,
      StringToSignBytes: hexBytes(candidates[0]!),
    },
  });
}

// Reads the SigV4 parameters out of an Authorization header or a presigned query string, with
// the S3 error each malformed piece gets. No cryptography here.
import { S3Error } from '../s3/errors.ts';
import { ALGORITHM, parseAmzDate, percentDecode } from './canonical.ts';

export interface AuthParams {
  presigned: boolean;
  accessKeyId: string;
  /** yyyymmdd/region/s3/aws4_request */
  scope: string;
  scopeDate: string;
  signedHeaders: string[];
  signature: string;
  /** Filled by the caller for header auth (x-amz-date or Date); from X-Amz-Date for presigned. */
  amzDate?: string;
  /** Presigned only. */
  expires?: number;
  contentSha256?: string;
}

const SIGV4A = 'AWS4-ECDSA-P256-SHA256';
const CREDENTIAL_FORM = 'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request"';
export const MAX_PRESIGN_SECONDS = 604_800;

type Fail = (message: string) => S3Error;

function parseCredential(credential: string, fail: Fail): Pick<AuthParams, 'accessKeyId' | 'scope' | 'scopeDate'> {
  const parts = credential.split('/');
  if (parts.length < 5) throw fail(`the Credential is mal-formed; ${CREDENTIAL_FORM}.`);
  const [date, region, service, terminator] = parts.slice(-4) as [string, string, string, string];
  const accessKeyId = parts.slice(0, -4).join('/');
  if (!accessKeyId || !/^\d{8}$/.test(date) || !region) throw fail(`the Credential is mal-formed; ${CREDENTIAL_FORM}.`);
  if (service !== 's3') throw fail(`the Credential is mal-formed; incorrect service "${service}". This endpoint belongs to "s3".`);
  if (terminator !== 'aws4_request') throw fail(`the Credential is mal-formed; incorrect terminal "${terminator}". This endpoint uses "aws4_request".`);
  return { accessKeyId, scope: parts.slice(-4).join('/'), scopeDate: date };
}

function parseSignedHeaders(s: string, fail: Fail): string[] {
  const names = s.split(';').map((h) => h.toLowerCase());
  if (names.some((h) => !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(h))) throw fail(`invalid SignedHeaders "${s}".`);
  return names;
}

function parseSignature(s: string, fail: Fail): string {
  if (!/^[0-9a-f]{64}$/.test(s)) throw fail('the Signature must be 64 lower-case hex characters.');
  return s;
}

/** `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` */
export function parseAuthorizationHeader(header: string): AuthParams {
  const fail: Fail = (m) => new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${m}`);
  const space = header.indexOf(' ');
  const algorithm = space < 0 ? header : header.slice(0, space);
  if (algorithm === SIGV4A) throw new S3Error('NotImplemented', 'SigV4a (AWS4-ECDSA-P256-SHA256) signatures are not supported; sign with AWS4-HMAC-SHA256.');
  // AWS's answer to a scheme it does not know (`Bearer …`, `Basic …`): it names no parser detail.
  if (algorithm !== ALGORITHM) {
    throw new S3Error('InvalidArgument', 'Unsupported Authorization Type', { details: { ArgumentName: 'Authorization', ArgumentValue: header } });
  }
  const fields = new Map<string, string>();
  for (const part of header.slice(space + 1).split(',')) {
    const p = part.trim();
    const eq = p.indexOf('=');
    if (eq > 0) fields.set(p.slice(0, eq), p.slice(eq + 1));
  }
  const credential = fields.get('Credential'), signed = fields.get('SignedHeaders'), sig = fields.get('Signature');
  if (credential === undefined) throw fail('missing Credential.');
  if (signed === undefined) throw fail('missing SignedHeaders.');
  if (sig === undefined) throw fail('missing Signature.');
  return {
    presigned: false,
    ...parseCredential(credential, fail),
    signedHeaders: parseSignedHeaders(signed, fail),
    signature: parseSignature(sig, fail),
  };
}

/** Raw query pairs, decoded ('+' is a space), first occurrence wins. */
export function queryParams(rawQuery: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const piece of rawQuery.split('&')) {
    if (!piece) continue;
    const eq = piece.indexOf('=');
    const k = percentDecode(eq < 0 ? piece : piece.slice(0, eq), true).toString('utf8');
    if (!out.has(k)) out.set(k, eq < 0 ? '' : percentDecode(piece.slice(eq + 1), true).toString('utf8'));
  }
  return out;
}

export function isPresigned(q: Map<string, string>): boolean {
  return q.has('X-Amz-Algorithm') || q.has('X-Amz-Signature') || q.has('X-Amz-Credential');
}

/** The X-Amz-* parameters of a presigned URL. */
export function parsePresignQuery(q: Map<string, string>): AuthParams {
  const fail: Fail = (m) => new S3Error('AuthorizationQueryParametersError', m);
  const algorithm = q.get('X-Amz-Algorithm');
  if (algorithm === SIGV4A) throw new S3Error('NotImplemented', 'SigV4a (AWS4-ECDSA-P256-SHA256) signatures are not supported; sign with AWS4-HMAC-SHA256.');
  const missing = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature']
    .filter((k) => !q.has(k));
  if (missing.length) {
    throw fail(`Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters; missing ${missing.join(', ')}.`);
  }
  if (algorithm !== ALGORITHM) throw fail(`X-Amz-Algorithm only supports "${ALGORITHM}".`);
  const amzDate = q.get('X-Amz-Date')!;
  if (!parseAmzDate(amzDate)) throw fail(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'".`);
  const expiresRaw = q.get('X-Amz-Expires')!;
  if (!/^-?\d{1,12}$/.test(expiresRaw)) throw fail('X-Amz-Expires should be a number.');
  const expires = Number(expiresRaw);
  // 403 rather than the catalogue's 400: AWS and ceph/s3-tests treat an out-of-range lifetime as a
  // denial (test_object_raw_get_x_amz_expires_out_range_zero / _out_max_range).
  if (expires < 1) throw outOfRange('X-Amz-Expires must be non-negative and greater than zero.');
  if (expires > MAX_PRESIGN_SECONDS) {
    throw outOfRange(`X-Amz-Expires must be less than a week (in seconds) that is; ${MAX_PRESIGN_SECONDS}.`);
  }
  const params: AuthParams = {
    presigned: true,
    ...parseCredential(q.get('X-Amz-Credential')!, (m) => fail(`Error parsing the X-Amz-Credential parameter; ${m}`)),
    signedHeaders: parseSignedHeaders(q.get('X-Amz-SignedHeaders')!, fail),
    signature: parseSignature(q.get('X-Amz-Signature')!, fail),
    amzDate,
    expires,
    contentSha256: q.get('X-Amz-Content-Sha256'),
  };
  if (params.scopeDate !== amzDate.slice(0, 8)) {
    throw fail(`Error parsing the X-Amz-Credential parameter; the date ${params.scopeDate} does not match X-Amz-Date ${amzDate}.`);
  }
  return params;
}

function outOfRange(message: string): S3Error {
  const e = S3Error.custom('AuthorizationQueryParametersError', 403, message);
  return e;
}

// Client-side SigV4 for requests the gateway sends upstream (remote S3 backends) and for
// presigned redirect URLs. Paths are signed in their normalised encoded form: build URLs with
// encodeS3Path(key) so that what is sent is byte for byte what was signed.
import {
  ALGORITHM, canonicalHeaderValue, canonicalQuery, canonicalRequest, formatAmzDate, hmac, normalizedPath, stringToSign, uriEncodeBytes,
} from './canonical.ts';
import { deriveSigningKey } from './signing-key.ts';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Headers a hop may add or rewrite; signing them would break the signature in transit. */
const NEVER_SIGNED = new Set([
  'authorization', 'user-agent', 'expect', 'connection', 'keep-alive', 'transfer-encoding', 'te', 'upgrade',
  'proxy-authorization', 'x-amzn-trace-id',
]);

const MAX_PRESIGN_SECONDS = 604_800;

function scopeOf(amzDate: string, region: string): string {
  return `${amzDate.slice(0, 8)}/${region}/s3/aws4_request`;
}

function signature(creds: Credentials, amzDate: string, region: string, canonical: string): string {
  const key = deriveSigningKey(creds.secretAccessKey, amzDate.slice(0, 8), region);
  return hmac(key, stringToSign(amzDate, scopeOf(amzDate, region), canonical)).toString('hex');
}

/**
 * Signs an upstream request. Returns the headers to send (the given ones lower-cased, plus host,
 * x-amz-date, x-amz-content-sha256 and authorization). payloadHash is the body's hex SHA-256,
 * UNSIGNED-PAYLOAD, or a STREAMING-… mode.
 */
export function signRequest(
  req: { method: string; url: URL; headers: Record<string, string>; payloadHash: string },
  creds: Credentials,
  region: string,
  now: Date = new Date(),
): Record<string, string> {
  const amzDate = formatAmzDate(now);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) out[k.toLowerCase()] = v;
  out.host = req.url.host;
  out['x-amz-date'] = amzDate;
  out['x-amz-content-sha256'] = req.payloadHash;
  const signedHeaders = Object.keys(out).filter((h) => !NEVER_SIGNED.has(h)).sort();
  const canonical = canonicalRequest({
    method: req.method.toUpperCase(),
    uri: normalizedPath(req.url.pathname),
    query: canonicalQuery(req.url.search.slice(1)),
    signedHeaders,
    headerValue: (h) => canonicalHeaderValue([out[h]!]),
    payloadHash: req.payloadHash,
  });
  out.authorization = `${ALGORITHM} Credential=${creds.accessKeyId}/${scopeOf(amzDate, region)}, ` +
    `SignedHeaders=${signedHeaders.join(';')}, Signature=${signature(creds, amzDate, region, canonical)}`;
  return out;
}

/** A presigned URL (query auth, host signed, UNSIGNED-PAYLOAD), valid for expiresSeconds. */
export function presignUrl(
  opts: { method: string; url: URL; expiresSeconds: number; region: string },
  creds: Credentials,
  now: Date = new Date(),
): URL {
  if (!Number.isInteger(opts.expiresSeconds) || opts.expiresSeconds < 1 || opts.expiresSeconds > MAX_PRESIGN_SECONDS) {
    throw new RangeError(`expiresSeconds must be an integer in 1..${MAX_PRESIGN_SECONDS}, got ${opts.expiresSeconds}`);
  }
  const amzDate = formatAmzDate(now);
  const enc = (s: string) => uriEncodeBytes(Buffer.from(s, 'utf8'), false);
  const auth = [
    `X-Amz-Algorithm=${ALGORITHM}`,
    `X-Amz-Credential=${enc(`${creds.accessKeyId}/${scopeOf(amzDate, opts.region)}`)}`,
    `X-Amz-Date=${amzDate}`,
    `X-Amz-Expires=${opts.expiresSeconds}`,
    'X-Amz-SignedHeaders=host',
  ];
  const existing = opts.url.search.slice(1);
  const query = canonicalQuery([existing, ...auth].filter(Boolean).join('&'));
  const uri = normalizedPath(opts.url.pathname);
  const canonical = canonicalRequest({
    method: opts.method.toUpperCase(), uri, query, signedHeaders: ['host'],
    headerValue: () => opts.url.host, payloadHash: 'UNSIGNED-PAYLOAD',
  });
  const out = new URL(opts.url.href);
  out.pathname = uri;
  out.search = `?${query}&X-Amz-Signature=${signature(creds, amzDate, opts.region, canonical)}`;
  return out;
}

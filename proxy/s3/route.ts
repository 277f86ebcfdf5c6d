// Turns a request line + Host into (bucket, key, operation). Path-style and virtual-host style
// (bucket.<domain>) are both accepted; the key is decoded exactly once and '+' stays a '+'
// (MinIO's choice: clients encode spaces as %20, and a literal '+' in a key must survive).
import { S3Error } from './errors.ts';

export type Operation =
  | 'ListBuckets' | 'CreateBucket' | 'HeadBucket' | 'DeleteBucket' | 'GetBucketLocation'
  | 'ListObjects' | 'ListObjectsV2' | 'ListObjectVersions' | 'ListMultipartUploads' | 'DeleteObjects'
  | 'PutObject' | 'CopyObject' | 'GetObject' | 'HeadObject' | 'DeleteObject'
  | 'CreateMultipartUpload' | 'UploadPart' | 'UploadPartCopy' | 'CompleteMultipartUpload'
  | 'AbortMultipartUpload' | 'ListParts'
  | 'GetBucketVersioning' | 'GetBucketAcl' | 'PutBucketAcl' | 'GetObjectAcl' | 'PutObjectAcl' | 'GetObjectAttributes'
  | 'GetBucketCors' | 'PutBucketCors' | 'DeleteBucketCors';

export interface Target {
  bucket?: string;
  key?: string;
  /** Raw query pairs, decoded, in order; valueless keys have value ''. */
  query: Map<string, string>;
  virtualHost: boolean;
}

/** Query parameters that are arguments of operations we implement, not sub-resources. */
const PARAMETERS = new Set([
  'list-type', 'prefix', 'delimiter', 'max-keys', 'continuation-token', 'start-after', 'fetch-owner',
  'encoding-type', 'marker', 'key-marker', 'upload-id-marker', 'version-id-marker', 'max-uploads',
  'max-parts', 'part-number-marker', 'partnumber', 'uploadid', 'uploads', 'delete', 'location',
  'versions', 'x-id', 'versionid', 'max-buckets', 'bucket-region',
  'response-content-type', 'response-content-language', 'response-expires', 'response-cache-control',
  'response-content-disposition', 'response-content-encoding',
  // SigV2 query auth (a presigned URL without signature_version='s3v4'), checked by the verifier.
  'awsaccesskeyid', 'signature', 'expires',
]);

function decodeComponent(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch (cause) {
    throw new S3Error('InvalidURI', undefined, { cause, details: { URI: what } });
  }
}

export function parseTarget(rawUrl: string, host: string | undefined, domains: readonly string[]): Target {
  const q = rawUrl.indexOf('?');
  const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const rawQuery = q < 0 ? '' : rawUrl.slice(q + 1);
  const query = new Map<string, string>();
  for (const pair of rawQuery.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const k = eq < 0 ? pair : pair.slice(0, eq);
    const v = eq < 0 ? '' : pair.slice(eq + 1);
    query.set(decodeComponent(k.replace(/\+/g, '%20'), rawUrl), decodeComponent(v.replace(/\+/g, '%20'), rawUrl));
  }
  if (!rawPath.startsWith('/')) throw new S3Error('InvalidRequest', 'Request target must be an absolute path.');

  const hostBucket = bucketFromHost(host, domains);
  if (hostBucket !== undefined) {
    const key = rawPath.length > 1 ? decodeComponent(rawPath.slice(1), rawUrl) : undefined;
    return { bucket: hostBucket, key, query, virtualHost: true };
  }
  const slash = rawPath.indexOf('/', 1);
  const bucketPart = slash < 0 ? rawPath.slice(1) : rawPath.slice(1, slash);
  const keyPart = slash < 0 ? '' : rawPath.slice(slash + 1);
  return {
    bucket: bucketPart ? decodeComponent(bucketPart, rawUrl) : undefined,
    key: keyPart ? decodeComponent(keyPart, rawUrl) : undefined,
    query,
    virtualHost: false,
  };
}

export function bucketFromHost(host: string | undefined, domains: readonly string[]): string | undefined {
  if (!host) return undefined;
  const name = host.replace(/:\d+$/, '').toLowerCase();
  for (const d of domains) {
    if (name.length > d.length + 1 && name.endsWith('.' + d)) return name.slice(0, -(d.length + 1));
  }
  return undefined;
}

function has(t: Target, name: string): boolean {
  for (const k of t.query.keys()) if (k.toLowerCase() === name) return true;
  return false;
}

function unknownSubresource(t: Target): string | undefined {
  for (const k of t.query.keys()) {
    const l = k.toLowerCase();
    if (!PARAMETERS.has(l) && !l.startsWith('x-amz-')) return k;
  }
  return undefined;
}

/**
 * The few sub-resources answered as an unversioned bucket with private canned ACLs answers them
 * (apps and tools read them before they write); everything else about them is NotImplemented.
 */
function subresourceOperation(method: string, t: Target, sub: string): Operation | undefined {
  if (!t.bucket || [...t.query.keys()].filter((k) => !PARAMETERS.has(k.toLowerCase()) && !k.toLowerCase().startsWith('x-amz-')).length !== 1) return undefined;
  const name = sub.toLowerCase();
  const object = t.key !== undefined;
  if (name === 'versioning' && !object && method === 'GET') return 'GetBucketVersioning';
  if (name === 'attributes' && object && method === 'GET') return 'GetObjectAttributes';
  if (name === 'cors' && !object && method === 'GET') return 'GetBucketCors';
  if (name === 'cors' && !object && method === 'PUT') return 'PutBucketCors';
  if (name === 'cors' && !object && method === 'DELETE') return 'DeleteBucketCors';
  if (name === 'acl' && method === 'GET') return object ? 'GetObjectAcl' : 'GetBucketAcl';
  if (name === 'acl' && method === 'PUT') return object ? 'PutObjectAcl' : 'PutBucketAcl';
  return undefined;
}

export function resolveOperation(method: string, t: Target, headers: Record<string, string | string[] | undefined>): Operation {
  const sub = unknownSubresource(t);
  if (sub !== undefined) {
    const op = subresourceOperation(method, t, sub);
    if (op) return op;
    throw new S3Error('NotImplemented', `The '${sub}' sub-resource is not implemented by this gateway.`);
  }
  if (!t.bucket) {
    if (method === 'GET') return 'ListBuckets';
    throw new S3Error('MethodNotAllowed');
  }
  if (t.key === undefined) {
    switch (method) {
      case 'PUT': return 'CreateBucket';
      case 'HEAD': return 'HeadBucket';
      case 'DELETE': return 'DeleteBucket';
      case 'POST': if (has(t, 'delete')) return 'DeleteObjects'; break;
      case 'GET':
        if (has(t, 'location')) return 'GetBucketLocation';
        if (has(t, 'uploads')) return 'ListMultipartUploads';
        if (has(t, 'versions')) return 'ListObjectVersions';
        if (t.query.get('list-type') === '2') return 'ListObjectsV2';
        return 'ListObjects';
    }
    throw new S3Error('MethodNotAllowed');
  }
  const copy = headers['x-amz-copy-source'] !== undefined;
  switch (method) {
    case 'PUT':
      if (has(t, 'uploadid') || has(t, 'partnumber')) return copy ? 'UploadPartCopy' : 'UploadPart';
      return copy ? 'CopyObject' : 'PutObject';
    case 'GET': return has(t, 'uploadid') ? 'ListParts' : 'GetObject';
    case 'HEAD': return 'HeadObject';
    case 'DELETE': return has(t, 'uploadid') ? 'AbortMultipartUpload' : 'DeleteObject';
    case 'POST':
      if (has(t, 'uploads')) return 'CreateMultipartUpload';
      if (has(t, 'uploadid')) return 'CompleteMultipartUpload';
      break;
  }
  throw new S3Error('MethodNotAllowed');
}

/** Reads a query parameter case-insensitively (SDKs send `uploadId`, `partNumber`). */
export function param(t: Target, name: string): string | undefined {
  const l = name.toLowerCase();
  for (const [k, v] of t.query) if (k.toLowerCase() === l) return v;
  return undefined;
}

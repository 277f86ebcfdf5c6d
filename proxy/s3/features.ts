// Request headers asking for a guarantee the gateway does not give (object lock, encryption,
// tagging, storage classes, public ACLs…). Ignoring one would answer 200 to a request whose point
// is lost — a "locked" object that deletes, "encrypted" bytes stored in the clear — so each is
// refused with 501 NotImplemented before anything is read or written. Harmless values that ask
// for what every object already is (STANDARD storage, the private canned ACL) are accepted.
import type { IncomingHttpHeaders } from 'node:http';
import { S3Error } from './errors.ts';
import type { Operation } from './route.ts';

/** Canned ACLs that change nothing here: one owner, who has FULL_CONTROL of everything. */
const HARMLESS_ACLS = new Set(['private', 'bucket-owner-full-control']);
/** S3's canned ACLs: the others are NotImplemented here, a value outside this list is a bad request. */
const CANNED_ACLS = new Set([...HARMLESS_ACLS, 'public-read', 'public-read-write', 'authenticated-read', 'aws-exec-read', 'bucket-owner-read', 'log-delivery-write']);

const REFUSED_PREFIXES: [prefix: string, feature: string][] = [
  ['x-amz-object-lock-', 'Object Lock'],
  ['x-amz-server-side-encryption-customer-', 'SSE-C encryption'],
  ['x-amz-copy-source-server-side-encryption-customer-', 'SSE-C encryption'],
  ['x-amz-server-side-encryption', 'server-side encryption'],
  ['x-amz-grant-', 'ACL grants'],
];

const REFUSED_HEADERS: Record<string, string> = {
  'x-amz-tagging': 'object tagging',
  'x-amz-website-redirect-location': 'website redirects',
};

function value(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  const s = Array.isArray(v) ? v.join(',') : v;
  return s === undefined || s.trim() === '' ? undefined : s.trim();
}

function refuse(feature: string, header: string): never {
  throw new S3Error('NotImplemented', `${feature} (${header}) is not supported by this gateway.`, { details: { Header: header } });
}

export function refuseUnsupportedFeatures(op: Operation, headers: IncomingHttpHeaders): void {
  for (const name of Object.keys(headers)) {
    if (value(headers, name) === undefined) continue;
    const prefixed = REFUSED_PREFIXES.find(([p]) => name.startsWith(p));
    if (prefixed) refuse(prefixed[1], name);
    if (REFUSED_HEADERS[name]) refuse(REFUSED_HEADERS[name], name);
  }
  const storageClass = value(headers, 'x-amz-storage-class');
  if (storageClass !== undefined && storageClass.toUpperCase() !== 'STANDARD') refuse(`storage class ${storageClass}`, 'x-amz-storage-class');
  const acl = value(headers, 'x-amz-acl');
  if (acl !== undefined && !CANNED_ACLS.has(acl.toLowerCase())) {
    throw new S3Error('InvalidArgument', `${acl} is not a canned ACL.`, { details: { ArgumentName: 'x-amz-acl', ArgumentValue: acl } });
  }
  if (acl !== undefined && !HARMLESS_ACLS.has(acl.toLowerCase())) refuse(`the canned ACL ${acl}`, 'x-amz-acl');
  const lock = value(headers, 'x-amz-bucket-object-lock-enabled');
  if (op === 'CreateBucket' && lock !== undefined && lock.toLowerCase() !== 'false') refuse('Object Lock', 'x-amz-bucket-object-lock-enabled');
  const tagging = value(headers, 'x-amz-tagging-directive');
  if (op === 'CopyObject' && tagging !== undefined && tagging.toUpperCase() !== 'COPY') refuse('object tagging', 'x-amz-tagging-directive');
}

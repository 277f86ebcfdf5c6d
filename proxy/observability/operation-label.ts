// The operation label of a request the server could not resolve to an operation it serves:
// refused before routing (bad signature) or naming a sub-resource we do not implement. The
// label is the name AWS gives the operation (GetBucketTagging, PutObjectLockConfiguration…) so
// a dashboard shows what clients asked for; unknown query keys never become label values, which
// keeps the metric's cardinality bounded whatever a client sends.
import { parseTarget, resolveOperation } from '../s3/route.ts';

/** S3 sub-resources (lower-cased query key) → the noun AWS uses in the operation name. */
const SUBRESOURCES: Record<string, string> = {
  accelerate: 'Accelerate', acl: 'Acl', analytics: 'AnalyticsConfiguration', attributes: 'Attributes',
  cors: 'Cors', encryption: 'Encryption', 'intelligent-tiering': 'IntelligentTieringConfiguration',
  inventory: 'InventoryConfiguration', 'legal-hold': 'LegalHold', lifecycle: 'LifecycleConfiguration',
  logging: 'Logging', metadataconfiguration: 'MetadataConfiguration', metrics: 'MetricsConfiguration',
  notification: 'NotificationConfiguration', 'object-lock': 'ObjectLockConfiguration',
  ownershipcontrols: 'OwnershipControls', policy: 'Policy', policystatus: 'PolicyStatus',
  publicaccessblock: 'PublicAccessBlock', replication: 'Replication', requestpayment: 'RequestPayment',
  retention: 'Retention', tagging: 'Tagging', torrent: 'Torrent', versioning: 'Versioning', website: 'Website',
};

const VERBS: Record<string, string> = { GET: 'Get', PUT: 'Put', DELETE: 'Delete', HEAD: 'Head', POST: 'Post' };

/** A bucket's lock configuration is PutObjectLockConfiguration, not PutBucket… */
const BUCKET_NOUN_WITHOUT_PREFIX = new Set(['ObjectLockConfiguration']);

export function subresourceOperationName(method: string, objectLevel: boolean, queryKeys: Iterable<string>): string | undefined {
  const verb = VERBS[method.toUpperCase()];
  for (const k of queryKeys) {
    const l = k.toLowerCase();
    if (l === 'restore' && objectLevel && method === 'POST') return 'RestoreObject';
    if (l === 'select' && objectLevel && method === 'POST') return 'SelectObjectContent';
    const noun = SUBRESOURCES[l];
    if (noun === undefined || verb === undefined) continue;
    if (BUCKET_NOUN_WITHOUT_PREFIX.has(noun)) return verb + noun;
    return verb + (objectLevel ? 'Object' : 'Bucket') + noun;
  }
  return undefined;
}

/**
 * Names a request the server did not resolve, and its bucket and key when the request line has
 * them. Routing here costs a second parse, paid only by refused requests. 'Unsupported' is a
 * sub-resource outside the list; 'Invalid' a request line no S3 operation matches (bad URI,
 * method not allowed).
 */
export function describeUnresolved(method: string, rawUrl: string, headers: Record<string, string | string[] | undefined>, domains: readonly string[]): { operation: string; bucket?: string; key?: string } {
  let target;
  try {
    target = parseTarget(rawUrl, typeof headers.host === 'string' ? headers.host : undefined, domains);
  } catch {
    return { operation: 'Invalid' };
  }
  const where = { bucket: target.bucket, key: target.key };
  try {
    return { operation: resolveOperation(method, target, headers), ...where };
  } catch (e) {
    if ((e as { code?: string }).code !== 'NotImplemented') return { operation: 'Invalid', ...where };
    return { operation: subresourceOperationName(method, target.key !== undefined, target.query.keys()) ?? 'Unsupported', ...where };
  }
}

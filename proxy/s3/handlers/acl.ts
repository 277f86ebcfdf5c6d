// Bucket versioning and ACLs as an unversioned bucket with private canned ACLs answers them: the
// owner has FULL_CONTROL and nobody else has anything. Reading them succeeds (tools read before
// they write); asking for anything else (public-read, grants, enabling versioning) is refused by
// the feature check (proxy/s3/features.ts) or NotImplemented, never silently ignored.
import { S3Error } from '../errors.ts';
import { sendEmpty, sendXml } from '../respond.ts';
import { escapeXml, parseXml, xmlDocument } from '../xml.ts';
import { readSmallBody } from '../body.ts';
import { bucketOf, keyOf, type Handler, type S3Context } from './context.ts';
import { startBody } from './objects.ts';

export const OWNER = { ID: 'floodgate', DisplayName: 'floodgate' };

function policyXml(): string {
  const id = escapeXml(OWNER.ID), name = escapeXml(OWNER.DisplayName);
  return '<?xml version="1.0" encoding="UTF-8"?>\n<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    `<Owner><ID>${id}</ID><DisplayName>${name}</DisplayName></Owner><AccessControlList><Grant>` +
    `<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>${id}</ID><DisplayName>${name}</DisplayName></Grantee>` +
    '<Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>';
}

export const getBucketVersioning: Handler = async (ctx) => {
  await ctx.store.headBucket(bucketOf(ctx));
  // Never enabled: S3 answers an empty configuration (no Status element).
  sendXml(ctx.res, 200, xmlDocument('VersioningConfiguration', {}));
};

async function requireTarget(ctx: S3Context): Promise<void> {
  const bucket = bucketOf(ctx);
  if (ctx.target.key === undefined) await ctx.store.headBucket(bucket);
  else await ctx.store.getObject(bucket, keyOf(ctx), { head: true });
}

export const getAcl: Handler = async (ctx) => {
  await requireTarget(ctx);
  sendXml(ctx.res, 200, policyXml());
};

const asList = (v: unknown): Record<string, unknown>[] => (v === undefined ? [] : (Array.isArray(v) ? v : [v]) as Record<string, unknown>[]);

/**
 * PutBucketAcl / PutObjectAcl: `x-amz-acl: private` (checked by features.ts) or a policy whose
 * only grants are FULL_CONTROL to the owner — what every object already has — is accepted.
 */
export const putAcl: Handler = async (ctx) => {
  const length = ctx.req.headers['content-length'];
  const hasBody = (length !== undefined && length !== '0') || ctx.req.headers['transfer-encoding'] !== undefined;
  if (hasBody) {
    startBody(ctx);
    const doc = parseXml(await readSmallBody(ctx.req, ctx.auth, ctx.idleTimeoutMs), 'AccessControlPolicy');
    const acl = doc.AccessControlList as Record<string, unknown> | undefined;
    const grants = asList(acl?.Grant);
    // An empty list would take the owner's access away, which this gateway cannot do either.
    if (grants.length === 0) throw new S3Error('NotImplemented', 'Only the private ACL (the owner with FULL_CONTROL) is supported.');
    for (const g of grants) {
      const grantee = g.Grantee as Record<string, unknown> | undefined;
      if (g.Permission !== 'FULL_CONTROL' || typeof grantee?.ID !== 'string' || grantee.ID !== OWNER.ID) {
        throw new S3Error('NotImplemented', 'Only the private ACL (the owner with FULL_CONTROL) is supported.');
      }
    }
  } else if (ctx.req.headers['x-amz-acl'] === undefined) {
    throw new S3Error('MissingSecurityHeader', 'Your request was missing a required header.', { details: { MissingHeaderName: 'x-amz-acl' } });
  }
  await requireTarget(ctx);
  sendEmpty(ctx.res, 200);
};

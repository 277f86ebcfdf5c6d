// Bucket operations.
import { sendEmpty, sendXml } from '../respond.ts';
import { xmlDocument } from '../xml.ts';
import { readSmallBody } from '../body.ts';
import { parseXml } from '../xml.ts';
import { S3Error } from '../errors.ts';
import { bucketOf, intParam, type Handler } from './context.ts';
import { param } from '../route.ts';

/** The prefixes and suffixes S3 keeps for itself (Punycode, access points, directory, table and demo buckets). */
const RESERVED = /^(xn--|sthree-|amzn-s3-demo-)|(-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$/;

/** S3's naming rules for new buckets (existing names are looked up as given). */
export function validateBucketName(name: string): void {
  const problem =
    name.length < 3 || name.length > 63 ? 'must be between 3 and 63 characters long'
    : !/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name) ? 'may contain only lower-case letters, digits, "." and "-", and must begin and end with a letter or digit'
    : name.includes('..') ? 'must not contain two adjacent periods'
    : /^\d{1,3}(\.\d{1,3}){3}$/.test(name) ? 'must not be formatted as an IP address'
    : RESERVED.test(name) ? 'uses a prefix or suffix S3 reserves'
    : undefined;
  if (problem) throw new S3Error('InvalidBucketName', `The bucket name "${name}" ${problem}.`, { details: { BucketName: name } });
}

import { OWNER } from './acl.ts';

const bucketToken = (name: string) => Buffer.from(`b:${name}`, 'utf8').toString('base64url');

/** ListBuckets, paginated when `max-buckets` is given: `prefix`, `continuation-token`, `bucket-region`. */
export const listBuckets: Handler = async (ctx) => {
  const maxParam = param(ctx.target, 'max-buckets');
  const max = intParam(maxParam, 'max-buckets', 10_000, 1, 10_000);
  const prefix = param(ctx.target, 'prefix') ?? '';
  const token = param(ctx.target, 'continuation-token');
  let after = '';
  if (token !== undefined) {
    const decoded = Buffer.from(token, 'base64url').toString('utf8');
    if (!token || !decoded.startsWith('b:') || bucketToken(decoded.slice(2)) !== token) {
      throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { details: { ArgumentName: 'continuation-token' } });
    }
    after = decoded.slice(2);
  }
  const region = param(ctx.target, 'bucket-region');
  const all = (region !== undefined && region !== ctx.region ? [] : await ctx.store.listBuckets())
    .filter((b) => b.name.startsWith(prefix) && b.name > after)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const page = all.slice(0, max);
  sendXml(ctx.res, 200, xmlDocument('ListAllMyBucketsResult', {
    Owner: OWNER,
    Buckets: { Bucket: page.map((b) => ({ Name: b.name, CreationDate: b.creationDate, BucketRegion: maxParam !== undefined ? ctx.region : undefined })) },
    ContinuationToken: all.length > max ? bucketToken(page.at(-1)!.name) : undefined,
    Prefix: param(ctx.target, 'prefix'),
  }));
};

export const createBucket: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  validateBucketName(bucket);
  const length = ctx.req.headers['content-length'];
  if ((length !== undefined && length !== '0') || ctx.req.headers['transfer-encoding']) {
    ctx.bodyStarted = true;
    const text = await readSmallBody(ctx.req, ctx.auth, ctx.idleTimeoutMs);
    if (text.trim()) parseXml(text, 'CreateBucketConfiguration');
  }
  await ctx.store.createBucket(bucket);
  sendEmpty(ctx.res, 200, { location: `/${bucket}` });
};

export const headBucket: Handler = async (ctx) => {
  await ctx.store.headBucket(bucketOf(ctx));
  sendEmpty(ctx.res, 200, { 'x-amz-bucket-region': ctx.region });
};

export const deleteBucket: Handler = async (ctx) => {
  await ctx.store.deleteBucket(bucketOf(ctx));
  sendEmpty(ctx.res, 204);
};

export const getBucketLocation: Handler = async (ctx) => {
  await ctx.store.headBucket(bucketOf(ctx));
  // us-east-1 is reported as an empty LocationConstraint, as S3 does.
  const region = ctx.region === 'us-east-1' ? '' : ctx.region;
  sendXml(ctx.res, 200, `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${region}</LocationConstraint>`);
};

// Bucket operations.
import { sendEmpty, sendXml } from '../respond.ts';
import { xmlDocument } from '../xml.ts';
import { readSmallBody } from '../body.ts';
import { parseXml } from '../xml.ts';
import { S3Error } from '../errors.ts';
import { bucketOf, type Handler } from './context.ts';

/** S3's naming rules for new buckets (existing names are looked up as given). */
export function validateBucketName(name: string): void {
  const problem =
    name.length < 3 || name.length > 63 ? 'must be between 3 and 63 characters long'
    : !/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name) ? 'may contain only lower-case letters, digits, "." and "-", and must begin and end with a letter or digit'
    : name.includes('..') ? 'must not contain two adjacent periods'
    : /^\d{1,3}(\.\d{1,3}){3}$/.test(name) ? 'must not be formatted as an IP address'
    : /^xn--|^sthree-|-s3alias$|--ol-s3$/.test(name) ? 'uses a prefix or suffix S3 reserves'
    : undefined;
  if (problem) throw new S3Error('InvalidBucketName', `The bucket name "${name}" ${problem}.`, { details: { BucketName: name } });
}

import { OWNER } from './acl.ts';

export const listBuckets: Handler = async (ctx) => {
  const buckets = await ctx.store.listBuckets();
  sendXml(ctx.res, 200, xmlDocument('ListAllMyBucketsResult', {
    Owner: OWNER,
    Buckets: { Bucket: buckets.map((b) => ({ Name: b.name, CreationDate: b.creationDate })) },
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

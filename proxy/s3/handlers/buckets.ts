// Bucket operations.
import { sendEmpty, sendXml } from '../respond.ts';
import { xmlDocument } from '../xml.ts';
import { readSmallBody } from '../body.ts';
import { parseXml } from '../xml.ts';
import { bucketOf, type Handler } from './context.ts';

const OWNER = { ID: 'floodgate', DisplayName: 'floodgate' };

export const listBuckets: Handler = async (ctx) => {
  const buckets = await ctx.store.listBuckets();
  sendXml(ctx.res, 200, xmlDocument('ListAllMyBucketsResult', {
    Owner: OWNER,
    Buckets: { Bucket: buckets.map((b) => ({ Name: b.name, CreationDate: b.creationDate })) },
  }));
};

export const createBucket: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
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

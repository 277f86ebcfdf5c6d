// Put/Get/DeleteBucketCors on stores that keep a configuration per bucket (the embedded store,
// virtual buckets); others answer NotImplemented.
import { corsStoreOf, corsXml, parseCorsXml, type BucketCorsStore } from '../cors.ts';
import { readSmallBody } from '../body.ts';
import { S3Error } from '../errors.ts';
import { sendEmpty, sendXml } from '../respond.ts';
import { bucketOf, type Handler, type S3Context } from './context.ts';
import { startBody } from './objects.ts';

function corsStore(ctx: S3Context): BucketCorsStore {
  const s = corsStoreOf(ctx.store);
  if (!s) throw new S3Error('NotImplemented', 'Bucket CORS configuration is not implemented for this store.');
  return s;
}

export const getBucketCors: Handler = async (ctx) => {
  const rules = await corsStore(ctx).getBucketCors(bucketOf(ctx));
  if (!rules) throw new S3Error('NoSuchCORSConfiguration', undefined, { details: { BucketName: bucketOf(ctx) } });
  sendXml(ctx.res, 200, corsXml(rules));
};

export const putBucketCors: Handler = async (ctx) => {
  const s = corsStore(ctx);
  startBody(ctx);
  const rules = parseCorsXml(await readSmallBody(ctx.req, ctx.auth, ctx.idleTimeoutMs));
  await s.putBucketCors(bucketOf(ctx), rules);
  sendEmpty(ctx.res, 200);
};

export const deleteBucketCors: Handler = async (ctx) => {
  await corsStore(ctx).deleteBucketCors(bucketOf(ctx));
  sendEmpty(ctx.res, 204);
};

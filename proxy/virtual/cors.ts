// Bucket CORS of virtual buckets, kept in the placement index (one meta value per bucket), so the
// rules survive a restart and every replica sharing a PostgreSQL index serves the same ones.
// Read on each request that carries an Origin: no cache to go stale between replicas.
import type { BucketCorsStore, CorsRule } from '../s3/cors.ts';
import { vbucketOf, type VirtualContext } from './context.ts';

const metaName = (bucket: string) => `cors:${bucket}`;

export function virtualCors(ctx: VirtualContext): BucketCorsStore {
  return {
    async getBucketCors(bucket) {
      vbucketOf(ctx.rt.current(), bucket);
      const v = await ctx.index.getMeta(metaName(bucket));
      return v === undefined ? undefined : JSON.parse(v) as CorsRule[];
    },
    async putBucketCors(bucket, rules) {
      vbucketOf(ctx.rt.current(), bucket);
      await ctx.index.setMeta(metaName(bucket), JSON.stringify(rules));
    },
    async deleteBucketCors(bucket) {
      vbucketOf(ctx.rt.current(), bucket);
      await ctx.index.setMeta(metaName(bucket), undefined);
    },
  };
}

// BackendBucket: one real bucket (MinIO, AWS S3, Ceph, OSS…) a virtual bucket spreads objects
// over. `BackendBucketSpec` is also a `backends[]` entry of the gateway's balancing config; the
// resource narrows it to S3 endpoints and takes credentials from a Secret instead of inline.
import { z } from 'zod';
import { durationSchema, sizeSchema } from './units.ts';
import { bucketName, cel, commonStatus, immutable } from './meta.ts';

export const BackendBucketSpec = z.object({
  kind: z.enum(['s3', 'fs']).default('s3').describe('s3: any S3-compatible endpoint; fs: the embedded store on a local directory'),
  endpoint: z.url({ protocol: /^https?$/ }).optional().describe('s3: http(s)://host[:port]'),
  bucket: bucketName.optional().describe('s3: the real bucket; fs: the bucket inside the directory (default "floodgate")'),
  region: z.string().min(1).max(64).default('us-east-1').describe('region requests are signed for'),
  pathStyle: z.boolean().default(true).describe('http://host/bucket/key rather than http://bucket.host/key'),
  path: z.string().min(1).optional().describe('fs: the directory'),
  maxSize: sizeSchema.optional().describe('capacity; a backend this full takes no new writes'),
  weight: z.number().int().min(0).max(1_000_000).default(1).describe('share for weighted and rendezvous; 0 takes no new writes'),
});
export type BackendBucketSpec = z.infer<typeof BackendBucketSpec>;

export const SecretKeys = z.object({
  name: z.string().min(1).max(253).describe('Secret in the same namespace'),
  accessKeyIdKey: z.string().min(1).max(253).default('accessKeyId').describe('key of the access key id in the Secret'),
  secretAccessKeyKey: z.string().min(1).max(253).default('secretAccessKey').describe('key of the secret access key in the Secret'),
}).strict();
export type SecretKeys = z.infer<typeof SecretKeys>;

export const httpUrl = cel({ rule: "self.matches('^https?://[^/?#\\\\s]+/?$')", message: 'must be an http(s)://host[:port] URL without a path' });

export const BackendBucketResourceSpec = BackendBucketSpec.omit({ kind: true, path: true, endpoint: true, bucket: true }).extend({
  endpoint: z.url({ protocol: /^https?$/ }).max(2048).meta(httpUrl).describe('the S3 endpoint, http(s)://host[:port]'),
  bucket: bucketName.meta(immutable('bucket')).describe('the real bucket on the endpoint (must exist); immutable: objects live there'),
  credentialsSecret: SecretKeys.describe('the Secret holding the access key the gateway and the operator sign with'),
  probeInterval: durationSchema.prefault('60s').describe('how often the operator probes the endpoint and measures usage'),
}).strict();
export type BackendBucketResourceSpec = z.infer<typeof BackendBucketResourceSpec>;

export const BackendBucketStatus = z.object({
  ...commonStatus,
  health: z.enum(['Up', 'Down', 'Unknown']).optional().describe('result of the last probe'),
  latencyMs: z.number().min(0).optional().describe('round trip of the last probe (HEAD bucket), milliseconds'),
  usedBytes: z.number().int().min(0).optional().describe('bytes stored in the bucket'),
  used: z.string().max(32).optional().describe('usedBytes for people, e.g. 1.5Gi'),
  objectCount: z.number().int().min(0).optional().describe('objects stored in the bucket'),
  usageComplete: z.boolean().optional().describe('false when the bucket held more objects than one measurement lists'),
  lastProbeTime: z.string().meta({ format: 'date-time' }).optional().describe('when the endpoint was last probed'),
  lastError: z.string().max(1024).optional().describe('why the last probe failed'),
  usedBy: z.array(z.string().max(253)).max(1024).optional().describe('VirtualBuckets that select this backend'),
});
export type BackendBucketStatus = z.infer<typeof BackendBucketStatus>;

// One virtual bucket's read-through origin as the rest of origin/ sees it: our S3 client on the
// origin bucket (never written to), and the origin's failures as errors a client can act on.
import type { S3Store } from '../../backends/s3/store.ts';
import { openS3Store } from '../../backends/s3/store.ts';
import { isBackendFault } from '../../backends/s3/errors.ts';
import { S3Error } from '../../s3/errors.ts';
import type { BalancingConfig, OriginConfig } from '../config.ts';
import { BalancingConfigError } from '../config.ts';
import { resolveCredentials } from '../backends.ts';

export interface Origin {
  /** The virtual bucket it belongs to. */
  bucket: string;
  config: OriginConfig;
  store: S3Store;
  /** Same fingerprint → the open client is kept across a reload. Holds the keys: never logged. */
  fingerprint: string;
  close(): Promise<void>;
}

function credentialsOf(bucket: string, cfg: OriginConfig): { accessKeyId: string; secretAccessKey: string } {
  try {
    return resolveCredentials(`origin of ${bucket}`, cfg.credentials);
  } catch (e) {
    // "virtualBuckets.<name>.origin": the same path a bad field of the file is reported under.
    throw new BalancingConfigError(`virtualBuckets.${bucket}.origin.credentials: ${(e as Error).message.replace(/^backend origin of \S+: /, '')}`, { cause: e });
  }
}

export function originFingerprint(bucket: string, cfg: OriginConfig, timeouts: BalancingConfig['timeouts']): string {
  return JSON.stringify([cfg.endpoint.replace(/\/+$/, ''), cfg.bucket, cfg.region, cfg.pathStyle, credentialsOf(bucket, cfg), timeouts]);
}

/** Throws BalancingConfigError naming the field when an origin's keys cannot be read (a missing Secret file or variable). */
export function checkOrigins(cfg: BalancingConfig): void {
  for (const v of cfg.virtualBuckets) if (v.origin) originFingerprint(v.name, v.origin, cfg.timeouts);
}

export function openOrigin(bucket: string, cfg: OriginConfig, timeouts: BalancingConfig['timeouts']): Origin {
  const fingerprint = originFingerprint(bucket, cfg, timeouts);
  const store = openS3Store({
    name: `origin of ${bucket}`, endpoint: cfg.endpoint.replace(/\/+$/, ''), region: cfg.region, credentials: credentialsOf(bucket, cfg),
    pathStyle: cfg.pathStyle, connectTimeoutMs: timeouts.connect, firstByteTimeoutMs: timeouts.firstByte, idleTimeoutMs: timeouts.idle,
  });
  return { bucket, config: cfg, store, fingerprint, close: () => store.close() };
}

/**
 * The origin's failure as the client should see it. Answers about the object (NoSuchKey, 304,
 * 412, 416) pass through; anything that is the origin's or the configuration's fault — down,
 * 5xx, refused credentials, its bucket missing — is 503 with Retry-After: the client's request
 * was fine and may succeed later, and the origin's endpoint is never named.
 */
export function originError(bucket: string, e: unknown): unknown {
  if (!(e instanceof S3Error)) return e;
  const why = isBackendFault(e) ? e.message.replace(/^Backend .* is unavailable: /, '').replace(/\.$/, '')
    : e.code === 'NoSuchBucket' ? 'its bucket does not exist'
    : undefined;
  if (why === undefined) return e;
  return new S3Error('ServiceUnavailable', `The read-through origin of bucket ${bucket} is unavailable: ${why}.`, { cause: e, headers: { 'retry-after': '1' } });
}

// Opening one configured backend: a remote S3 bucket (our S3 client) or a directory with the
// embedded filesystem store (one fs store per directory, one bucket inside it). Either way the
// rest of the virtual store sees an ObjectStore plus the bucket to use in it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ObjectStore } from '../store/types.ts';
import { openS3Store } from '../backends/s3/store.ts';
import { S3Error } from '../s3/errors.ts';
import type { BackendConfig, BalancingConfig, CredentialsSource } from './config.ts';
import { BalancingConfigError } from './config.ts';

export interface BackendHandle {
  name: string;
  config: BackendConfig;
  store: ObjectStore;
  /** The bucket inside `store` that holds this backend's objects. */
  bucket: string;
  /** Endpoint URL or directory, for /status. */
  location: string;
  /** Identity across reloads: same fingerprint → the open handle is reused. Never logged. */
  fingerprint: string;
  /** s3 only: a presigned URL for redirect mode. */
  presign?: (method: 'GET' | 'HEAD', key: string, expiresSeconds: number, query?: [string, string][]) => URL;
  probe(signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export const FS_DEFAULT_BUCKET = 'floodgate';

export function resolveCredentials(name: string, c: CredentialsSource | undefined): { accessKeyId: string; secretAccessKey: string } {
  if (!c) throw new BalancingConfigError(`backend ${name}: credentials are required`);
  if ('accessKeyId' in c) return c;
  if ('accessKeyIdEnv' in c) {
    const accessKeyId = process.env[c.accessKeyIdEnv];
    const secretAccessKey = process.env[c.secretAccessKeyEnv];
    if (!accessKeyId || !secretAccessKey) throw new BalancingConfigError(`backend ${name}: environment variables ${c.accessKeyIdEnv} and ${c.secretAccessKeyEnv} must both be set`);
    return { accessKeyId, secretAccessKey };
  }
  const read = (file: string) => {
    try {
      return readFileSync(join(c.secretDir, file), 'utf8').trim();
    } catch (cause) {
      throw new BalancingConfigError(`backend ${name}: cannot read ${file} from ${c.secretDir}`, { cause });
    }
  };
  return { accessKeyId: read('accessKeyId'), secretAccessKey: read('secretAccessKey') };
}

type FsOpener = (dir: string) => Promise<ObjectStore>;
let fsOpener: FsOpener | undefined;

/** The embedded store, loaded on first use (s3-only gateways never load it). */
async function openFs(dir: string): Promise<ObjectStore> {
  if (!fsOpener) {
    const path = '../store/fs/index.ts';
    const mod = (await import(path)) as { openFsStore: FsOpener };
    fsOpener = mod.openFsStore;
  }
  return fsOpener(dir);
}

/** What identifies an open backend's connection; resolves credentials (a rotated Secret changes it). */
export function backendFingerprint(cfg: BackendConfig, timeouts: BalancingConfig['timeouts']): string {
  if (cfg.kind === 'fs') return JSON.stringify(['fs', cfg.path, cfg.bucket ?? FS_DEFAULT_BUCKET]);
  const credentials = resolveCredentials(cfg.name, cfg.credentials);
  return JSON.stringify(['s3', cfg.endpoint!.replace(/\/+$/, ''), cfg.bucket, cfg.region, cfg.pathStyle, credentials, timeouts]);
}

export async function openBackend(cfg: BackendConfig, timeouts: BalancingConfig['timeouts']): Promise<BackendHandle> {
  const fingerprint = backendFingerprint(cfg, timeouts);
  if (cfg.kind === 'fs') {
    const store = await openFs(cfg.path!);
    const bucket = cfg.bucket ?? FS_DEFAULT_BUCKET;
    await store.createBucket(bucket).catch((e: unknown) => {
      if (!(e instanceof S3Error && e.code === 'BucketAlreadyOwnedByYou')) throw e;
    });
    return {
      name: cfg.name, config: cfg, store, bucket, location: cfg.path!,
      fingerprint,
      probe: async () => { await store.headBucket(bucket); },
      close: () => store.close(),
    };
  }
  const credentials = resolveCredentials(cfg.name, cfg.credentials);
  const endpoint = cfg.endpoint!.replace(/\/+$/, '');
  const store = openS3Store({
    name: cfg.name, endpoint, region: cfg.region, credentials, pathStyle: cfg.pathStyle,
    connectTimeoutMs: timeouts.connect, firstByteTimeoutMs: timeouts.firstByte, idleTimeoutMs: timeouts.idle,
  });
  const bucket = cfg.bucket!;
  return {
    name: cfg.name, config: cfg, store, bucket, location: endpoint,
    fingerprint,
    presign: (method, key, expires, query) => store.presign(method, bucket, key, expires, query),
    probe: async () => { await store.probe(bucket); },
    close: () => store.close(),
  };
}

// The three endpoints the s3-tests battery runs against, each with the two users it needs
// ("main" and "alt"): real MinIO directly, Floodgate's gateway with the embedded store, and
// Floodgate's balancing gateway (virtual buckets spread over two buckets of a MinIO backend).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startMinio } from '../../proxy/backends/s3/minio.fixture.ts';
import { openS3Store } from '../../proxy/backends/s3/store.ts';
import { openFsStore } from '../../proxy/store/fs/index.ts';
import { openVirtualStore, parseBalancingConfig } from '../../proxy/virtual/index.ts';
import { startFront } from '../../proxy/front.ts';
import { startGateway } from '../../proxy/server.ts';
import { createLogger } from '../../proxy/observability/log.ts';
import { CLIENTS_BIN } from '../lib/clients.ts';
import type { S3TestsTarget, S3User } from './run.ts';

const exec = promisify(execFile);

const newUser = (name: string): S3User => ({ accessKeyId: `AK${name.toUpperCase()}${randomBytes(6).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(24).toString('base64url') });

/** The gateway's key lookup for the two users (several keys, one namespace, as its credentials file gives). */
const keysOf = (users: S3User[]) => (id: string) => users.find((u) => u.accessKeyId === id)?.secretAccessKey;

const quiet = () => createLogger('error', () => {});

/**
 * MinIO with its root user as "main" and a second user with the readwrite policy as "alt" (added
 * with mc; without mc, alt is main, as s3proxy runs the suite).
 */
export async function minioTarget(): Promise<S3TestsTarget> {
  const minio = await startMinio();
  let alt: S3User = minio.credentials;
  const mc = join(CLIENTS_BIN, 'mc');
  if (existsSync(mc)) {
    const cfg = mkdtempSync(join(tmpdir(), 'floodgate-mc-'));
    try {
      const env = { ...process.env, MC_CONFIG_DIR: cfg };
      const candidate = { accessKeyId: 'alt' + randomBytes(4).toString('hex'), secretAccessKey: randomBytes(16).toString('hex') };
      await exec(mc, ['alias', 'set', 't', minio.endpoint, minio.credentials.accessKeyId, minio.credentials.secretAccessKey], { env });
      await exec(mc, ['admin', 'user', 'add', 't', candidate.accessKeyId, candidate.secretAccessKey], { env });
      await exec(mc, ['admin', 'policy', 'attach', 't', 'readwrite', '--user', candidate.accessKeyId], { env });
      alt = candidate;
    } finally {
      rmSync(cfg, { recursive: true, force: true });
    }
  }
  return { name: 'minio', endpoint: minio.endpoint, main: minio.credentials, alt, close: () => minio.close() };
}

/** `floodgate gateway` with the embedded store in a temp dir. */
export async function embeddedTarget(): Promise<S3TestsTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-s3tests-fs-'));
  const main = newUser('main');
  const alt = newUser('alt');
  const store = await openFsStore(dir, { fsync: false });
  const gw = await startGateway({ store, keys: keysOf([main, alt]), host: '127.0.0.1', port: 0, domains: ['localhost'], region: 'us-east-1', idleTimeoutMs: 10_000, logger: quiet() });
  return {
    name: 'embedded', endpoint: gw.url, main, alt,
    async close() {
      await gw.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The balancing gateway: `pool` virtual buckets (pool-1, pool-2, …), each spread round-robin over
 * two buckets of one MinIO. Virtual buckets are configured, not created through S3, so the battery
 * is handed these instead of creating its own (FG_S3TESTS_BUCKET_POOL, e2e/s3tests/py).
 */
export async function virtualTarget(pool = 16): Promise<S3TestsTarget> {
  const minio = await startMinio();
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-s3tests-vb-'));
  const main = newUser('main');
  const alt = newUser('alt');
  const direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  for (const b of ['back-a', 'back-b']) await direct.createBucket(b);
  await direct.close();
  const buckets = Array.from({ length: pool }, (_, i) => `pool-${i + 1}`);
  const store = await openVirtualStore(parseBalancingConfig({
    backends: ['back-a', 'back-b'].map((bucket) => ({ name: bucket, endpoint: minio.endpoint, bucket, credentials: minio.credentials })),
    virtualBuckets: buckets.map((name) => ({ name, backends: ['back-a', 'back-b'], strategy: 'round-robin' })),
    index: { kind: 'sqlite', path: join(dir, 'index.db') },
  }));
  const gw = await startFront({
    store, virtual: store, keys: keysOf([main, alt]), host: '127.0.0.1', port: 0, domains: ['localhost'], region: 'us-east-1', idleTimeoutMs: 10_000, logger: quiet(),
  });
  return {
    name: 'virtual', endpoint: gw.url, main, alt, bucketPool: buckets,
    async close() {
      await gw.close();
      await store.close();
      await minio.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

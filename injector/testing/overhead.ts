// The injector's overhead, for `make bench`: the same GETs of the same objects, client → sidecar
// (no active fault) → upstream against client → upstream, in one run, as ratios. Run directly
// (`node injector/testing/overhead.ts`) it starts MinIO (or the gateway) and a sidecar itself.
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';

export interface OverheadResult {
  size: number;
  requests: number;
  directMBps: number;
  viaMBps: number;
  throughputRatio: number;
  directP50Ms: number;
  viaP50Ms: number;
  addedP50Ms: number;
}

async function drain(body: unknown): Promise<number> {
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) n += c.length;
  return n;
}

async function timeGets(s3: S3Client, bucket: string, key: string, n: number): Promise<{ totalMs: number; p50: number }> {
  const t: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await drain((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body);
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return { totalMs: performance.now() - start, p50: t[Math.floor(t.length / 2)]! };
}

/** Alternates direct and via-sidecar rounds so drift on a shared machine hits both equally. */
export async function measureOverhead(direct: S3Client, via: S3Client, sizes: { size: number; requests: number }[], rounds = 3): Promise<OverheadResult[]> {
  const bucket = `overhead-${randomBytes(4).toString('hex')}`;
  await direct.send(new CreateBucketCommand({ Bucket: bucket }));
  const out: OverheadResult[] = [];
  for (const { size, requests } of sizes) {
    const key = `obj-${size}`;
    await direct.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: randomBytes(size) }));
    await timeGets(direct, bucket, key, 2);
    await timeGets(via, bucket, key, 2);
    let dMs = 0, vMs = 0;
    const dP: number[] = [], vP: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const d = await timeGets(direct, bucket, key, requests);
      const v = await timeGets(via, bucket, key, requests);
      dMs += d.totalMs; vMs += v.totalMs; dP.push(d.p50); vP.push(v.p50);
    }
    const bytes = size * requests * rounds;
    const med = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
    const directMBps = bytes / 1e6 / (dMs / 1000);
    const viaMBps = bytes / 1e6 / (vMs / 1000);
    out.push({ size, requests: requests * rounds, directMBps, viaMBps, throughputRatio: viaMBps / directMBps, directP50Ms: med(dP), viaP50Ms: med(vP), addedP50Ms: med(vP) - med(dP) });
  }
  return out;
}

if (import.meta.main) {
  // The sidecar runs in its own process, as in a pod, so it does not share the client's event loop.
  const { startUpstream } = await import('./upstream.ts');
  const { spawnInjector } = await import('./spawn.ts');
  const up = await startUpstream();
  const inj = await spawnInjector([], up.url);
  const client = (endpoint: string) => new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: up.creds });
  const direct = client(up.url);
  const via = client(inj.url);
  try {
    const res = await measureOverhead(direct, via, [{ size: 4096, requests: 300 }, { size: 64 * 1024 * 1024, requests: 3 }]);
    process.stdout.write(JSON.stringify({ upstream: up.kind, results: res }, null, 2) + '\n');
  } finally {
    direct.destroy();
    via.destroy();
    await inj.stop();
    await up.close();
  }
}

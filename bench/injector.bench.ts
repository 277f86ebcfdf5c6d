// Injector overhead: client → `floodgate injector` (no active fault) → gateway, against client →
// gateway, same objects, alternating in one run: GET and PUT of 4 KiB and 64 MiB objects at
// concurrency 1 and 32. The gateway serves its embedded store; sidecar and gateway each run in
// their own process. Targets (issue 3): >= 95 % of direct throughput, <= 0.5 ms added p50.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { spawnInjector } from '../injector/testing/spawn.ts';
import { startCliGateway } from './balancing.bench.ts';
import { compare, runLoad, sizeLabel, type Endpoint } from './load.ts';
import { printTable, type Cell } from './table.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const BUCKET = 'bench';

export async function bench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-bench-inj-'));
  const creds = { accessKeyId: 'AKBENCH' + randomBytes(4).toString('hex').toUpperCase(), secretAccessKey: randomBytes(24).toString('base64url') };
  const gw = await startCliGateway(['--data-dir', dir], { FLOODGATE_ACCESS_KEY: creds.accessKeyId, FLOODGATE_SECRET_KEY: creds.secretAccessKey });
  const inj = await spawnInjector([], gw.url).catch(async (e: unknown) => { await gw.stop(); throw e; });
  try {
    const s3 = new S3Client({ endpoint: gw.url, region: 'us-east-1', forcePathStyle: true, credentials: creds });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    s3.destroy();
    const direct: Endpoint = { url: gw.url, creds, bucket: BUCKET };
    const via: Endpoint = { url: inj.url, creds, bucket: BUCKET };
    const rows: Record<string, Cell>[] = [];
    const cells = [
      { size: 4 * KiB, concurrency: 1, maxOps: 2000, maxSeconds: 3 },
      { size: 4 * KiB, concurrency: 32, maxOps: 8000, maxSeconds: 3 },
      { size: 64 * MiB, concurrency: 1, maxOps: 8, maxSeconds: 8 },
      { size: 64 * MiB, concurrency: 32, maxOps: 32, maxSeconds: 15 },
    ];
    for (const size of [4 * KiB, 64 * MiB]) {
      const keys = Array.from({ length: size > MiB ? 4 : 64 }, (_, i) => `get/${size}/${i}`);
      await runLoad(direct, { method: 'PUT', size, concurrency: 4, keys, maxOps: keys.length, maxSeconds: 120 });
      for (const c of cells.filter((x) => x.size === size)) {
        for (const method of ['GET', 'PUT'] as const) {
          const spec = { method, size, concurrency: c.concurrency, maxOps: c.maxOps, maxSeconds: c.maxSeconds,
            keys: method === 'GET' ? keys : Array.from({ length: 64 }, (_, i) => `put/${size}/${i}`) };
          const [d, v] = await compare(direct, via, spec);
          rows.push({
            op: method, size: sizeLabel(size), conc: c.concurrency,
            'direct ops/s': d.opsPerSec, 'via ops/s': v.opsPerSec, 'direct MiB/s': d.mibPerSec, 'via MiB/s': v.mibPerSec,
            'direct p50 ms': d.p50Ms, 'via p50 ms': v.p50Ms, 'direct p99 ms': d.p99Ms, 'via p99 ms': v.p99Ms,
            'added p50 ms': v.p50Ms - d.p50Ms, ratio: v.mibPerSec / d.mibPerSec,
          });
        }
      }
    }
    printTable('injector: client → sidecar (no fault) → gateway vs client → gateway — targets: ratio >= 0.95, added p50 <= 0.5 ms', rows);
  } finally {
    await inj.stop();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

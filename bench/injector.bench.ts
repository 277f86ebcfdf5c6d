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
import { runLoad, sideBySide, type Endpoint } from './load.ts';
import { printTable } from './table.ts';

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
    const rows = await sideBySide({
      names: ['direct', 'via'],
      endpoints: () => [direct, via],
      seed: async (size, keys) => { await runLoad(direct, { method: 'PUT', size, concurrency: 4, keys, maxOps: keys.length, maxSeconds: 120 }); },
    });
    printTable('injector: client → sidecar (no fault) → gateway vs client → gateway — targets: ratio >= 0.95, added p50 <= 0.5 ms', rows);
  } finally {
    await inj.stop();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

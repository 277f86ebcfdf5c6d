// Balancing overhead: `floodgate gateway` serving a virtual bucket over one MinIO bucket, against
// the same MinIO directly, in one run: GET and PUT of 4 KiB and 64 MiB objects at concurrency 1
// and 32. Targets (issue 5): large-object throughput >= 90 % of direct; added p50 <= 1 ms for
// small objects unloaded (concurrency 1).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, startMinio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store } from '../proxy/backends/s3/store.ts';
import { runLoad, sideBySide, type Endpoint } from './load.ts';
import { printTable } from './table.ts';

const ROOT = join(import.meta.dirname, '..');
const VB = 'bench';
const BUCKET = 'fg-bench';

/**
 * `floodgate gateway` in its own process at log level warn (no per-request log lines), started as
 * `./bin/floodgate` starts it (with its node flags; `exec`, so the pid is node's). `root`: the
 * checkout whose gateway runs (the peer bench compares another commit's in the same run).
 */
export async function startCliGateway(args: string[], env: Record<string, string> = {}, root = ROOT): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(join(root, 'bin', 'floodgate'), ['gateway', '--listen', `127.0.0.1:${port}`, '--log-level', 'warn', ...args], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d; });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`gateway exited: ${stderr}`);
    if (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`gateway did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, pid: proc.pid!, async stop() { proc.kill('SIGTERM'); await exited; } };
}

export async function bench(): Promise<void> {
  const minio = await startMinio();
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-bench-bal-'));
  const creds = { accessKeyId: 'AKBENCH' + randomBytes(4).toString('hex').toUpperCase(), secretAccessKey: randomBytes(24).toString('base64url') };
  const direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  let gw: { url: string; stop(): Promise<void> } | undefined;
  try {
    await direct.createBucket(BUCKET);
    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, stringify({
      backends: [{ name: 'minio', endpoint: minio.endpoint, bucket: BUCKET, credentials: minio.credentials }],
      virtualBuckets: [{ name: VB, backends: ['minio'] }],
      credentials: [creds],
    }));
    gw = await startCliGateway(['--config', config, '--data-dir', join(dir, 'data')]);
    const viaGw = (prefix = ''): Endpoint => ({ url: gw!.url, creds, bucket: VB, prefix });
    const viaMinio = (prefix = ''): Endpoint => ({ url: minio.endpoint, creds: minio.credentials, bucket: BUCKET, prefix: `${VB}/${prefix}` });

    const rows = await sideBySide({
      names: ['direct', 'gw'],
      // Directly: the same objects in the backend bucket, under the virtual bucket's namespace;
      // direct PUTs get their own keys so they never replace objects the index knows.
      endpoints: (method) => [viaMinio(method === 'PUT' ? 'direct-' : ''), viaGw()],
      // Objects to read, written once through the gateway (so the index knows them).
      seed: async (size, keys) => { await runLoad(viaGw(), { method: 'PUT', size, concurrency: 4, keys, maxOps: keys.length, maxSeconds: 120 }); },
    });
    printTable('balancing: gateway (virtual bucket over one MinIO bucket) vs the same MinIO directly — targets: 64 MiB ratio >= 0.90, 4 KiB c=1 added p50 <= 1 ms', rows);
  } finally {
    await gw?.stop();
    await direct.close();
    await minio.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

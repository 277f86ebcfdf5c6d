// The real S3 server the injector tests put the sidecar in front of. One switch: a MinIO binary
// when tools/minio.sh has built one into the cache, otherwise the Floodgate gateway with its
// embedded store (it verifies SigV4 against the Host it receives, like MinIO).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort } from '../../e2e/lib/ports.ts';
import { minioServing } from '../../proxy/backends/s3/minio.fixture.ts';

export interface Upstream {
  url: string;
  kind: 'minio' | 'gateway';
  creds: { accessKeyId: string; secretAccessKey: string };
  close(): Promise<void>;
}

export function minioBinary(): string | undefined {
  const p = join(process.env.FLOODGATE_CACHE ?? join(homedir(), '.cache', 'floodgate'), 'minio', 'minio');
  return existsSync(p) && process.env.FLOODGATE_TEST_UPSTREAM !== 'gateway' ? p : undefined;
}

async function startMinio(bin: string): Promise<Upstream> {
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-minio-'));
  const creds = { accessKeyId: 'fg' + randomBytes(6).toString('hex'), secretAccessKey: randomBytes(20).toString('hex') };
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(bin, ['server', join(dir, 'data'), '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${await freePort()}`, '--quiet'], {
    env: { ...process.env, MINIO_ROOT_USER: creds.accessKeyId, MINIO_ROOT_PASSWORD: creds.secretAccessKey, MINIO_BROWSER: 'off', HOME: dir },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d; });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  // A test process that dies without close() must not leave MinIO running.
  const reap = () => { if (proc.exitCode === null) proc.kill('SIGKILL'); };
  process.once('exit', reap);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if (await minioServing(url)) break;
    } catch { /* not up yet */ }
    if (proc.exitCode !== null || Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`minio did not start: ${stderr}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url, kind: 'minio', creds,
    async close() {
      process.off('exit', reap);
      if (proc.exitCode === null) proc.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startUpstream(): Promise<Upstream> {
  const bin = minioBinary();
  if (bin) return startMinio(bin);
  // Loaded only when needed: the gateway is the fallback, MinIO the preferred upstream.
  const { startTestGateway } = await import('../../e2e/lib/gateway.ts');
  const gw = await startTestGateway();
  return { url: gw.url, kind: 'gateway', creds: gw.creds, close: () => gw.close() };
}

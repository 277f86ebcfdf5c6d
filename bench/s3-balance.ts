// S3 Balance (the Go peer, built by tools/s3-balance.sh) as a child process for the peer benchmark:
// its YAML config written from its own config structs (internal/config/config.go), a virtual
// bucket over real buckets, proxy mode, SigV4 auth on, sqlite placement under a temp dir.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../e2e/lib/ports.ts';

const ROOT = join(import.meta.dirname, '..');

/**
 * It appends `?_journal_mode=WAL&_timeout=5000…` (mattn-driver syntax) to a sqlite DSN, which the
 * modernc driver it links ignores: without a busy timeout concurrent PUTs fail with SQLITE_BUSY.
 * These pragmas are the modernc syntax; the trailing empty `_s3b=` soaks up the suffix it appends
 * (left in the last pragma, the second `?` is `SQL logic error: near "?": syntax error`).
 */
export const SQLITE_PRAGMAS = '_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)';

/** The binary's path, or the reason it cannot be built (the script's own words). */
export function s3BalanceBinary(): { bin: string } | { error: string } {
  try {
    const out = execFileSync(join(ROOT, 'tools', 's3-balance.sh'), { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    return { bin: out.trim().split('\n').pop()! };
  } catch (e) {
    const err = e as { status?: number; stderr?: string };
    return { error: (err.stderr ?? String(e)).trim() || `tools/s3-balance.sh exited ${err.status}` };
  }
}

export interface RealBucket { name: string; endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } }

export interface S3Balance {
  url: string;
  pid: number;
  bucket: string;
  creds: { accessKeyId: string; secretAccessKey: string };
  stop(): Promise<void>;
}

export async function startS3Balance(bin: string, dir: string, virtual: string, real: RealBucket[]): Promise<S3Balance> {
  const port = await freePort();
  const creds = { accessKeyId: 'AKS3B' + randomBytes(4).toString('hex').toUpperCase(), secretAccessKey: randomBytes(24).toString('base64url') };
  const config = join(dir, 's3-balance.yaml');
  writeFileSync(config, stringify({
    server: { host: '127.0.0.1', port, read_timeout: '10m', write_timeout: '10m', idle_timeout: '2m' },
    database: { type: 'sqlite', dsn: `${join(dir, 's3-balance.db')}?${SQLITE_PRAGMAS}&_s3b=`, auto_migrate: true, log_level: 'silent' },
    buckets: [
      ...real.map((b) => ({
        name: b.name, endpoint: b.endpoint, region: 'us-east-1', access_key_id: b.credentials.accessKeyId,
        secret_access_key: b.credentials.secretAccessKey, enabled: true, path_style: true, virtual: false, weight: 1,
      })),
      { name: virtual, enabled: true, virtual: true, weight: 1 },
    ],
    balancer: { strategy: 'round-robin' },
    metrics: { enabled: false },
    s3api: { access_key: creds.accessKeyId, secret_key: creds.secretAccessKey, proxy_mode: true, auth_required: true, virtual_host: false },
    api: { enabled: false, token: randomBytes(16).toString('hex') },
  }));
  const proc = spawn(bin, ['-config', config], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d).slice(-4000); });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`s3-balance exited: ${stderr}`);
    if (await fetch(`${url}/`).then(async (r) => { await r.arrayBuffer(); return true; }, () => false)) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`s3-balance did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url, pid: proc.pid!, bucket: virtual, creds,
    async stop() { if (proc.exitCode === null) proc.kill('SIGTERM'); await exited; },
  };
}

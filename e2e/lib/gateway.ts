// Test harness: a real gateway on 127.0.0.1 with a real embedded store in a temp dir, either in
// this process (fast) or as a child process (for kill -9 and CLI tests).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { startGateway, type Gateway } from '../../proxy/server.ts';
import { openFsStore } from '../../proxy/store/fs/index.ts';
import { createLogger } from '../../proxy/observability/log.ts';
import type { ObjectStore } from '../../proxy/store/types.ts';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface TestCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export function newCredentials(): TestCredentials {
  return { accessKeyId: 'AK' + randomBytes(8).toString('hex').toUpperCase(), secretAccessKey: randomBytes(24).toString('base64url') };
}

export function tempDir(prefix = 'floodgate-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Polls fn every 100 ms until it returns a value other than undefined/false; throws naming `what` after ms. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface TestGateway {
  url: string;
  port: number;
  dir: string;
  creds: TestCredentials;
  gateway: Gateway;
  store: ObjectStore;
  /** The gateway's log lines at warn and above. */
  logs: string[];
  client(extra?: Partial<S3ClientConfig>): S3Client;
  close(): Promise<void>;
}

export async function startTestGateway(opts: { idleTimeoutMs?: number; store?: ObjectStore } = {}): Promise<TestGateway> {
  const dir = tempDir();
  const creds = newCredentials();
  const store = opts.store ?? await openFsStore(dir, { fsync: false });
  const logs: string[] = [];
  const gateway = await startGateway({
    store,
    keys: (id) => (id === creds.accessKeyId ? creds.secretAccessKey : undefined),
    host: '127.0.0.1',
    port: 0,
    domains: ['localhost'],
    region: 'us-east-1',
    idleTimeoutMs: opts.idleTimeoutMs ?? 5000,
    logger: createLogger('warn', (line) => { logs.push(line); }),
  });
  const clients: S3Client[] = [];
  return {
    url: gateway.url,
    port: gateway.port,
    dir,
    creds,
    gateway,
    store,
    logs,
    client(extra = {}) {
      const c = new S3Client({ endpoint: gateway.url, region: 'us-east-1', forcePathStyle: true, credentials: creds, ...extra });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.destroy();
      await gateway.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface SpawnedGateway {
  url: string;
  proc: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs `floodgate gateway` as a child process on a free loopback port; one that does not start in
 * `startMs` is killed. `viaBin`: started by ./bin/floodgate (with its node flags) instead of `node main.ts`.
 */
export async function spawnGateway(dataDir: string, creds: TestCredentials, args: string[] = [], startMs = 20_000, viaBin = false): Promise<SpawnedGateway> {
  const command = viaBin ? [join(ROOT, 'bin', 'floodgate')] : [process.execPath, join(ROOT, 'main.ts')];
  const proc = spawn(command[0]!, [...command.slice(1), 'gateway', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...args], {
    env: { ...process.env, FLOODGATE_ACCESS_KEY: creds.accessKeyId, FLOODGATE_SECRET_KEY: creds.secretAccessKey, FLOODGATE_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d; });
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`gateway did not start in ${startMs / 1000}s: ${stderr}`));
    }, startMs);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        const rec = JSON.parse(line) as { msg?: string; url?: string };
        if (rec.msg === 'gateway listening' && rec.url) {
          clearTimeout(timer);
          resolveUrl(rec.url);
        }
      } catch { /* not a log line */ }
    });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`gateway exited ${code}: ${stderr}`)); });
  });
  return {
    url,
    proc,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

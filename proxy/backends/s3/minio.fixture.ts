// A real MinIO server for tests, on 127.0.0.1, built by tools/minio.sh into the cache. Unlike a
// throwaway upstream it can be stopped and started again on the same port and data directory, so
// failover tests can take a backend away and bring it back.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../../e2e/lib/ports.ts';
import { openS3Store, type S3Store } from './store.ts';
export { freePort };

const ROOT = resolve(import.meta.dirname, '../../..');

export interface Minio {
  endpoint: string;
  port: number;
  dir: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  running(): boolean;
  /** SIGKILL by default: a backend that vanishes, not one that says goodbye. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP: the process stays, its sockets accept and buffer, nothing is answered. */
  pause(): void;
  /** SIGCONT after pause(): it carries on with whatever its sockets buffered meanwhile. */
  resume(): void;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** The cached binary, building it first when missing (several minutes, once). */
export function minioBinary(): string {
  const bin = join(process.env.FLOODGATE_CACHE ?? join(homedir(), '.cache', 'floodgate'), 'minio', 'minio');
  if (!existsSync(bin)) execFileSync(join(ROOT, 'tools', 'minio.sh'), { stdio: ['ignore', 'ignore', 'inherit'] });
  return bin;
}

/**
 * Live is not enough: right after start (and more so under load) MinIO answers S3 requests with
 * 503 "Server not initialized yet". An anonymous ListBuckets gets 403 once it really serves.
 */
export async function minioServing(endpoint: string): Promise<boolean> {
  if (!(await fetch(`${endpoint}/minio/health/live`)).ok) return false;
  const r = await fetch(`${endpoint}/`);
  await r.arrayBuffer();
  return r.status !== 503;
}

/** `n` MinIO servers and a path-style store on each (named direct-<i>): the backends of a balancing test. */
export async function startMinios(n: number): Promise<{ minios: Minio[]; direct: S3Store[] }> {
  const minios = await Promise.all(Array.from({ length: n }, () => startMinio()));
  const direct = minios.map((m, i) => openS3Store({ name: `direct-${i}`, endpoint: m.endpoint, region: 'us-east-1', credentials: m.credentials, pathStyle: true }));
  return { minios, direct };
}

export async function startMinio(): Promise<Minio> {
  const bin = minioBinary();
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-minio-'));
  const credentials = { accessKeyId: 'fg' + randomBytes(6).toString('hex'), secretAccessKey: randomBytes(20).toString('hex') };
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const reap = () => { if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); };
  process.on('exit', reap);

  async function start(): Promise<void> {
    const consolePort = await freePort();
    let stderr = '';
    const p = spawn(bin, ['server', join(dir, 'data'), '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'], {
      env: { ...process.env, MINIO_ROOT_USER: credentials.accessKeyId, MINIO_ROOT_PASSWORD: credentials.secretAccessKey, MINIO_BROWSER: 'off', HOME: dir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    proc = p;
    p.stderr!.on('data', (d: Buffer) => { stderr += d; });
    exited = new Promise<void>((r) => p.once('exit', () => r()));
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        if (await minioServing(endpoint)) return;
      } catch { /* not up yet */ }
      if (p.exitCode !== null || Date.now() > deadline) {
        p.kill('SIGKILL');
        throw new Error(`minio did not start on ${endpoint}: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  let paused = false;
  const resume = () => {
    if (paused && proc && proc.exitCode === null) proc.kill('SIGCONT');
    paused = false;
  };

  async function stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (signal !== 'SIGKILL') resume();
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    await exited;
    paused = false;
  }

  await start();
  return {
    endpoint, port, dir, credentials, start, stop, resume,
    pause() {
      if (!proc || proc.exitCode !== null) throw new Error('minio is not running');
      proc.kill('SIGSTOP');
      paused = true;
    },
    running: () => proc !== undefined && proc.exitCode === null && proc.signalCode === null,
    async close() {
      await stop('SIGTERM');
      process.off('exit', reap);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

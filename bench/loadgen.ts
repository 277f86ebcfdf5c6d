// Builds and drives bench/loadgen (Go): the one load generator the peer benchmark points at every
// target. The binary is cached under $FLOODGATE_CACHE/loadgen, named by the hash of its source.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const SRC = join(import.meta.dirname, 'loadgen');
export const CACHE = process.env.FLOODGATE_CACHE ?? join(homedir(), '.cache', 'floodgate');

/** The cached binary, built first (a few seconds, stdlib only) when its source changed. */
export function loadgenBinary(): string {
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'main.go']) hash.update(readFileSync(join(SRC, f)));
  const bin = join(CACHE, 'loadgen', `loadgen-${hash.digest('hex').slice(0, 12)}`);
  if (existsSync(bin)) return bin;
  mkdirSync(join(CACHE, 'loadgen'), { recursive: true });
  execFileSync('go', ['build', '-trimpath', '-o', `${bin}.tmp`, '.'], {
    cwd: SRC, stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GOCACHE: join(CACHE, 'go', 'build'), GOFLAGS: '-buildvcs=false', CGO_ENABLED: '0' },
  });
  renameSync(`${bin}.tmp`, bin);
  return bin;
}

export interface Target {
  url: string;
  bucket: string;
  creds: { accessKeyId: string; secretAccessKey: string };
}

export interface Load {
  method: 'GET' | 'HEAD' | 'PUT';
  size: number;
  /** Key i is prefix + (i mod keys). */
  prefix: string;
  keys: number;
  conc: number;
  maxOps: number;
  maxSeconds: number;
}

export interface LoadResult {
  ops: number; bytes: number; seconds: number; p50Ms: number; p99Ms: number;
  /** The load generator's own CPU seconds. */
  userS: number; sysS: number;
}

function exec(bin: string, args: string[]): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d; });
    p.stderr.on('data', (d: Buffer) => { err += d; });
    p.once('error', reject);
    p.once('close', (code) => {
      if (code === 0) resolve(JSON.parse(out) as LoadResult);
      else reject(new Error(`loadgen exited ${code}: ${err.trim()}`));
    });
  });
}

export function load(bin: string, t: Target, l: Load): Promise<LoadResult> {
  return exec(bin, [
    '-endpoint', t.url, '-bucket', t.bucket, '-access', t.creds.accessKeyId, '-secret', t.creds.secretAccessKey,
    '-method', l.method, '-size', String(l.size), '-prefix', l.prefix, '-keys', String(l.keys),
    '-conc', String(l.conc), '-max-ops', String(l.maxOps), '-max-seconds', String(l.maxSeconds),
  ]);
}

/**
 * The files served over loopback HTTP by the load generator's `serve` method (a plain read/write
 * loop, 256 KiB): GET /<bucket>/<anything><i> is file i. Stopped by `stop()`, or when this process
 * goes away (it exits once its stdin closes).
 */
export function serveFiles(bin: string, files: string[]): Promise<Served> {
  return listening(bin, ['-method', 'serve', ...files]);
}

/**
 * The Go socket relay floor (loadgen's `relay` method: io.Copy both ways per connection, which
 * Linux serves with splice) on 127.0.0.1 in front of 127.0.0.1:<upstreamPort>; stopped like serveFiles.
 */
export function relayGo(bin: string, upstreamPort: number): Promise<Served> {
  return listening(bin, ['-method', 'relay', `127.0.0.1:${upstreamPort}`]);
}

interface Served { url: string; pid: number; stop(): Promise<void> }

/** Runs a load generator method that prints its address, then serves until its stdin closes. */
async function listening(bin: string, args: string[]): Promise<Served> {
  const p = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((r) => p.once('close', () => r()));
  let err = '';
  p.stderr.on('data', (d: Buffer) => { err += d; });
  const addr = await new Promise<string>((resolve, reject) => {
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    p.once('error', reject);
    p.once('close', (code) => reject(new Error(`loadgen ${args[1]} exited ${code}: ${err.trim()}`)));
  });
  return { url: `http://${addr}`, pid: p.pid!, async stop() { p.stdin.end(); p.kill('SIGTERM'); await exited; } };
}

/** Reads the files through the load generator's own loop and buffer (the `cat` floor). */
export function catFiles(bin: string, files: string[], size: number, maxOps: number, maxSeconds: number): Promise<LoadResult> {
  return exec(bin, ['-method', 'cat', '-size', String(size), '-max-ops', String(maxOps), '-max-seconds', String(maxSeconds), ...files]);
}

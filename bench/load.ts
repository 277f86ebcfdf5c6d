// A lean S3 load generator for the bench sections: presigned URLs (signed once per key, so the
// client spends no CPU on signing) over an undici pool with one keep-alive connection per worker.
// Every run is bounded by a request count and a wall-clock budget.
import { Pool } from 'undici';
import { presignUrl, type Credentials } from '../proxy/auth/sign.ts';
import { percentile } from './table.ts';

export interface Endpoint {
  /** http://host:port */
  url: string;
  creds: Credentials;
  /** Bucket in the URL path (path style). */
  bucket: string;
  /** Prepended to every key (e.g. the virtual bucket's namespace on a backend). */
  prefix?: string;
}

export interface LoadSpec {
  method: 'GET' | 'PUT';
  size: number;
  concurrency: number;
  /** Keys to cycle through. */
  keys: readonly string[];
  maxOps: number;
  maxSeconds: number;
}

export interface LoadResult {
  ops: number;
  seconds: number;
  opsPerSec: number;
  mibPerSec: number;
  p50Ms: number;
  p99Ms: number;
  latencies: number[];
}

const MiB = 1024 * 1024;

export function presigned(ep: Endpoint, method: 'GET' | 'PUT', key: string): string {
  const u = new URL(`${ep.url}/${ep.bucket}/${ep.prefix ?? ''}${key}`);
  const signed = presignUrl({ method, url: u, expiresSeconds: 3600, region: 'us-east-1' }, ep.creds);
  return signed.pathname + signed.search;
}

export async function runLoad(ep: Endpoint, spec: LoadSpec): Promise<LoadResult> {
  const pool = new Pool(new URL(ep.url).origin, { connections: spec.concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  const paths = spec.keys.map((k) => presigned(ep, spec.method, k));
  const body = spec.method === 'PUT' ? Buffer.alloc(spec.size, 0x61) : undefined;
  const latencies: number[] = [];
  let next = 0;
  let bytes = 0;
  const started = performance.now();
  const deadline = started + spec.maxSeconds * 1000;
  const worker = async () => {
    while (next < spec.maxOps && performance.now() < deadline) {
      const path = paths[next++ % paths.length]!;
      const t0 = performance.now();
      const r = await pool.request({ method: spec.method, path, body, headers: body ? { 'content-length': String(body.length) } : undefined });
      let n = 0;
      for await (const c of r.body) n += (c as Buffer).length;
      if (r.statusCode !== 200) throw new Error(`${spec.method} ${path.split('?')[0]}: HTTP ${r.statusCode}`);
      latencies.push(performance.now() - t0);
      bytes += spec.method === 'GET' ? n : spec.size;
    }
  };
  try {
    await Promise.all(Array.from({ length: spec.concurrency }, worker));
  } finally {
    await pool.close();
  }
  const seconds = (performance.now() - started) / 1000;
  return {
    ops: latencies.length, seconds, opsPerSec: latencies.length / seconds, mibPerSec: bytes / MiB / seconds,
    p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), latencies,
  };
}

/**
 * Runs the same load against two endpoints alternately (a, b, a, b…), so drift on a shared
 * machine hits both, and merges each side's rounds.
 */
export async function compare(a: Endpoint, b: Endpoint, spec: LoadSpec, rounds = 2): Promise<[LoadResult, LoadResult]> {
  const merge = (rs: LoadResult[]): LoadResult => {
    const latencies = rs.flatMap((r) => r.latencies);
    const seconds = rs.reduce((s, r) => s + r.seconds, 0);
    const mib = rs.reduce((s, r) => s + r.mibPerSec * r.seconds, 0);
    return { ops: latencies.length, seconds, opsPerSec: latencies.length / seconds, mibPerSec: mib / seconds, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), latencies };
  };
  const ra: LoadResult[] = [];
  const rb: LoadResult[] = [];
  // One short warm-up each: connections, JIT, page cache.
  const warm = { ...spec, maxOps: Math.min(spec.maxOps, spec.concurrency * 2), maxSeconds: 2 };
  await runLoad(a, warm);
  await runLoad(b, warm);
  for (let i = 0; i < rounds; i++) {
    ra.push(await runLoad(a, spec));
    rb.push(await runLoad(b, spec));
  }
  return [merge(ra), merge(rb)];
}

export const sizeLabel = (n: number) => (n >= MiB ? `${n / MiB} MiB` : `${n / 1024} KiB`);

// A lean S3 load generator for the bench sections: presigned URLs (signed once per key, so the
// client spends no CPU on signing) over an undici pool with one keep-alive connection per worker.
// Every run is bounded by a request count and a wall-clock budget.
import { Pool } from 'undici';
import { presignUrl, type Credentials } from '../proxy/auth/sign.ts';
import { percentile, type Cell } from './table.ts';

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

const KiB = 1024;

/** The matrix both bench sections measure: 4 KiB and 64 MiB at concurrency 1 and 32, each bounded. */
export const CELLS = [
  { size: 4 * KiB, concurrency: 1, maxOps: 2000, maxSeconds: 3 },
  { size: 4 * KiB, concurrency: 32, maxOps: 8000, maxSeconds: 3 },
  { size: 64 * MiB, concurrency: 1, maxOps: 8, maxSeconds: 8 },
  { size: 64 * MiB, concurrency: 32, maxOps: 32, maxSeconds: 15 },
];

export interface SideBySide {
  /** Column prefixes, e.g. "direct" and "gw". */
  names: [string, string];
  /** The two endpoints for an operation (PUTs may need distinct key spaces). */
  endpoints(method: 'GET' | 'PUT'): [Endpoint, Endpoint];
  /** Writes the objects the GETs read, through whichever endpoint must know them. */
  seed(size: number, keys: string[]): Promise<void>;
}

/** GET and PUT over CELLS, side by side: ops/s, MiB/s, p50/p99, added p50 and the throughput ratio. */
export async function sideBySide(o: SideBySide): Promise<Record<string, Cell>[]> {
  const [a, b] = o.names;
  const rows: Record<string, Cell>[] = [];
  for (const size of [...new Set(CELLS.map((c) => c.size))]) {
    const keys = Array.from({ length: size > MiB ? 4 : 64 }, (_, i) => `get/${size}/${i}`);
    await o.seed(size, keys);
    for (const c of CELLS.filter((x) => x.size === size)) {
      for (const method of ['GET', 'PUT'] as const) {
        const spec = { method, size, concurrency: c.concurrency, maxOps: c.maxOps, maxSeconds: c.maxSeconds,
          keys: method === 'GET' ? keys : Array.from({ length: 64 }, (_, i) => `put/${size}/${i}`) };
        const [ea, eb] = o.endpoints(method);
        const [ra, rb] = await compare(ea, eb, spec);
        rows.push({
          op: method, size: sizeLabel(size), conc: c.concurrency,
          [`${a} ops/s`]: ra.opsPerSec, [`${b} ops/s`]: rb.opsPerSec, [`${a} MiB/s`]: ra.mibPerSec, [`${b} MiB/s`]: rb.mibPerSec,
          [`${a} p50 ms`]: ra.p50Ms, [`${b} p50 ms`]: rb.p50Ms, [`${a} p99 ms`]: ra.p99Ms, [`${b} p99 ms`]: rb.p99Ms,
          'added p50 ms': rb.p50Ms - ra.p50Ms, ratio: rb.mibPerSec / ra.mibPerSec,
        });
      }
    }
  }
  return rows;
}

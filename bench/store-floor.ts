// The embedded store's floor (issue 11): 64 MiB GETs through the gateway against reading the same
// blob files with the load generator's own read loop and 256 KiB buffer (`loadgen -method cat`),
// interleaved, medians of the repetitions. Used by the `peer` and `gateway` sections.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { catFiles, load, type Load, type LoadResult, type Target } from './loadgen.ts';
import { cpu, cpuSince, peakRss, type Cpu } from './proc.ts';
import { median, type Cell } from './table.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export const STORE_FLOOR_TITLE = 'embedded store: GET 64 MiB c=1 through the gateway vs reading the same blob files (same Go loop, 256 KiB reads) — target: ratio >= 0.8';

/** The blob files of `size` bytes under the gateway's data dir (one per object of that size). */
function blobFiles(dataDir: string, size: number): string[] {
  return readdirSync(dataDir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && statSync(join(e.parentPath, e.name)).size === size).map((e) => join(e.parentPath, e.name));
}

/**
 * `keys` objects of 64 MiB under `prefix` exist in `t`'s bucket and nothing else of that size in
 * `dataDir`: GETs them (one warm-up, then `reps` runs interleaved with reading their blob files).
 */
export async function storeAgainstCat(lg: string, t: Target, pid: number, dataDir: string, prefix: string, keys: number, reps: number): Promise<Record<string, Cell>> {
  const size = 64 * MiB;
  const files = blobFiles(dataDir, size);
  if (files.length !== keys) throw new Error(`expected ${keys} blob files of 64 MiB under ${dataDir}, found ${files.length}`);
  const spec: Load = { method: 'GET', size, prefix, keys, conc: 1, maxOps: Math.max(8, keys), maxSeconds: 8 };
  await load(lg, t, { ...spec, maxOps: 1 });
  const get: { r: LoadResult; u: Cpu }[] = [];
  const cat: LoadResult[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const before = cpu(pid);
    const r = await load(lg, t, spec);
    get.push({ r, u: cpuSince(pid, before) });
    cat.push(await catFiles(lg, files, size, spec.maxOps, spec.maxSeconds));
  }
  const g = median(get.map(({ r }) => r.bytes / MiB / r.seconds));
  const f = median(cat.map((r) => r.bytes / MiB / r.seconds));
  return {
    'GET MiB/s': g, 'cat MiB/s': f, 'GET/cat': g / f,
    'gw user s/GiB': median(get.map(({ r, u }) => u.user / (r.bytes / GiB))), 'gw sys s/GiB': median(get.map(({ r, u }) => u.sys / (r.bytes / GiB))),
    'gw peak RSS MiB': peakRss(pid) / MiB,
  };
}

// The embedded store's floor (issue 11): 64 MiB GETs through the gateway against the same blob files
// served by the least a server can do — the load generator's `serve` method, a read/write loop
// over loopback HTTP to the same client (`loadgen -method serve`) — and, for scale, read with no
// socket at all (`loadgen -method cat`). Interleaved, the order rotated, medians of ROUNDS
// rounds. Used by the `peer` and `gateway` sections.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { catFiles, load, serveFiles, type Load, type LoadResult, type Target } from './loadgen.ts';
import { cpu, cpuSince, peakRss, type Cpu } from './proc.ts';
import { median, type Cell } from './table.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** On the shared 2-core VM one round moves by ±30 % (3 rounds gave GET/served 0.30–0.93 on the same code); a round takes 2–4 s. */
const ROUNDS = 9;

export const STORE_FLOOR_TITLE = 'embedded store: GET 64 MiB c=1 through the gateway vs the same blob files served over loopback HTTP by a read/write loop (Go, 256 KiB; no sendfile) to the same client; cat = read with no socket — target: GET/served >= 0.8';

/** The blob files of `size` bytes under the gateway's data dir (one per object of that size). */
function blobFiles(dataDir: string, size: number): string[] {
  return readdirSync(dataDir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && statSync(join(e.parentPath, e.name)).size === size).map((e) => join(e.parentPath, e.name));
}

interface Run { r: LoadResult; u: Cpu }

const perGiB = (runs: Run[], part: keyof Cpu) => median(runs.map(({ r, u }) => u[part] / (r.bytes / GiB)));
const mibs = (runs: LoadResult[]) => median(runs.map((r) => r.bytes / MiB / r.seconds));

/**
 * `keys` objects of 64 MiB under `prefix` exist in `t`'s bucket and nothing else of that size in
 * `dataDir`: GETs them through the gateway (pid `pid`) and from the floor server, and reads their
 * blob files (one warm-up each, then ROUNDS rounds).
 */
export async function storeAgainstFloor(lg: string, t: Target, pid: number, dataDir: string, prefix: string, keys: number): Promise<Record<string, Cell>> {
  const size = 64 * MiB;
  const files = blobFiles(dataDir, size);
  if (files.length !== keys) throw new Error(`expected ${keys} blob files of 64 MiB under ${dataDir}, found ${files.length}`);
  const spec: Load = { method: 'GET', size, prefix, keys, conc: 1, maxOps: Math.max(8, keys), maxSeconds: 8 };
  const floor = await serveFiles(lg, files);
  try {
    const served: Target = { ...t, url: floor.url };
    const measured = (target: Target, p: number) => async (): Promise<Run> => {
      const before = cpu(p);
      const r = await load(lg, target, spec);
      return { r, u: cpuSince(p, before) };
    };
    const kinds = { get: measured(t, pid), served: measured(served, floor.pid), cat: async (): Promise<Run> => ({ r: await catFiles(lg, files, size, spec.maxOps, spec.maxSeconds), u: { user: 0, sys: 0 } }) };
    const names = Object.keys(kinds) as (keyof typeof kinds)[];
    const runs = { get: [] as Run[], served: [] as Run[], cat: [] as Run[] };
    await load(lg, t, { ...spec, maxOps: 1 });
    await load(lg, served, { ...spec, maxOps: 1 });
    for (let rep = 0; rep < ROUNDS; rep++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + rep) % names.length]!;
        runs[name].push(await kinds[name]());
      }
    }
    const g = mibs(runs.get.map(({ r }) => r));
    const s = mibs(runs.served.map(({ r }) => r));
    const c = mibs(runs.cat.map(({ r }) => r));
    return {
      'GET MiB/s': g, 'served MiB/s': s, 'cat MiB/s': c, 'GET/served': g / s, 'GET/cat': g / c,
      'gw user s/GiB': perGiB(runs.get, 'user'), 'gw sys s/GiB': perGiB(runs.get, 'sys'),
      'served user s/GiB': perGiB(runs.served, 'user'), 'served sys s/GiB': perGiB(runs.served, 'sys'),
      'gw peak RSS MiB': peakRss(pid) / MiB,
    };
  } finally {
    await floor.stop();
  }
}

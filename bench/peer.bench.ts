// `make bench ARGS=peer` (issue 11): Floodgate's balancing gateway against direct MinIO, against
// S3 Balance (the Go project it replaces, built by tools/s3-balance.sh) and against the relay floor
// (bench/relay.ts: `net` piping, no HTTP) and the Go relay floor (bench/loadgen's `relay`: io.Copy,
// which Linux serves with splice — what any proxy here can reach), all over the same two MinIO backends and through the
// same neutral Go load generator (bench/loadgen). Cells: GET/PUT 64 MiB at c=1 and c=4 (the
// sidecar passing through to MinIO joins these) and GET/PUT 4 KiB at c=1 and c=16. Targets run
// interleaved (order rotated each repetition), 3 repetitions, medians. Besides throughput: the
// middle process's CPU per GiB (user and sys, /proc/PID/stat), its peak RSS (VmHWM) over the whole
// run, its RSS growth while one 1 GiB object streams in and out, and the embedded store's 64 MiB
// GET against the same blob files served over loopback by a read/write loop (store-floor.ts).
// Every run is bounded in operations and seconds.
// FLOODGATE_BENCH_ONLY=small runs the 4 KiB cells alone (GET, HEAD, PUT; no sidecar, no 1 GiB
// stream, no embedded store); FLOODGATE_BENCH_ONLY=large runs the 64 MiB cells alone (GET, PUT;
// with the sidecar, no 1 GiB stream, no embedded store); FLOODGATE_BENCH_BASE=<checkout> adds that checkout's gateway and
// sidecar (floodgate-base, sidecar-base) for a before/after in one run; FLOODGATE_BENCH_CPU_PROF=
// <dir> runs every Floodgate gateway and sidecar under --cpu-prof, its profile written there when it stops.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { stringify } from 'yaml';
import { startMinio, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store } from '../proxy/backends/s3/store.ts';
import { spawnInjector } from '../injector/testing/spawn.ts';
import { startCliGateway } from './balancing.bench.ts';
import { load, loadgenBinary, relayGo, type Load, type LoadResult, type Target } from './loadgen.ts';
import { cpu, cpuSince, peakRss, rss, type Cpu } from './proc.ts';
import { SQLITE_PRAGMAS, s3BalanceBinary, startS3Balance } from './s3-balance.ts';
import { median, printTable, type Cell } from './table.ts';
import { STORE_FLOOR_TITLE, storeAgainstFloor } from './store-floor.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const REPS = 3;

interface Peer extends Target {
  name: string;
  /** The process between client and MinIO, whose CPU and memory are read; none for direct. */
  pid?: number;
  /** Writes the objects its GETs read; the relay and the sidecar read direct's. */
  seeds: boolean;
  /** Large objects only (the sidecar). */
  largeOnly?: boolean;
}

interface CellSpec { method: 'GET' | 'HEAD' | 'PUT'; size: number; conc: number; maxOps: number; maxSeconds: number }

const CELLS: CellSpec[] = [
  { method: 'GET', size: 64 * MiB, conc: 1, maxOps: 6, maxSeconds: 6 },
  { method: 'GET', size: 64 * MiB, conc: 4, maxOps: 16, maxSeconds: 8 },
  { method: 'PUT', size: 64 * MiB, conc: 1, maxOps: 4, maxSeconds: 8 },
  { method: 'PUT', size: 64 * MiB, conc: 4, maxOps: 8, maxSeconds: 10 },
  { method: 'GET', size: 4 * KiB, conc: 1, maxOps: 2000, maxSeconds: 3 },
  { method: 'GET', size: 4 * KiB, conc: 16, maxOps: 8000, maxSeconds: 3 },
  { method: 'HEAD', size: 4 * KiB, conc: 1, maxOps: 2000, maxSeconds: 3 },
  { method: 'PUT', size: 4 * KiB, conc: 1, maxOps: 1000, maxSeconds: 3 },
  { method: 'PUT', size: 4 * KiB, conc: 16, maxOps: 4000, maxSeconds: 3 },
];
const ONLY_SMALL = process.env.FLOODGATE_BENCH_ONLY === 'small';
const ONLY_LARGE = process.env.FLOODGATE_BENCH_ONLY === 'large';
const cells = () => (ONLY_SMALL ? CELLS.filter((c) => c.size < MiB) : ONLY_LARGE ? CELLS.filter((c) => c.size >= MiB) : CELLS);
const getKeys = (size: number) => (size >= MiB ? 4 : 64);
const putKeys = (size: number) => (size >= MiB ? 8 : 64);
const label = (size: number) => (size >= MiB ? `${size / MiB} MiB` : `${size / KiB} KiB`);

interface Sample { r: LoadResult; cpu?: Cpu }

async function measure(lg: string, t: Peer, l: Load): Promise<Sample> {
  const before = t.pid === undefined ? undefined : cpu(t.pid);
  const r = await load(lg, t, l);
  return { r, cpu: before && cpuSince(t.pid!, before) };
}

/** The relay floor as its own process, so its CPU is read like a gateway's. */
async function startRelay(upstreamPort: number): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const proc = spawn(process.execPath, [join(import.meta.dirname, 'relay.ts'), String(upstreamPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('relay did not start')), 10_000);
    createInterface({ input: proc.stdout! }).once('line', (line) => { clearTimeout(timer); resolve((JSON.parse(line) as { port: number }).port); });
  });
  return { url: `http://127.0.0.1:${port}`, pid: proc.pid!, async stop() { proc.kill('SIGTERM'); await exited; } };
}

/** What a Floodgate process (gateway or sidecar) runs with: --cpu-prof into FLOODGATE_BENCH_CPU_PROF, if set. */
function profEnv(): Record<string, string> {
  const prof = process.env.FLOODGATE_BENCH_CPU_PROF;
  return prof ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --cpu-prof --cpu-prof-dir=${prof}`.trim() } : {};
}

/** `root`: the checkout whose gateway runs (FLOODGATE_BENCH_BASE); a CPU profile when FLOODGATE_BENCH_CPU_PROF names a folder. */
async function startFloodgate(dir: string, backends: { name: string; minio: Minio; bucket: string }[], root?: string) {
  const creds = { accessKeyId: 'AKFG' + randomBytes(4).toString('hex').toUpperCase(), secretAccessKey: randomBytes(24).toString('base64url') };
  const config = join(dir, 'gateway.yaml');
  writeFileSync(config, stringify({
    backends: backends.map((b) => ({ name: b.name, endpoint: b.minio.endpoint, bucket: b.bucket, credentials: b.minio.credentials })),
    virtualBuckets: [{ name: 'peer-fg', backends: backends.map((b) => b.name), strategy: 'round-robin' }],
    credentials: [creds],
  }));
  const gw = await startCliGateway(['--config', config, '--data-dir', join(dir, 'fg-data')], profEnv(), root);
  return { ...gw, creds, bucket: 'peer-fg' };
}

/** Interleaved repetitions of every cell; returns the samples per cell and target. */
async function runCells(lg: string, peers: Peer[]): Promise<Map<CellSpec, Map<string, Sample[]>>> {
  const out = new Map<CellSpec, Map<string, Sample[]>>();
  for (const size of [...new Set(cells().map((c) => c.size))]) {
    for (const t of peers.filter((p) => p.seeds)) {
      await load(lg, t, { method: 'PUT', size, prefix: `get/${size}/`, keys: getKeys(size), conc: 4, maxOps: getKeys(size), maxSeconds: 120 });
    }
    for (const c of cells().filter((x) => x.size === size)) {
      const targets = peers.filter((p) => !(p.largeOnly && size < MiB));
      const spec = (t: Peer): Load => ({
        method: c.method, size, conc: c.conc, maxOps: c.maxOps, maxSeconds: c.maxSeconds,
        prefix: c.method === 'PUT' ? `put/${t.name}/${size}/` : `get/${size}/`, keys: c.method === 'PUT' ? putKeys(size) : getKeys(size),
      });
      // One short warm-up each (connections, JIT, page cache), not counted.
      for (const t of targets) await load(lg, t, { ...spec(t), maxOps: c.conc * (size >= MiB ? 1 : 20), maxSeconds: 3 });
      const samples = new Map<string, Sample[]>(targets.map((t) => [t.name, []]));
      process.stderr.write(`peer: ${c.method} ${label(size)} c=${c.conc}\n`);
      for (let rep = 0; rep < REPS; rep++) {
        const order = targets.map((_, i) => targets[(i + rep) % targets.length]!);
        for (const t of order) samples.get(t.name)!.push(await measure(lg, t, spec(t)));
      }
      out.set(c, samples);
    }
  }
  return out;
}

function tables(results: Map<CellSpec, Map<string, Sample[]>>, names: string[]): void {
  const rate = (c: CellSpec, s: Sample[] | undefined) => (s ? median(s.map(({ r }) => (c.size >= MiB ? r.bytes / MiB / r.seconds : r.ops / r.seconds))) : NaN);
  const p50 = (s: Sample[] | undefined) => (s ? median(s.map(({ r }) => r.p50Ms)) : NaN);
  const perGiB = (s: Sample[] | undefined, k: keyof Cpu | 'total') =>
    (s?.[0]?.cpu ? median(s.map(({ r, cpu: u }) => (k === 'total' ? u!.user + u!.sys : u![k]) / (r.bytes / GiB))) : NaN);
  const msPerOp = (s: Sample[] | undefined) => (s?.[0]?.cpu ? median(s.map(({ r, cpu: u }) => ((u!.user + u!.sys) * 1000) / r.ops)) : NaN);
  const middle = names.filter((n) => n !== 'direct');
  const through: Record<string, Cell>[] = [];
  const latency: Record<string, Cell>[] = [];
  const cpuLarge: Record<string, Cell>[] = [];
  const cpuSmall: Record<string, Cell>[] = [];
  for (const [c, m] of results) {
    const v = (n: string) => rate(c, m.get(n));
    const head = { op: c.method, size: label(c.size), conc: c.conc };
    through.push({
      ...head, unit: c.size >= MiB ? 'MiB/s' : 'ops/s', ...Object.fromEntries(names.map((n) => [n, v(n)])),
      'floodgate/direct': v('floodgate') / v('direct'), 's3balance/direct': v('s3balance') / v('direct'),
      'floodgate/s3balance': v('floodgate') / v('s3balance'), 'relay/direct': v('relay') / v('direct'), 'relay-go/direct': v('relay-go') / v('direct'),
      ...(m.has('floodgate-base') ? { 'floodgate/floodgate-base': v('floodgate') / v('floodgate-base') } : {}),
      ...(c.size >= MiB ? { 'sidecar/direct': v('sidecar') / v('direct') } : {}),
      ...(c.size >= MiB && m.has('sidecar-base') ? { 'sidecar-base/direct': v('sidecar-base') / v('direct') } : {}),
    });
    if (c.size < MiB) {
      latency.push({
        ...head, ...Object.fromEntries(names.filter((n) => m.has(n)).map((n) => [`${n} p50 ms`, p50(m.get(n))])),
        'floodgate added p50 ms': p50(m.get('floodgate')) - p50(m.get('direct')), 's3balance added p50 ms': p50(m.get('s3balance')) - p50(m.get('direct')),
        ...(m.has('floodgate-base') ? { 'floodgate-base added p50 ms': p50(m.get('floodgate-base')) - p50(m.get('direct')) } : {}),
      });
      cpuSmall.push({
        ...head, ...Object.fromEntries(middle.filter((n) => m.has(n)).map((n) => [`${n} ms/op`, msPerOp(m.get(n))])),
        'client (direct) ms/op': median((m.get('direct') ?? []).map(({ r }) => ((r.userS + r.sysS) * 1000) / r.ops)),
      });
    } else {
      const total = (n: string) => perGiB(m.get(n), 'total');
      cpuLarge.push({
        ...head, ...Object.fromEntries(middle.filter((n) => m.has(n)).map((n) => [n, `${perGiB(m.get(n), 'user').toFixed(2)} + ${perGiB(m.get(n), 'sys').toFixed(2)}`])),
        'client (direct)': median((m.get('direct') ?? []).map(({ r }) => (r.userS + r.sysS) / (r.bytes / GiB))),
        'floodgate/relay': total('floodgate') / total('relay'), 's3balance/relay': total('s3balance') / total('relay'),
        'sidecar/relay-go': total('sidecar') / total('relay-go'),
        'floodgate/s3balance': total('floodgate') / total('s3balance'), 'sidecar/floodgate': total('sidecar') / total('floodgate'),
        ...(m.has('sidecar-base') ? { 'sidecar-base/floodgate': total('sidecar-base') / total('floodgate') } : {}),
      });
    }
  }
  printTable(`peer: throughput, median of ${REPS} interleaved repetitions (one neutral Go client, UNSIGNED-PAYLOAD, keep-alive) — targets: floodgate >= s3balance at 64 MiB, >= 0.9 of direct at c=1; sidecar >= 0.95 of direct`, through);
  if (latency.length) printTable('peer: 4 KiB latency, median of the repetitions\' p50 — target: floodgate added p50 <= 1 ms at c=1', latency);
  if (cpuLarge.length) printTable('peer: CPU s per GiB moved, user + sys, of the process in the middle (/proc/PID/stat), and ratios of the totals — targets: floodgate <= s3balance and <= 2x relay; sidecar <= floodgate', cpuLarge);
  if (cpuSmall.length) printTable('peer: CPU ms per 4 KiB operation (user + sys) of the process in the middle', cpuSmall);
}

/** RSS growth of the process in the middle while one 1 GiB object streams in and then out. */
async function streamOne(lg: string, t: Peer): Promise<Record<string, Cell>[]> {
  const rows: Record<string, Cell>[] = [];
  for (const method of ['PUT', 'GET'] as const) {
    const base = rss(t.pid!);
    let peak = base;
    const sampler = setInterval(() => { peak = Math.max(peak, rss(t.pid!)); }, 20);
    const before = cpu(t.pid!);
    const r = await load(lg, t, { method, size: GiB, prefix: 'huge/', keys: 1, conc: 1, maxOps: 1, maxSeconds: 60 }).finally(() => clearInterval(sampler));
    const used = cpuSince(t.pid!, before);
    peak = Math.max(peak, rss(t.pid!));
    rows.push({
      target: t.name, op: method, 'MiB/s': r.bytes / MiB / r.seconds, 'RSS before MiB': base / MiB, 'RSS peak MiB': peak / MiB,
      'RSS growth MiB': (peak - base) / MiB, 'user s/GiB': used.user, 'sys s/GiB': used.sys,
    });
  }
  return rows;
}

/** Floodgate on its embedded store: 64 MiB GETs against its blob files served by the floor (store-floor.ts). */
async function embeddedStore(lg: string, dir: string): Promise<void> {
  const data = join(dir, 'store-data');
  const creds = { accessKeyId: 'AKST' + randomBytes(4).toString('hex').toUpperCase(), secretAccessKey: randomBytes(24).toString('base64url') };
  const gw = await startCliGateway(['--data-dir', data], { FLOODGATE_ACCESS_KEY: creds.accessKeyId, FLOODGATE_SECRET_KEY: creds.secretAccessKey });
  try {
    const s3 = new S3Client({ endpoint: gw.url, region: 'us-east-1', forcePathStyle: true, credentials: creds });
    await s3.send(new CreateBucketCommand({ Bucket: 'store' }));
    s3.destroy();
    const t: Peer = { name: 'store', url: gw.url, bucket: 'store', creds, pid: gw.pid, seeds: true };
    await load(lg, t, { method: 'PUT', size: 64 * MiB, prefix: 'get/', keys: 4, conc: 1, maxOps: 4, maxSeconds: 120 });
    printTable(STORE_FLOOR_TITLE, [await storeAgainstFloor(lg, t, gw.pid, data, 'get/', 4)]);
  } finally {
    await gw.stop();
  }
}

export async function bench(): Promise<void> {
  const lg = loadgenBinary();
  const s3b = s3BalanceBinary();
  if ('error' in s3b) process.stdout.write(`S3 Balance is not measured in this run: ${s3b.error.replace(/\n/g, '\n  ')}\n`);
  else {
    process.stdout.write(`S3 Balance: ${s3b.bin}; its sqlite DSN is given ?${SQLITE_PRAGMAS}&_s3b= — the modernc driver it uses ignores the `
      + `?_journal_mode=…&_timeout=… it appends (without a busy timeout concurrent PUTs fail), and the empty _s3b= absorbs that suffix (a second '?' inside the last pragma is an SQL syntax error)\n`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-bench-peer-'));
  const stops: (() => Promise<void>)[] = [];
  try {
    const a = await startMinio();
    stops.push(() => a.close());
    const b = await startMinio();
    stops.push(() => b.close());
    for (const [m, buckets] of [[a, ['direct', 'fg-a', 'fgb-a', 's3b-a']], [b, ['fg-b', 'fgb-b', 's3b-b']]] as const) {
      const st = openS3Store({ name: 'setup', endpoint: m.endpoint, region: 'us-east-1', credentials: m.credentials, pathStyle: true });
      for (const name of buckets) await st.createBucket(name);
      await st.close();
    }
    const fg = await startFloodgate(dir, [{ name: 'a', minio: a, bucket: 'fg-a' }, { name: 'b', minio: b, bucket: 'fg-b' }]);
    stops.push(() => fg.stop());
    const relay = await startRelay(a.port);
    stops.push(() => relay.stop());
    const relayG = await relayGo(lg, a.port);
    stops.push(() => relayG.stop());
    const sidecar = ONLY_SMALL ? undefined : await spawnInjector([], a.endpoint, undefined, profEnv());
    if (sidecar) stops.push(() => sidecar.stop());
    // FLOODGATE_BENCH_BASE=<checkout of another commit>: its gateway and sidecar join as
    // `floodgate-base` and `sidecar-base`, a before/after in one run.
    const base = process.env.FLOODGATE_BENCH_BASE;
    const sidecarBase = base && !ONLY_SMALL ? await spawnInjector([], a.endpoint, base, profEnv()) : undefined;
    if (sidecarBase) stops.push(() => sidecarBase.stop());
    const peers: Peer[] = [
      { name: 'direct', url: a.endpoint, bucket: 'direct', creds: a.credentials, seeds: true },
      { name: 'floodgate', url: fg.url, bucket: fg.bucket, creds: fg.creds, pid: fg.pid, seeds: true },
    ];
    if (base) {
      mkdirSync(join(dir, 'base'));
      const fgb = await startFloodgate(join(dir, 'base'), [{ name: 'a', minio: a, bucket: 'fgb-a' }, { name: 'b', minio: b, bucket: 'fgb-b' }], base);
      stops.push(() => fgb.stop());
      peers.push({ name: 'floodgate-base', url: fgb.url, bucket: fgb.bucket, creds: fgb.creds, pid: fgb.pid, seeds: true });
    }
    if ('bin' in s3b) {
      mkdirSync(join(dir, 's3b'));
      const s = await startS3Balance(s3b.bin, join(dir, 's3b'), 'peer-s3b', [
        { name: 's3b-a', endpoint: a.endpoint, credentials: a.credentials }, { name: 's3b-b', endpoint: b.endpoint, credentials: b.credentials }]);
      stops.push(() => s.stop());
      peers.push({ name: 's3balance', url: s.url, bucket: s.bucket, creds: s.creds, pid: s.pid, seeds: true });
    }
    peers.push({ name: 'relay', url: relay.url, bucket: 'direct', creds: a.credentials, pid: relay.pid, seeds: false });
    peers.push({ name: 'relay-go', url: relayG.url, bucket: 'direct', creds: a.credentials, pid: relayG.pid, seeds: false });
    if (sidecar) peers.push({ name: 'sidecar', url: sidecar.url, bucket: 'direct', creds: a.credentials, pid: sidecar.pid, seeds: false, largeOnly: true });
    if (sidecarBase) peers.push({ name: 'sidecar-base', url: sidecarBase.url, bucket: 'direct', creds: a.credentials, pid: sidecarBase.pid, seeds: false, largeOnly: true });
    const middle = peers.filter((p) => p.pid !== undefined);
    const idle = new Map(middle.map((p) => [p.name, rss(p.pid!)]));

    const results = await runCells(lg, peers);
    tables(results, peers.map((p) => p.name));
    if (ONLY_SMALL) return;
    if (!ONLY_LARGE) {
      const streamed: Record<string, Cell>[] = [];
      for (const p of middle.filter((x) => !x.name.startsWith('relay'))) streamed.push(...await streamOne(lg, p));
      printTable('peer: one 1 GiB object streamed in (PUT) and out (GET) — target: RSS growth < 64 MiB', streamed);
    }
    printTable('peer: memory of the process in the middle — target: peak < 150 MiB through the whole run', middle.map((p) => ({
      target: p.name, 'RSS after start MiB': idle.get(p.name)! / MiB, 'RSS now MiB': rss(p.pid!) / MiB, 'peak RSS (VmHWM) MiB': peakRss(p.pid!) / MiB,
    })));
    if (!ONLY_LARGE) await embeddedStore(lg, dir);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => { /* already gone */ });
    rmSync(dir, { recursive: true, force: true });
  }
}

// `make bench ARGS=replicas` (issue 13): what copies and background jobs cost, over three MinIO
// backends, through `floodgate gateway` processes and the neutral Go load generator (bench/loadgen):
//   1. PUT throughput with copies 1, 2, 3 at W=1 and W=N against direct MinIO (1 MiB and 64 MiB),
//      interleaved (order rotated each repetition), medians; for W<N also the rate counting the
//      time until the background copies are written (the bucket's underReplicated back to 0).
//   2. Read failover: copies=2, the backend the health monitor ranks fastest is SIGSTOPped (then,
//      in a second run, SIGKILLed); GET p50/p99 before, while it is not yet marked down, and after;
//      the time until reads stop touching it (marked down: reads skip its copies from then on;
//      before that a GET stuck on it is hedged to the other copy after its hedge delay).
//   3. Migration (read-through origin, the `migrate` job through the admin API): MiB/s alone and
//      while a bounded foreground GET+PUT load runs on the same bucket, and that load's p99 against
//      the same load without a migration (before and after).
//   4. Drain (the drain job through the admin API): the same two cells for draining one backend.
// Every load is bounded in operations and seconds; every process started here is stopped by its pid.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import type { StatusSnapshot } from '../proxy/health/status.ts';
import { startMinio, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store } from '../proxy/backends/s3/store.ts';
import { startCliGateway } from './balancing.bench.ts';
import { presigned } from './load.ts';
import { load, loadgenBinary, type Load, type LoadResult, type Target } from './loadgen.ts';
import { median, percentile, printTable, type Cell } from './table.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const REPS = 2;
const BACKENDS = ['a', 'b', 'c'];
const BUCKET = 'floodgate';
const ADMIN = randomBytes(24).toString('hex');

type Gw = Awaited<ReturnType<typeof startCliGateway>> & { creds: Target['creds']; target(vb: string): Target };

async function startGateway(dir: string, name: string, minios: Minio[], config: Record<string, unknown>): Promise<Gw> {
  const creds = { accessKeyId: 'AKRP' + randomBytes(4).toString('hex').toUpperCase(), secretAccessKey: randomBytes(24).toString('base64url') };
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, stringify({
    backends: BACKENDS.map((b, i) => ({ name: b, endpoint: minios[i]!.endpoint, bucket: BUCKET, credentials: minios[i]!.credentials })),
    credentials: [creds],
    ...config,
  }));
  const gw = await startCliGateway(['--config', file, '--data-dir', join(dir, `${name}-data`), '--admin-token', ADMIN]);
  return { ...gw, creds, target: (vb) => ({ url: gw.url, bucket: vb, creds }) };
}

const status = async (gw: Gw) => (await (await fetch(`${gw.url}/status`)).json()) as StatusSnapshot;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls every `everyMs` until `ok`, at most `maxMs`; the time it took, in seconds. */
async function until(what: string, ok: () => Promise<boolean>, maxMs: number, everyMs = 100): Promise<number> {
  const t0 = performance.now();
  while (!(await ok())) {
    if (performance.now() - t0 > maxMs) throw new Error(`replicas bench: ${what} not within ${maxMs / 1000} s`);
    await sleep(everyMs);
  }
  return (performance.now() - t0) / 1000;
}

/**
 * Seconds until no copy is left to write or remove: the bucket's underReplicated 0 and the job
 * queue empty, seen again a queue refresh later (the summary is at most a second old).
 */
async function settle(gw: Gw, vb: string, maxMs: number): Promise<number> {
  const quiet = async () => {
    const s = await status(gw);
    const q = s.jobs;
    return (s.virtualBuckets.find((v) => v.name === vb)?.underReplicated ?? 0) === 0
      && (!q || (q.running === 0 && Object.values(q.queued).every((n) => n === 0)));
  };
  const t0 = performance.now();
  while (performance.now() - t0 < maxMs) {
    if (await quiet()) {
      const at = performance.now();
      await sleep(1_100);
      if (await quiet()) return (at - t0) / 1000;
    } else await sleep(250);
  }
  throw new Error(`replicas bench: ${vb}'s background copies not written within ${maxMs / 1000} s`);
}

// ---- 1. PUT throughput by copies and write quorum ----

const COPIES = [
  { vb: 'copies1', copies: 1 },
  { vb: 'copies2-w1', copies: 2, writeQuorum: 1 },
  { vb: 'copies2-w2', copies: 2 },
  { vb: 'copies3-w1', copies: 3, writeQuorum: 1 },
  { vb: 'copies3-w3', copies: 3 },
];
const PUT_CELLS = [
  { size: MiB, conc: 4, keys: 64, maxOps: 200, maxSeconds: 5 },
  { size: 64 * MiB, conc: 2, keys: 4, maxOps: 8, maxSeconds: 10 },
];

async function putThroughput(lg: string, dir: string, minios: Minio[]): Promise<void> {
  const gw = await startGateway(dir, 'put', minios, {
    virtualBuckets: COPIES.map(({ vb, copies, writeQuorum }) => ({ name: vb, backends: BACKENDS, strategy: 'rendezvous', copies, ...(writeQuorum ? { writeQuorum } : {}) })),
  });
  try {
    const targets = [{ name: 'direct', copies: 1, w: 1, t: { url: minios[0]!.endpoint, bucket: 'direct', creds: minios[0]!.credentials } },
      ...COPIES.map((c) => ({ name: c.vb, copies: c.copies, w: c.writeQuorum ?? c.copies, t: gw.target(c.vb) }))];
    const rows: Record<string, Cell>[] = [];
    for (const c of PUT_CELLS) {
      const spec: Load = { method: 'PUT', size: c.size, prefix: `put/${c.size}/`, keys: c.keys, conc: c.conc, maxOps: c.maxOps, maxSeconds: c.maxSeconds };
      const samples = new Map(targets.map((t) => [t.name, [] as { r: LoadResult; settleS: number }[]]));
      const measure = async (t: (typeof targets)[number], l: Load) => {
        const r = await load(lg, t.t, l);
        const settleS = t.w < t.copies ? await settle(gw, t.name, 600_000) : 0;
        return { r, settleS };
      };
      for (const t of targets) await measure(t, { ...spec, maxOps: c.conc, maxSeconds: 3 }); // warm-up, not counted
      process.stderr.write(`replicas: PUT ${c.size / MiB} MiB c=${c.conc}\n`);
      for (let rep = 0; rep < REPS; rep++) {
        for (let i = 0; i < targets.length; i++) {
          const t = targets[(i + rep) % targets.length]!;
          samples.get(t.name)!.push(await measure(t, spec));
        }
      }
      const rate = (n: string) => median(samples.get(n)!.map(({ r }) => r.bytes / MiB / r.seconds));
      for (const t of targets) {
        const s = samples.get(t.name)!;
        rows.push({
          size: `${c.size / MiB} MiB`, conc: c.conc, target: t.name, copies: t.copies, W: t.w,
          'MiB/s': rate(t.name), 'ops/s': median(s.map(({ r }) => r.ops / r.seconds)),
          'p50 ms': median(s.map(({ r }) => r.p50Ms)), 'p99 ms': median(s.map(({ r }) => r.p99Ms)),
          '/direct': rate(t.name) / rate('direct'), '/copies=1': rate(t.name) / rate('copies1'),
          'incl. background MiB/s': t.w < t.copies ? median(s.map(({ r, settleS }) => r.bytes / MiB / (r.seconds + settleS))) : '',
        });
      }
    }
    printTable(`replicas: PUT throughput by copies and write quorum W over three MinIO backends (rendezvous), median of ${REPS} interleaved repetitions; `
      + '"incl. background": acknowledged bytes over the load time plus the time until every background copy was written (±1 s: the queue summary is refreshed each second)', rows);
  } finally {
    await gw.stop();
  }
}

// ---- 2. Read failover ----

interface Sample { at: number; ms: number; ok: boolean }

/** GETs of `keys` at `conc`, each timed, until `stop()` says so (bounded by maxOps and maxSeconds). */
function getLoop(gw: Gw, vb: string, keys: string[], conc: number, maxOps: number, maxSeconds: number) {
  const ep = { url: gw.url, creds: gw.creds, bucket: vb };
  const paths = keys.map((k) => presigned(ep, 'GET', k));
  const pool = new Pool(gw.url, { connections: conc, pipelining: 1 });
  const samples: Sample[] = [];
  let stopped = false;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (!stopped && next < maxOps && performance.now() - t0 < maxSeconds * 1000) {
      const path = paths[next++ % paths.length]!;
      const at = performance.now();
      let ok = false;
      try {
        const r = await pool.request({ method: 'GET', path });
        await r.body.arrayBuffer();
        ok = r.statusCode === 200;
      } catch { /* counted as failed */ }
      samples.push({ at, ms: performance.now() - at, ok });
    }
  };
  const done = Promise.all(Array.from({ length: conc }, worker)).finally(() => pool.close());
  return { samples, async stop() { stopped = true; await done; } };
}

const FAILOVER = {
  health: { interval: '1s', recoveryInterval: '500ms', failureThreshold: 3, recoveryThreshold: 2, probeTimeout: '1s' },
  timeouts: { connect: '1s', firstByte: '2s', idle: '5s' },
};

async function readFailover(lg: string, dir: string, minios: Minio[]): Promise<void> {
  const vb = 'failover';
  const gw = await startGateway(dir, 'failover', minios, {
    virtualBuckets: [{ name: vb, backends: BACKENDS, strategy: 'rendezvous', copies: 2 }], ...FAILOVER,
  });
  const size = 64 * KiB;
  const keys = Array.from({ length: 64 }, (_, i) => `get/${i}`);
  const rows: Record<string, Cell>[] = [];
  try {
    await load(lg, gw.target(vb), { method: 'PUT', size, prefix: 'get/', keys: keys.length, conc: 4, maxOps: keys.length, maxSeconds: 120 });
    for (const how of ['SIGSTOP', 'SIGKILL'] as const) {
      await until('every backend up', async () => (await status(gw)).backends.every((b) => b.state === 'up'), 120_000);
      // The health monitor's latencies settle under the same GETs first.
      const warm = getLoop(gw, vb, keys, 4, 400, 3);
      await sleep(3_000);
      await warm.stop();
      const fastest = (await status(gw)).backends.filter((b) => b.latencyMs !== undefined).sort((x, y) => x.latencyMs! - y.latencyMs!)[0]!;
      const m = minios[BACKENDS.indexOf(fastest.name)]!;
      const loop = getLoop(gw, vb, keys, 4, 100_000, 90);
      let tStop = NaN;
      let tDown = NaN;
      try {
        await sleep(4_000);
        tStop = performance.now();
        if (how === 'SIGSTOP') m.pause();
        else await m.stop('SIGKILL');
        await until(`${fastest.name} marked down`, async () => (await status(gw)).backends.find((b) => b.name === fastest.name)?.state === 'down', 60_000, 50);
        tDown = performance.now();
        await sleep(4_000);
      } finally {
        await loop.stop();
        if (how === 'SIGSTOP') m.resume();
        else if (!m.running()) await m.start();
      }
      const s = loop.samples;
      const phase = (from: number, to: number) => s.filter((x) => x.at >= from && x.at < to);
      const row = (name: string, xs: Sample[]) => ({
        stop: how, backend: `${fastest.name} (${fastest.latencyMs!.toFixed(1)} ms)`, phase: name, GETs: xs.length, failed: xs.filter((x) => !x.ok).length,
        'p50 ms': percentile(xs.map((x) => x.ms), 50), 'p99 ms': percentile(xs.map((x) => x.ms), 99), 'max ms': Math.max(...xs.map((x) => x.ms)),
        // A GET that touched the stopped backend waited for the first-byte timeout (SIGSTOP) or got a refused connection (SIGKILL).
        '≥ 1 s': xs.filter((x) => x.ms >= 1_000).length,
      });
      rows.push(
        { ...row('before', phase(0, tStop)), 'until down s': '' },
        { ...row('stopped, not yet down', phase(tStop, tDown)), 'until down s': (tDown - tStop) / 1000 },
        { ...row('marked down', phase(tDown, Infinity)), 'until down s': '' },
      );
    }
  } finally {
    for (const m of minios) {
      m.resume();
      if (!m.running()) await m.start();
    }
    await gw.stop();
  }
  printTable(`replicas: read failover, copies=2 over three backends, GET ${size / KiB} KiB c=4; the backend the health monitor ranked fastest stopped `
    + `(health every 1 s, down after 3 failures, first-byte timeout 2 s, hedge delay the default 4× the backend's latency within 50 ms–1 s); "until down": from the stop to /status showing it down, after which reads skip its copies`, rows);
}

// ---- 3. Migration and 4. drain, each alone and under a foreground load ----

const FG_SIZE = 256 * KiB;
const FG_SECONDS = 8;
/** Objects of 1 MiB: in the origin (migrate), or written through the gateway (drain: about a third end up on the drained backend). */
const JOB_OBJECTS = 512;
const JOB_SIZE = MiB;

interface Fg { get: LoadResult; put: LoadResult }

/** The foreground load: GETs of indexed keys and PUTs, at once, each bounded. */
async function foreground(lg: string, t: Target, seconds: number): Promise<Fg> {
  const [get, put] = await Promise.all([
    load(lg, t, { method: 'GET', size: FG_SIZE, prefix: 'fg/get/', keys: 32, conc: 2, maxOps: 4000, maxSeconds: seconds }),
    load(lg, t, { method: 'PUT', size: FG_SIZE, prefix: 'fg/put/', keys: 32, conc: 1, maxOps: 2000, maxSeconds: seconds }),
  ]);
  return { get, put };
}

interface JobRun { objects: number; bytes: number; seconds: number; finished: number }

const adminHeaders = { authorization: `Bearer ${ADMIN}` };
async function adminPost(url: string): Promise<void> {
  const r = await fetch(url, { method: 'POST', headers: adminHeaders });
  if (!r.ok) throw new Error(`POST ${new URL(url).pathname}: ${r.status} ${await r.text()}`);
}

/** A migration run through the admin API, until done; its own times (the counting pass included). */
async function migrate(gw: Gw, vb: string): Promise<JobRun> {
  const api = `${gw.url}/_floodgate/admin/migrations?bucket=${vb}`;
  await adminPost(api);
  type M = NonNullable<NonNullable<StatusSnapshot['virtualBuckets'][number]['origin']>['migration']>;
  let m: M | undefined;
  await until(`the migration of ${vb}`, async () => {
    m = (await (await fetch(api, { headers: adminHeaders })).json()) as M;
    if (m.state === 'failed' || m.state === 'cancelled') throw new Error(`migration ${m.state}: ${m.lastError}`);
    return m.state === 'done';
  }, 600_000, 200);
  const finished = performance.now();
  if (m!.copied !== JOB_OBJECTS || m!.failed) throw new Error(`migration of ${vb}: ${m!.copied} copied, ${m!.failed} failed, expected ${JOB_OBJECTS}`);
  return { objects: m!.copied, bytes: m!.copiedBytes, seconds: (Date.parse(m!.finishedAt!) - Date.parse(m!.startedAt)) / 1000, finished };
}

/** A drain of `backend` through the admin API, from the request until /status shows it drained. */
async function drain(gw: Gw, vb: string, backend: string): Promise<JobRun> {
  const t0 = performance.now();
  await adminPost(`${gw.url}/_floodgate/admin/jobs?kind=drain&bucket=${vb}&backend=${backend}`);
  const of = async () => (await status(gw)).virtualBuckets.find((v) => v.name === vb)?.drains.find((d) => d.backend === backend);
  await until(`the drain of ${backend} in ${vb}`, async () => (await of())?.state === 'drained', 600_000, 200);
  const finished = performance.now();
  const d = (await of())!;
  if (!d.moved) throw new Error(`drain of ${backend} in ${vb} moved nothing`);
  return { objects: d.moved, bytes: d.movedBytes ?? 0, seconds: (finished - t0) / 1000, finished };
}

/**
 * One job alone (on its own bucket), then the same job on another bucket while the foreground
 * load runs there; that load also runs before and after ("without": their mean).
 */
async function jobRows(lg: string, job: string, t: Target, alone: () => Promise<JobRun>, loaded: () => Promise<JobRun>): Promise<Record<string, Cell>[]> {
  await load(lg, t, { method: 'PUT', size: FG_SIZE, prefix: 'fg/get/', keys: 32, conc: 4, maxOps: 32, maxSeconds: 60 });
  await foreground(lg, t, 2); // warm-up
  const before = await foreground(lg, t, FG_SECONDS);
  const idle = await alone();
  const started = performance.now();
  const [busy, during] = await Promise.all([loaded(), foreground(lg, t, FG_SECONDS)]);
  const overlap = Math.min(1, (busy.finished - started) / 1000 / during.get.seconds);
  const after = await foreground(lg, t, FG_SECONDS);
  const base = (k: keyof Fg) => (before[k].p99Ms + after[k].p99Ms) / 2;
  const opsPerS = (r: LoadResult) => r.ops / r.seconds;
  const cells = (r: JobRun) => ({ 'MiB/s': r.bytes / MiB / r.seconds, 'objects/s': r.objects / r.seconds, objects: r.objects, MiB: r.bytes / MiB, s: r.seconds });
  return [
    { job: `${job}, no foreground`, ...cells(idle) },
    {
      job: `${job} + foreground`, ...cells(busy), 'fg overlap': overlap,
      'fg GET p99 ms': during.get.p99Ms, 'GET p99 without ms': base('get'), 'GET p99 ratio': during.get.p99Ms / base('get'),
      'fg PUT p99 ms': during.put.p99Ms, 'PUT p99 without ms': base('put'), 'PUT p99 ratio': during.put.p99Ms / base('put'),
      'fg GET ops/s ratio': opsPerS(during.get) / ((opsPerS(before.get) + opsPerS(after.get)) / 2),
    },
  ];
}

async function backgroundJobs(lg: string, dir: string, minios: Minio[]): Promise<void> {
  const origin = { endpoint: minios[2]!.endpoint, bucket: 'origin', credentials: minios[2]!.credentials, migrate: { concurrency: 4 } };
  const vb = (name: string, extra = {}) => ({ name, backends: BACKENDS, strategy: 'rendezvous', ...extra });
  const gw = await startGateway(dir, 'jobs', minios, {
    virtualBuckets: [vb('mig-idle', { origin }), vb('mig-load', { origin }), vb('drain-idle'), vb('drain-load')],
  });
  try {
    const objects: Load = { method: 'PUT', size: JOB_SIZE, prefix: 'm/', keys: JOB_OBJECTS, conc: 4, maxOps: JOB_OBJECTS, maxSeconds: 300 };
    await load(lg, { url: minios[2]!.endpoint, bucket: 'origin', creds: minios[2]!.credentials }, objects);
    for (const b of ['drain-idle', 'drain-load']) await load(lg, gw.target(b), objects);
    const rows = [
      ...await jobRows(lg, 'migrate', gw.target('mig-load'), () => migrate(gw, 'mig-idle'), () => migrate(gw, 'mig-load')),
      ...await jobRows(lg, 'drain c', gw.target('drain-load'), () => drain(gw, 'drain-idle', 'c'), () => drain(gw, 'drain-load', 'c')),
    ];
    printTable(`replicas: background jobs over three backends, through the admin API, no rate limits — migrate: ${JOB_OBJECTS} origin objects of ${JOB_SIZE / MiB} MiB `
      + `(migrate.concurrency 4); drain: backend c of a bucket of ${JOB_OBJECTS} such objects (rendezvous, copies 1); foreground: GET ${FG_SIZE / KiB} KiB c=2 + `
      + `PUT ${FG_SIZE / KiB} KiB c=1 on the bucket under the job for ${FG_SECONDS} s, "without": the mean of the same load on it before and after; `
      + '"fg overlap": share of the foreground window the job was still going', rows);
  } finally {
    await gw.stop();
  }
}

export async function bench(): Promise<void> {
  const lg = loadgenBinary();
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-bench-replicas-'));
  const minios: Minio[] = [];
  try {
    for (let i = 0; i < BACKENDS.length; i++) minios.push(await startMinio());
    for (const [i, m] of minios.entries()) {
      const st = openS3Store({ name: 'setup', endpoint: m.endpoint, region: 'us-east-1', credentials: m.credentials, pathStyle: true });
      for (const b of [BUCKET, ...(i === 0 ? ['direct'] : []), ...(i === 2 ? ['origin'] : [])]) await st.createBucket(b);
      await st.close();
    }
    const only = process.env.REPLICAS_BENCH_PARTS?.split(',');
    if (!only || only.includes('put')) await putThroughput(lg, dir, minios);
    if (!only || only.includes('failover')) await readFailover(lg, dir, minios);
    if (!only || only.includes('jobs')) await backgroundJobs(lg, dir, minios);
  } finally {
    for (const m of minios) await m.close().catch(() => { /* already gone */ });
    rmSync(dir, { recursive: true, force: true });
  }
}

// `make bench ARGS=gateway`: the gateway as a child process on its embedded store (temp dir, fsync
// on). PUT and GET rate and throughput for 4 KiB and 64 MiB objects at concurrency 1 and 16, the
// gateway's own CPU per operation / per GiB (from /proc/<pid>/stat), its RSS growth while a 1 GiB
// object streams in and out (target < 64 MiB), and the disk written and read directly as the
// ceiling, and 64 MiB GETs against their own blob files served by a read/write loop
// (store-floor.ts). Every loop is bounded in count and time; no body is ever held whole in memory.
import { Agent } from 'node:http';
import { closeSync, fsyncSync, openSync, readFileSync, rmSync, writeSync, createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { newCredentials, spawnGateway, tempDir, type SpawnedGateway } from '../e2e/lib/gateway.ts';
import { objectPath, openRequest, type RawRequest } from '../e2e/lib/raw-s3.ts';
import { percentile, printTable, type Cell } from './table.ts';
import { loadgenBinary } from './loadgen.ts';
import { STORE_FLOOR_TITLE, storeAgainstFloor } from './store-floor.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const BUCKET = 'bench';
const CLK_TCK = 100; // Linux USER_HZ
const SOURCE = Buffer.from(Uint8Array.from({ length: MiB }, (_, i) => (i * 2654435761) >>> 24));

/** `size` bytes streamed from one shared 1 MiB pattern buffer, 256 KiB at a time. */
function pattern(size: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= size) { this.push(null); return; }
      const at = sent % MiB;
      const n = Math.min(256 * KiB, size - sent, MiB - at);
      sent += n;
      this.push(SOURCE.subarray(at, at + n));
    },
  });
}

function procStatus(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * KiB : NaN;
}

/** utime + stime of the process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

interface Client {
  url: string;
  pid: number;
  agent: Agent;
  creds: { accessKeyId: string; secretAccessKey: string };
}

async function put(c: Client, key: string, size: number): Promise<number> {
  const req: RawRequest = {
    method: 'PUT', path: objectPath(BUCKET, key), creds: c.creds, agent: c.agent, payloadHash: 'UNSIGNED-PAYLOAD',
    headers: { 'content-length': String(size) }, body: size <= MiB ? SOURCE.subarray(0, size) : pattern(size),
  };
  const res = await openRequest(c.url, req);
  res.resume();
  await new Promise((r) => res.once('end', r));
  if (res.statusCode !== 200) throw new Error(`PUT ${key}: ${res.statusCode}`);
  return size;
}

async function get(c: Client, key: string): Promise<number> {
  const res = await openRequest(c.url, { method: 'GET', path: objectPath(BUCKET, key), creds: c.creds, agent: c.agent });
  let n = 0;
  for await (const chunk of res) n += (chunk as Buffer).length;
  if (res.statusCode !== 200) throw new Error(`GET ${key}: ${res.statusCode}`);
  return n;
}

interface Run { ops: number; bytes: number; seconds: number; cpu: number; latencies: number[] }

/** Runs `op` from `conc` workers until `maxOps` were started or `maxMs` passed. */
async function drive(c: Client, conc: number, maxOps: number, maxMs: number, op: (i: number) => Promise<number>): Promise<Run> {
  const latencies: number[] = [];
  let next = 0, bytes = 0;
  const cpu0 = cpuSeconds(c.pid);
  const t0 = performance.now();
  const worker = async () => {
    while (next < maxOps && performance.now() - t0 < maxMs) {
      const i = next++;
      const s = performance.now();
      const n = await op(i);
      bytes += n;
      latencies.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: conc }, worker));
  return { ops: latencies.length, bytes, seconds: (performance.now() - t0) / 1000, cpu: cpuSeconds(c.pid) - cpu0, latencies };
}

function row(op: string, size: string, conc: number | string, r: Run): Record<string, Cell> {
  return {
    op, size, conc, ops: r.ops, 'ops/s': r.ops / r.seconds, 'MiB/s': r.bytes / MiB / r.seconds,
    'p50 ms': percentile(r.latencies, 50), 'p99 ms': percentile(r.latencies, 99),
    'gw CPU ms/op': (r.cpu * 1000) / r.ops, 'gw CPU s/GiB': r.bytes / r.ops >= MiB ? r.cpu / (r.bytes / GiB) : NaN,
  };
}

/** The disk's own rate for the same bytes: write + fsync, then read, of `count` files of `size`. */
function directDisk(dir: string, size: number, count: number): { write: Run; read: Promise<Run> } {
  const latencies: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const s = performance.now();
    const fd = openSync(join(dir, `direct-${i}`), 'w');
    for (let at = 0; at < size; at += MiB) writeSync(fd, SOURCE, 0, Math.min(MiB, size - at));
    fsyncSync(fd);
    closeSync(fd);
    latencies.push(performance.now() - s);
  }
  const write: Run = { ops: count, bytes: size * count, seconds: (performance.now() - t0) / 1000, cpu: NaN, latencies };
  const read = (async () => {
    const lat: number[] = [];
    const t1 = performance.now();
    for (let i = 0; i < count; i++) {
      const s = performance.now();
      for await (const _ of createReadStream(join(dir, `direct-${i}`), { highWaterMark: 256 * KiB })) { /* drain */ }
      lat.push(performance.now() - s);
    }
    for (let i = 0; i < count; i++) rmSync(join(dir, `direct-${i}`), { force: true });
    return { ops: count, bytes: size * count, seconds: (performance.now() - t1) / 1000, cpu: NaN, latencies: lat };
  })();
  return { write, read };
}

/** RSS growth and CPU while one `size` object streams in and then out. */
async function streamOne(c: Client, size: number): Promise<Record<string, Cell>[]> {
  const rows: Record<string, Cell>[] = [];
  for (const [op, run] of [['PUT', () => put(c, 'huge', size)], ['GET', () => get(c, 'huge')]] as const) {
    const base = procStatus(c.pid);
    let peak = base;
    const sampler = setInterval(() => { peak = Math.max(peak, procStatus(c.pid)); }, 20);
    const cpu0 = cpuSeconds(c.pid);
    const t0 = performance.now();
    const bytes = await run();
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    peak = Math.max(peak, procStatus(c.pid));
    const cpu = cpuSeconds(c.pid) - cpu0;
    rows.push({
      op, size: `${size / GiB} GiB`, 'MiB/s': bytes / MiB / seconds, 'RSS before MiB': base / MiB, 'RSS peak MiB': peak / MiB,
      'RSS growth MiB': (peak - base) / MiB, 'growth < 64 MiB': peak - base < 64 * MiB ? 'yes' : 'NO', 'gw CPU s/GiB': cpu / (bytes / GiB),
    });
  }
  return rows;
}

export async function bench(): Promise<void> {
  const dir = tempDir('floodgate-bench-');
  const creds = newCredentials();
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  let gw: SpawnedGateway | undefined;
  try {
    gw = await spawnGateway(join(dir, 'data'), creds);
    const c: Client = { url: gw.url, pid: gw.proc.pid!, agent, creds };
    const created = await openRequest(c.url, { method: 'PUT', path: `/${BUCKET}`, creds, agent });
    created.resume();
    if (created.statusCode !== 200) throw new Error(`CreateBucket: ${created.statusCode}`);

    const rows: Record<string, Cell>[] = [];
    const small = 4 * KiB;
    const keys = 64;
    const filled = await drive(c, 4, keys, 30_000, (i) => put(c, `small/${i}`, small)); // warm-up; every GET key exists
    if (filled.ops !== keys) throw new Error(`warm-up wrote ${filled.ops} of ${keys} objects`);
    for (const conc of [1, 16]) {
      rows.push(row('PUT', '4 KiB', conc, await drive(c, conc, conc === 1 ? 2000 : 6000, 5_000, (i) => put(c, `small/${i % keys}`, small))));
      rows.push(row('GET', '4 KiB', conc, await drive(c, conc, conc === 1 ? 3000 : 8000, 5_000, (i) => get(c, `small/${i % keys}`))));
    }
    const large = 64 * MiB;
    for (const conc of [1, 16]) {
      const count = conc === 1 ? 4 : 16;
      rows.push(row('PUT', '64 MiB', conc, await drive(c, conc, count, 60_000, (i) => put(c, `large/${i}`, large))));
      rows.push(row('GET', '64 MiB', conc, await drive(c, conc, count, 60_000, (i) => get(c, `large/${i}`))));
    }
    // Every large/ key is a 64 MiB object now: its blob files are what the floor serves.
    const floor = await storeAgainstFloor(loadgenBinary(), { url: c.url, bucket: BUCKET, creds }, c.pid, join(dir, 'data'), 'large/', 16);
    const disk = directDisk(dir, large, 4);
    rows.push(row('disk write+fsync', '64 MiB', 1, disk.write));
    rows.push(row('disk read', '64 MiB', 1, await disk.read));
    printTable('gateway on the embedded store (child process, fsync on, UNSIGNED-PAYLOAD, keep-alive)', rows);

    printTable(STORE_FLOOR_TITLE, [floor]);
    printTable('streaming one 1 GiB object through the gateway', await streamOne(c, GiB));
  } finally {
    agent.destroy();
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

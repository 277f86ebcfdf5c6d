// The image: its size, how long `make image` takes warm and `ctr images import` takes, and the
// time from start to /readyz of the gateway and the operator, run in a container (private
// containerd, read-only root fs, host network on 127.0.0.1) against the same command run as a
// plain process on the host, as a ratio. The operator talks to a real API server
// (e2e/lib/controlplane.ts) with CRDs installed, leader election off, so /readyz means "caches synced".
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlane, type ControlPlane } from '../e2e/lib/controlplane.ts';
import { containerdUsable, startContainerd, type Containerd } from '../e2e/lib/containerd.ts';
import { freePort } from '../e2e/lib/ports.ts';
import { IMAGE, VERSION } from '../version.ts';
import { percentile, printTable } from './table.ts';

const ROOT = join(import.meta.dirname, '..');
const RUNS = 3;
const ENTRYPOINT = ['/usr/local/bin/node', '/app/main.ts'];
const MB = 1024 * 1024;

async function untilReady(url: string, alive: () => boolean): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < 2400; i++) {
    try { if ((await fetch(url)).ok) return performance.now() - t0; } catch { /* not yet listening */ }
    if (!alive()) throw new Error(`exited before ${url} was ready`);
    await sleep(25);
  }
  throw new Error(`${url} not ready within 60 s`);
}

function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null) return Promise.resolve();
  const done = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGTERM');
  return done;
}

/** Start → /readyz of `floodgate ARGS` (with the port appended) on the host, in ms. */
async function hostStart(args: (port: number) => string[]): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const c = spawn(process.execPath, [join(ROOT, 'main.ts'), ...args(port)], { stdio: 'ignore' });
  try {
    await untilReady(`http://127.0.0.1:${port}/readyz`, () => c.exitCode === null);
    return performance.now() - t0;
  } finally { await stopChild(c); }
}

async function containerStart(ctd: Containerd, scratch: string, id: string, args: (port: number) => string[], mounts: string[] = []): Promise<number> {
  const port = await freePort();
  const vols = ['tmp', 'data'].map((v) => { const d = join(scratch, `${id}-${v}`); mkdirSync(d); chownSync(d, 65532, 65532); return d; });
  const t0 = performance.now();
  const c = ctd.spawnCtr(['run', '--rm', '--read-only', '--net-host',
    '--mount', `type=bind,src=${vols[0]},dst=/tmp,options=rbind:rw`, '--mount', `type=bind,src=${vols[1]},dst=/var/lib/floodgate,options=rbind:rw`,
    ...mounts, IMAGE, id, ...ENTRYPOINT, ...args(port)]);
  try {
    await untilReady(`http://127.0.0.1:${port}/readyz`, () => c.child.exitCode === null);
    return performance.now() - t0;
  } finally {
    await ctd.ctr(['tasks', 'kill', '-s', 'SIGTERM', id], { allowFail: true });
    await c.exited;
  }
}

export async function bench(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'floodgate-bench-image-'));
  try {
    const archive = join(scratch, `floodgate-image-${VERSION}.tar`);
    execFileSync(join(ROOT, 'tools/image/floodgate.sh'), ['--out', archive], { stdio: ['ignore', 'ignore', 'ignore'] });
    const t0 = performance.now();
    execFileSync(join(ROOT, 'tools/image/floodgate.sh'), ['--out', archive], { stdio: ['ignore', 'ignore', 'ignore'] });
    const buildMs = performance.now() - t0;
    const [m] = JSON.parse(execFileSync('tar', ['-xOf', archive, 'manifest.json'], { encoding: 'utf8' })) as { Layers: string[] }[];
    const listing = execFileSync('tar', ['-tvf', archive], { encoding: 'utf8' }).split('\n');
    const sizeOf = (blob: string) => Number(listing.find((l) => l.endsWith(blob))?.split(/\s+/)[2] ?? NaN);
    const rows = [{ what: 'archive (uncompressed)', MiB: statSync(archive).size / MB }];
    m!.Layers.forEach((l, i) => rows.push({ what: `layer ${i + 1} (${['base: node, libs, busybox', 'deps: node_modules', 'app: sources'][i] ?? ''})`, MiB: sizeOf(l) / MB }));
    const gz = Number(execFileSync('sh', ['-c', `gzip -1 -c '${archive}' | wc -c`], { encoding: 'utf8' }).trim());
    rows.push({ what: 'archive gzip -1 (about a registry pull)', MiB: gz / MB });
    printTable(`Image ${IMAGE}; warm \`make image\` ${(buildMs / 1000).toFixed(1)} s`, rows);

    const skip = containerdUsable();
    if (skip) { process.stdout.write(`\n(start-up in a container skipped: ${skip})\n`); return; }
    const ctd = await startContainerd();
    let cp: ControlPlane | undefined;
    try {
      const i0 = performance.now();
      await ctd.ctr(['images', 'import', archive], { timeoutMs: 300_000 });
      const importMs = performance.now() - i0;
      const med = (s: number[]) => percentile(s, 50);
      const row = (part: string, host: number[], container: number[]) => ({ part, host: med(host), container: med(container), 'container/host': med(container) / med(host) });
      const gateway = (dataDir: string) => (port: number) => ['gateway', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir];
      const gw = { host: [] as number[], container: [] as number[] };
      for (let r = 0; r < RUNS; r++) {
        gw.host.push(await hostStart(gateway(join(scratch, `host-data-${r}`))));
        gw.container.push(await containerStart(ctd, scratch, `bench-gw-${r}`, gateway('/var/lib/floodgate')));
      }
      const rows = [row('gateway (embedded store)', gw.host, gw.container)];
      printTable(`Start to /readyz, median of ${RUNS} (ms); ctr images import ${(importMs / 1000).toFixed(1)} s`, rows);

      cp = await startControlPlane();
      await cp.kubectl(['apply', '--server-side', '-f', join(ROOT, 'crds')]);
      chownSync(cp.kubeconfig, 65532, 65532);
      const kubeconfig = cp.kubeconfig;
      const operator = (path: string) => (port: number) => ['operator', '--kubeconfig', path, '--http-listen', `127.0.0.1:${port}`, '--leader-elect', 'false'];
      const op = { host: [] as number[], container: [] as number[] };
      for (let r = 0; r < RUNS; r++) {
        op.host.push(await hostStart(operator(kubeconfig)));
        op.container.push(await containerStart(ctd, scratch, `bench-op-${r}`, operator('/etc/kube/config'),
          ['--mount', `type=bind,src=${kubeconfig},dst=/etc/kube/config,options=rbind:ro`]));
      }
      printTable(`Start to /readyz with a real API server, median of ${RUNS} (ms)`, [row('operator (caches synced)', op.host, op.container)]);
    } finally {
      await cp?.stop();
      await ctd.stop();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

// Resource fault: burn a share of CPU cores. ceil(cores) worker threads each run a duty cycle of
// busy/idle in 50 ms periods (e.g. 1.5 cores = 2 workers at 75 %), so fractional targets hold
// instead of whole-core spikes. The busy part is counted in the thread's own CPU time, not wall
// time: on a loaded machine a wall-clock spin loses the slices it waits for a core, so the share
// fell with the load; counted in CPU time, every period holds duty x 50 ms of CPU for 50 ms of the
// time the thread could run. Stopping terminates the workers.
import { Worker } from 'node:worker_threads';
import type { Running } from './types.ts';

const LOOP = `
const { workerData } = require('node:worker_threads');
const period = 50, busyUs = period * 1000 * workerData.duty, idle = period * (1 - workerData.duty);
const sab = new Int32Array(new SharedArrayBuffer(4));
const cpuUs = () => { const u = process.threadCpuUsage(); return u.user + u.system; };
let x = 0;
for (;;) {
  const start = cpuUs();
  while (cpuUs() - start < busyUs) for (let i = 0; i < 1000; i++) x = (x * 1103515245 + 12345) | 0;
  if (idle > 0) Atomics.wait(sab, 0, 0, idle);
}`;

export async function startCpu(cores: number): Promise<Running> {
  const n = Math.ceil(cores);
  const duty = cores / n;
  const workers = Array.from({ length: n }, () => new Worker(LOOP, { eval: true, workerData: { duty } }));
  await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => { w.once('online', resolve); w.once('error', reject); })));
  for (const w of workers) w.unref();
  return {
    status: () => ({ workers: n, duty }),
    async stop() { await Promise.all(workers.map((w) => w.terminate())); },
    stopSync() { for (const w of workers) void w.terminate(); },
  };
}

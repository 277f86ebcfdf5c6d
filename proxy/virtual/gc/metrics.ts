// Garbage collection as Prometheus gauges (the last or running run per virtual bucket and
// backend), read from the /status snapshot at scrape time like the origin's (origin/metrics.ts).
import { Gauge, type Registry } from 'prom-client';
import type { GcStatus, StatusSnapshot } from '../../health/status.ts';

const seconds = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso) / 1000);

// A value of undefined leaves the pair out (a run not finished has no finish time).
const GAUGES: [name: string, help: string, value: (g: GcStatus) => number | undefined][] = [
  ['floodgate_gc_running', '1 while a garbage collection run goes on', (g) => (g.state === 'running' ? 1 : 0)],
  ['floodgate_gc_cancelled', '1 when the last gc run was cancelled', (g) => (g.state === 'cancelled' ? 1 : 0)],
  ['floodgate_gc_last_started_timestamp_seconds', 'When the last (or running) gc run started, Unix seconds', (g) => seconds(g.startedAt)],
  ['floodgate_gc_last_finished_timestamp_seconds', 'When the last gc run finished (or was cancelled), Unix seconds', (g) => seconds(g.finishedAt)],
  ['floodgate_gc_scanned_objects', 'Backend objects the last gc run looked at', (g) => g.scanned],
  ['floodgate_gc_orphan_objects', 'Orphans the last gc run found: no record holds them, older than gc.minAge, named by no write in flight', (g) => g.orphans],
  ['floodgate_gc_removed_objects', 'Orphans (objects no record names) the last gc run deleted', (g) => g.removed],
  ['floodgate_gc_removed_bytes', 'Bytes of the orphans the last gc run deleted', (g) => g.removedBytes],
  ['floodgate_gc_young_objects', 'Unreferenced objects the last gc run kept for being younger than gc.minAge', (g) => g.young],
  ['floodgate_gc_missing_copies', 'Records whose copy on the backend the last gc run found missing', (g) => g.missing],
  ['floodgate_gc_errors', 'Objects the last gc run could not judge or delete', (g) => g.errors],
];

export function registerGcMetrics(registry: Registry, status: () => Promise<StatusSnapshot>): void {
  let pending: Promise<StatusSnapshot> | undefined;
  const snap = () => (pending ??= status().finally(() => setImmediate(() => { pending = undefined; })));
  for (const [name, help, value] of GAUGES) {
    new Gauge({
      name, help, labelNames: ['bucket', 'backend'], registers: [registry],
      async collect() {
        this.reset();
        for (const vb of (await snap()).virtualBuckets) for (const g of vb.gc ?? []) {
          const v = value(g);
          if (v !== undefined) this.set({ bucket: vb.name, backend: g.backend }, v);
        }
      },
    });
  }
}

// Backend health and capacity as Prometheus gauges, read from the status snapshot at scrape time;
// failures are a counter (they only grow while the process runs), read from the same snapshot.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { StatusSnapshot } from './status.ts';

export function registerBackendMetrics(registry: Registry, status: () => Promise<StatusSnapshot>): void {
  let pending: Promise<StatusSnapshot> | undefined;
  // One snapshot per scrape, shared by every gauge's collect().
  const snap = () => (pending ??= status().finally(() => setImmediate(() => { pending = undefined; })));
  const gauge = (name: string, help: string, value: (b: StatusSnapshot['backends'][number]) => number | undefined) =>
    new Gauge({
      name, help, labelNames: ['backend'], registers: [registry],
      async collect() {
        this.reset();
        for (const b of (await snap()).backends) {
          const v = value(b);
          if (v !== undefined) this.set({ backend: b.name }, v);
        }
      },
    });
  gauge('floodgate_backend_up', '1 when the backend is up, 0 when marked down', (b) => (b.state === 'up' ? 1 : 0));
  gauge('floodgate_backend_latency_seconds', 'Smoothed latency of probes and requests', (b) => (b.latencyMs === undefined ? undefined : b.latencyMs / 1000));
  gauge('floodgate_backend_used_bytes', 'Bytes stored, from the placement index', (b) => b.usedBytes);
  gauge('floodgate_backend_objects', 'Objects stored, from the placement index', (b) => b.objects);
  gauge('floodgate_backend_capacity_bytes', 'Configured maxSize', (b) => b.maxSize);
  gauge('floodgate_backend_free_bytes', 'maxSize minus used bytes', (b) => b.freeBytes);
  new Counter({
    name: 'floodgate_backend_failures_total', help: 'Failures seen since start (probes and requests)', labelNames: ['backend'], registers: [registry],
    async collect() {
      this.reset();
      for (const b of (await snap()).backends) if (b.failures > 0) this.inc({ backend: b.name }, b.failures);
    },
  });
}

// Backend health and capacity as Prometheus gauges, read from the status snapshot at scrape time;
// failures are a counter (they only grow while the process runs), read from the same snapshot.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DrainStatus, StatusSnapshot } from './status.ts';

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
  const jobGauge = (name: string, help: string, field: 'queued' | 'failing') => new Gauge({
    name, help, labelNames: ['kind'], registers: [registry],
    async collect() {
      this.reset();
      const j = (await snap()).jobs;
      for (const [kind, n] of Object.entries(j?.[field] ?? {})) this.set({ kind }, n);
    },
  });
  jobGauge('floodgate_jobs_queued', 'Background jobs in the queue, by kind', 'queued');
  jobGauge('floodgate_jobs_failing', 'Queued background jobs that failed at least once, by kind', 'failing');
  new Counter({
    name: 'floodgate_job_runs_total', help: 'Background job runs by this replica, by kind and outcome', labelNames: ['kind', 'outcome'], registers: [registry],
    async collect() {
      this.reset();
      const j = (await snap()).jobs;
      for (const outcome of ['done', 'failed'] as const) for (const [kind, n] of Object.entries(j?.[outcome] ?? {})) if (n > 0) this.inc({ kind, outcome }, n);
    },
  });
  new Gauge({
    name: 'floodgate_objects_under_replicated', help: 'Objects with a copy still to write, by virtual bucket', labelNames: ['bucket'], registers: [registry],
    async collect() {
      this.reset();
      for (const v of (await snap()).virtualBuckets) if (v.copies !== undefined) this.set({ bucket: v.name }, v.underReplicated ?? 0);
    },
  });
  // Drains (virtual/drains.ts): one series per drained or draining backend of a virtual bucket.
  const drainGauge = (name: string, help: string, value: (d: DrainStatus) => number) => new Gauge({
    name, help, labelNames: ['bucket', 'backend'], registers: [registry],
    async collect() {
      this.reset();
      for (const v of (await snap()).virtualBuckets) for (const d of v.drains ?? []) this.set({ bucket: v.name, backend: d.backend }, value(d));
    },
  });
  drainGauge('floodgate_backend_drained', '1 when the backend is drained, 0 while it is being drained (it takes no new writes either way)', (d) => (d.state === 'drained' ? 1 : 0));
  drainGauge('floodgate_drain_moved_objects', 'Copies the drain moved off the backend', (d) => d.progress?.moved ?? d.moved ?? 0);
  drainGauge('floodgate_drain_moved_bytes', 'Bytes of the copies the drain moved off the backend', (d) => d.progress?.movedBytes ?? d.movedBytes ?? 0);
  drainGauge('floodgate_drain_failed_objects', 'Objects the drain could not move in its current pass (retried)', (d) => d.progress?.failed ?? 0);
  new Counter({
    name: 'floodgate_backend_failures_total', help: 'Failures seen since start (probes and requests)', labelNames: ['backend'], registers: [registry],
    async collect() {
      this.reset();
      for (const b of (await snap()).backends) if (b.failures > 0) this.inc({ backend: b.name }, b.failures);
    },
  });
}

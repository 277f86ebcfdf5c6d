// Read-through and migration progress as Prometheus metrics, read from the /status snapshot at
// scrape time (like the backend gauges in health/metrics.ts).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { OriginStatus, StatusSnapshot } from '../../health/status.ts';

export function registerOriginMetrics(registry: Registry, status: () => Promise<StatusSnapshot>): void {
  let pending: Promise<StatusSnapshot> | undefined;
  const snap = () => (pending ??= status().finally(() => setImmediate(() => { pending = undefined; })));
  const each = async (fn: (bucket: string, o: OriginStatus) => void) => {
    for (const vb of (await snap()).virtualBuckets) if (vb.origin) fn(vb.name, vb.origin);
  };
  const counter = (name: string, help: string, value: (o: OriginStatus) => number) => new Counter({
    name, help, labelNames: ['bucket'], registers: [registry],
    async collect() {
      this.reset();
      await each((bucket, o) => { if (value(o) > 0) this.inc({ bucket }, value(o)); });
    },
  });
  const gauge = (name: string, help: string, value: (o: OriginStatus) => number | undefined) => new Gauge({
    name, help, labelNames: ['bucket'], registers: [registry],
    async collect() {
      this.reset();
      await each((bucket, o) => { const v = value(o); if (v !== undefined) this.set({ bucket }, v); });
    },
  });
  counter('floodgate_origin_reads_total', 'GET/HEAD answered from the read-through origin', (o) => o.reads);
  counter('floodgate_origin_copied_objects_total', 'Objects copied in from the origin after a read', (o) => o.copied);
  counter('floodgate_origin_copied_bytes_total', 'Bytes copied in from the origin after a read', (o) => o.copiedBytes);
  counter('floodgate_origin_copy_failures_total', 'Copies from the origin that failed (each is retried)', (o) => o.copyFailures);
  gauge('floodgate_origin_copies_queued', 'Background copies from the origin waiting or running', (o) => o.copiesQueued);
  gauge('floodgate_origin_migration_running', '1 while the migration runs', (o) => (o.migration ? (o.migration.state === 'running' || o.migration.state === 'counting' ? 1 : 0) : undefined));
  gauge('floodgate_origin_migration_copied_objects', 'Objects the current migration run copied', (o) => o.migration?.copied);
  gauge('floodgate_origin_migration_copied_bytes', 'Bytes the current migration run copied', (o) => o.migration?.copiedBytes);
  gauge('floodgate_origin_migration_failed_objects', 'Objects the current migration run could not copy', (o) => o.migration?.failed);
  gauge('floodgate_origin_migration_remaining_objects', 'Origin objects the current migration run has still to settle', (o) => o.migration?.remainingObjects);
  gauge('floodgate_origin_migration_remaining_bytes', 'Origin bytes the current migration run has still to settle', (o) => o.migration?.remainingBytes);
}

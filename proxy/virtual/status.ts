// The `/status` snapshot of the live configuration: health, latency and capacity per backend,
// and which backends each virtual bucket can write to right now.
import { fits } from '../balancer/strategies.ts';
import type { JobsStatus, StatusSnapshot } from '../health/status.ts';
import { JOB_KINDS } from '../placement/jobs.ts';
import type { RepairProgress } from './copy-jobs.ts';
import { candidatesOf, type VirtualContext } from './context.ts';

export function statusSnapshot(ctx: VirtualContext): StatusSnapshot {
  const gen = ctx.rt.current();
  const backends = [...gen.backends.values()].map((b) => {
    const h = ctx.health.get(b.name);
    const used = ctx.usage.committed(b.name);
    const max = b.config.maxSize;
    return {
      name: b.name,
      kind: b.config.kind,
      location: b.location,
      bucket: b.config.kind === 's3' ? b.bucket : undefined,
      state: h?.state ?? 'up',
      since: (h?.since ?? new Date()).toISOString(),
      latencyMs: h?.latencyMs === undefined ? undefined : Math.round(h.latencyMs * 1000) / 1000,
      lastError: h?.lastError,
      failures: h?.failures ?? 0,
      usedBytes: used.bytes,
      objects: used.objects,
      maxSize: max,
      freeBytes: max === undefined ? undefined : Math.max(0, max - used.bytes),
      weight: b.config.weight,
      labels: b.config.labels,
    };
  });
  const q = ctx.jobs.summary();
  const virtualBuckets = [...gen.buckets.values()].map((vb) => ({
    name: vb.name,
    strategy: vb.config.strategy,
    mode: vb.config.mode,
    backends: vb.backends,
    writable: candidatesOf(ctx, gen, vb).filter((c) => c.weight > 0 && fits(c, 1)).map((c) => c.name),
    copies: vb.config.copies,
    writeQuorum: vb.config.writeQuorum ?? vb.config.copies,
    underReplicated: q?.pendingCopies[vb.name] ?? 0,
    repairs: (q?.repairs ?? []).filter((r) => r.bucket === vb.name).map((r) => {
      const p = r.progress ? JSON.parse(r.progress) as RepairProgress : { scanned: 0, queued: 0 };
      return { ...(r.backend ? { backend: r.backend } : {}), scanned: p.scanned, queued: p.queued };
    }),
    origin: ctx.origins?.status(vb.name),
    gc: ctx.gc?.status(vb.name),
  }));
  const stats = ctx.jobs.stats();
  const jobs: JobsStatus = {
    queued: Object.fromEntries(JOB_KINDS.map((k) => [k, q?.kinds[k].queued ?? 0])),
    failing: Object.fromEntries(JOB_KINDS.map((k) => [k, q?.kinds[k].failing ?? 0])),
    done: stats.done, failed: stats.failed, running: stats.running, errors: q?.errors ?? [],
  };
  return { generatedAt: new Date().toISOString(), configGeneration: gen.id, backends, virtualBuckets, jobs };
}

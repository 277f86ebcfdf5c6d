// The `/status` snapshot of the live configuration: health, latency and capacity per backend,
// and which backends each virtual bucket can write to right now.
import { fits } from '../balancer/strategies.ts';
import type { DrainStatus, JobsStatus, MoveStatus, StatusSnapshot } from '../health/status.ts';
import { JOB_KINDS, type JobSummary } from '../placement/jobs.ts';
import { progressOf } from './moves.ts';
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
    ...moveStatus(ctx, vb.name, vb.config.drain ?? [], q),
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

function progressView(m: JobSummary['moves'][number]): MoveStatus {
  const p = progressOf(m);
  const last = p.errors.at(-1);
  return { job: m.id, pass: p.pass, scanned: p.scanned, moved: p.moved, movedBytes: p.movedBytes, failed: p.failed, attempts: m.attempts, ...(last ? { lastError: `${last.key}: ${last.error}` } : {}), ...(p.waiting ? { waiting: p.waiting } : {}) };
}

/** The bucket's drains (marked in the index, or asked for by its configuration) and its rebalance. */
function moveStatus(ctx: VirtualContext, bucket: string, configured: string[], q: JobSummary | undefined): { drains: DrainStatus[]; rebalance?: MoveStatus } {
  const marks = ctx.drains.marks(bucket);
  const moves = (q?.moves ?? []).filter((m) => m.bucket === bucket);
  const names = [...new Set([...Object.keys(marks), ...configured])].sort();
  const drains = names.map((backend): DrainStatus => {
    const mark = marks[backend] ?? { state: 'draining' as const, since: new Date().toISOString() };
    const job = moves.find((m) => m.kind === 'drain' && m.backend === backend);
    return {
      backend, state: mark.state, since: mark.since,
      ...(mark.moved !== undefined ? { moved: mark.moved, movedBytes: mark.movedBytes ?? 0 } : {}),
      ...(job && mark.state === 'draining' ? { progress: progressView(job) } : {}),
    };
  });
  const rebalance = moves.find((m) => m.kind === 'rebalance');
  return { drains, ...(rebalance ? { rebalance: progressView(rebalance) } : {}) };
}

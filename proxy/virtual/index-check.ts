// The gateway's start: before it serves, the index must be as new as its backends
// (index-marker.ts). When it is not, it is rebuilt from the backends' listings (reindex.ts); a
// rebuild that could not list every backend does not count, and is tried again until it does.
// While this runs the store refuses S3 calls with 503 and /readyz answers 503, so a client
// never sees a listing with objects missing.
import { setTimeout as sleep } from 'node:timers/promises';
import type { VirtualContext } from './context.ts';
import { checkMarkers, indexIdentity, judge, writeMarkers, type Verdict } from './index-marker.ts';
import { reindex, type ReindexReport } from './reindex.ts';

export interface IndexCheck {
  /** The index is current (after a rebuild when one was needed). */
  current: boolean;
  verdict: Verdict;
  /** Set when a rebuild ran. */
  report?: ReindexReport;
}

/** One attempt. */
export async function checkIndexOnce(ctx: VirtualContext): Promise<IndexCheck> {
  const { gen, release } = ctx.rt.enter();
  try {
    const { identity, session, created } = await indexIdentity(ctx);
    const verdict = judge(await checkMarkers(ctx, gen, identity, session), created);
    let report: ReindexReport | undefined;
    if (verdict.reindex) {
      if (verdict.unreachable.length) return { current: false, verdict };
      ctx.log('warn', 'placement index older than its backends: rebuilding it before serving', { reasons: verdict.reasons.slice(0, 20) });
      report = await reindex(ctx);
      if (report.unreachable.length) return { current: false, verdict: { ...verdict, unreachable: report.unreachable }, report };
    }
    const next = session + 1;
    await ctx.index.setMeta('session', String(next));
    await writeMarkers(ctx, gen, { index: identity, session: next });
    return { current: true, verdict, report };
  } finally {
    release();
  }
}

/** Retries with backoff (1 s → 30 s) until the index is current or `signal` aborts. */
export async function ensureIndexCurrent(ctx: VirtualContext, signal?: AbortSignal): Promise<IndexCheck | undefined> {
  for (let attempt = 1, delay = 1_000; !signal?.aborted; attempt++, delay = Math.min(delay * 2, 30_000)) {
    let r: IndexCheck | undefined;
    try {
      r = await checkIndexOnce(ctx);
    } catch (e) {
      ctx.log('warn', 'index check failed; retrying', { attempt, error: (e as Error).message });
    }
    if (r?.current) {
      if (r.report) ctx.log('info', 'placement index rebuilt', { scanned: r.report.scanned, added: r.report.added, updated: r.report.updated, removed: r.report.removed });
      else if (r.verdict.unreachable.length) ctx.log('warn', 'placement index current on the backends that answered; not checked', { backends: r.verdict.unreachable });
      return r;
    }
    if (r) ctx.log('warn', 'placement index must be rebuilt but a backend cannot be listed; not serving until it can', { attempt, unreachable: r.verdict.unreachable, reasons: r.verdict.reasons.slice(0, 20) });
    await sleep(delay, undefined, { signal }).catch(() => {});
  }
  return undefined;
}

// The gateway's garbage collection runs (/status: the last or running run on each backend) as the
// VirtualBucket's one status.gc block: counts summed, the earliest start and the latest end.
import type { VirtualBucketStatus } from '../../crds/virtualbucket.ts';
import type { GcStatus } from '../../proxy/health/status.ts';

const sum = (runs: GcStatus[], f: (g: GcStatus) => number) => runs.reduce((n, g) => n + f(g), 0);

export function gcProgress(runs: GcStatus[] | undefined): VirtualBucketStatus['gc'] {
  if (!runs?.length) return undefined;
  const state = runs.some((g) => g.state === 'running') ? 'Running' : runs.some((g) => g.state === 'cancelled') ? 'Cancelled' : 'Done';
  const ends = runs.map((g) => g.finishedAt);
  const lastError = runs.flatMap((g) => g.lastErrors).at(-1);
  return {
    state,
    startedAt: runs.map((g) => g.startedAt).sort()[0]!,
    ...(state !== 'Running' && ends.every((e) => e !== undefined) ? { finishedAt: ends.sort().at(-1)! } : {}),
    backends: runs.length,
    orphansFound: sum(runs, (g) => g.orphans),
    orphansRemoved: sum(runs, (g) => g.removed),
    removedBytes: sum(runs, (g) => g.removedBytes),
    youngObjects: sum(runs, (g) => g.young),
    missingCopies: sum(runs, (g) => g.missing),
    errors: sum(runs, (g) => g.errors),
    ...(lastError ? { lastError: `${lastError.key}: ${lastError.error}`.slice(0, 1024) } : {}),
  };
}

// Where rendezvous places a bucket's keys follows from its strategy, its backend set and their
// weights. When the index last ran the bucket with other ones — a reload changed them, or the
// gateway starts with a configuration changed while it was stopped — objects may not be where
// the strategy places them now, and a rebalance (moves.ts) is queued: one across every replica
// sharing the index (drains.ts startRebalance). A switch *to* rendezvous queues one too (the
// objects were placed by another strategy); a switch away queues nothing, nor does any change
// of a bucket on another strategy: those place each write anew, and never move objects. A
// bucket the index has no record of (a new index, a new bucket) has nothing placed otherwise.
import type { VirtualContext } from './context.ts';
import { changedSettings } from './bucket-settings.ts';
import { startRebalance } from './drains.ts';
import { rebalances } from './moves.ts';
import type { Generation, VirtualBucketRuntime } from './runtime.ts';

/** What a bucket's placement depends on, the same whatever order the backends are listed in. */
export function placementOf(vb: VirtualBucketRuntime, gen: Generation): string {
  const backends = [...vb.backends].sort().map((b) => [b, gen.backends.get(b)?.config.weight]);
  return JSON.stringify({ strategy: vb.config.strategy, backends });
}

/** Queues the rebalances the current configuration's placement changes call for (at start and on every reload), then records it. */
export async function checkPlacement(ctx: VirtualContext): Promise<void> {
  const gen = ctx.rt.current();
  const { changed, record } = await changedSettings(ctx, gen, 'placement', placementOf);
  for (const c of changed) {
    if (c.was === undefined || !rebalances(gen.buckets.get(c.bucket)!)) continue;
    const r = await startRebalance(ctx, c.bucket);
    if (!r.ok) ctx.log('warn', 'rebalance after a placement change not queued', { bucket: c.bucket, error: r.message });
  }
  await record();
}

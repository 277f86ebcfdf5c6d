// Settings of each virtual bucket the index remembers (meta `<what>:<bucket>`), so a change is
// acted on whether a reload brought it or it was made while no gateway ran (found at the next
// start), and by one replica or several sharing the index. The caller records the new values
// only after queuing what the change needs: a crash in between finds the change again.
import type { VirtualContext } from './context.ts';
import type { Generation, VirtualBucketRuntime } from './runtime.ts';

export interface SettingChange {
  bucket: string;
  /** As the index last recorded it; undefined when it has no record of the bucket. */
  was: string | undefined;
  now: string;
}

/** The buckets of `gen` whose `what` (from `valueOf`) is not what the index recorded; `record()` stores the new values. */
export async function changedSettings(ctx: VirtualContext, gen: Generation, what: string, valueOf: (vb: VirtualBucketRuntime, gen: Generation) => string): Promise<{ changed: SettingChange[]; record: () => Promise<void> }> {
  const changed: SettingChange[] = [];
  for (const vb of gen.buckets.values()) {
    const now = valueOf(vb, gen);
    const was = await ctx.index.getMeta(`${what}:${vb.name}`);
    if (was !== now) changed.push({ bucket: vb.name, was, now });
  }
  return {
    changed,
    async record() {
      for (const c of changed) await ctx.index.setMeta(`${what}:${c.bucket}`, c.now);
    },
  };
}

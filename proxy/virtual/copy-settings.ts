// A change to a bucket's copies or backends (at start or on reload) means every record may
// be short of copies: a repair scan of the bucket is queued. The settings last repaired for are
// kept in the index's meta, so an unchanged restart queues nothing.
import type { VirtualContext } from './context.ts';
import { queueRepairs } from './copy-jobs.ts';

export async function checkCopySettings(ctx: VirtualContext): Promise<void> {
  const changed: { bucket: string; meta: string; value: string; repair: boolean }[] = [];
  for (const vb of ctx.rt.current().buckets.values()) {
    const meta = `copies:${vb.name}`;
    const value = JSON.stringify({ copies: vb.config.copies, backends: vb.backends });
    const was = await ctx.index.getMeta(meta);
    // A single-copy bucket is scanned only when it had more copies before (they are trimmed).
    const before = was ? (JSON.parse(was) as { copies?: number }).copies ?? 1 : 1;
    if (was !== value) changed.push({ bucket: vb.name, meta, value, repair: vb.config.copies > 1 || before > 1 });
  }
  // Queued before the settings are recorded: a crash in between queues it again next time.
  const repairs = changed.filter((c) => c.repair).map((c) => c.bucket);
  if (repairs.length) await queueRepairs(ctx, '', repairs);
  for (const c of changed) await ctx.index.setMeta(c.meta, c.value);
}

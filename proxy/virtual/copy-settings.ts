// A change to a bucket's copies or backends (at start or on reload) means every record may
// be short of copies: a repair scan of the bucket is queued. The settings last repaired for are
// kept in the index's meta (bucket-settings.ts), so an unchanged restart queues nothing.
import type { VirtualContext } from './context.ts';
import { queueRepairs } from './copy-jobs.ts';
import { changedSettings } from './bucket-settings.ts';

const copiesIn = (value: string | undefined): number => (value ? (JSON.parse(value) as { copies?: number }).copies ?? 1 : 1);

export async function checkCopySettings(ctx: VirtualContext): Promise<void> {
  const { changed, record } = await changedSettings(ctx, ctx.rt.current(), 'copies', (vb) => JSON.stringify({ copies: vb.config.copies, backends: vb.backends }));
  // A single-copy bucket is scanned only when it had more copies before (they are trimmed).
  const repairs = changed.filter((c) => copiesIn(c.now) > 1 || copiesIn(c.was) > 1).map((c) => c.bucket);
  if (repairs.length) await queueRepairs(ctx, '', repairs);
  await record();
}

// Background upkeep: multipart uploads older than `uploads.maxAge` are aborted on their backend
// and forgotten; write intents this replica left behind (old copies not yet deleted, writes whose
// outcome was unknown) are settled; usage is re-read from the index.
import { S3Error } from '../s3/errors.ts';
import { backendKey, onBackend, type VirtualContext } from './context.ts';
import { recoverIntents } from './repair.ts';

export async function sweepUploads(ctx: VirtualContext, now = new Date()): Promise<number> {
  const gen = ctx.rt.current();
  const cutoff = new Date(now.getTime() - gen.config.uploads.maxAge);
  let aborted = 0;
  for (;;) {
    const batch = await ctx.index.uploadsBefore(cutoff, 100);
    let progress = 0;
    for (const u of batch) {
      const b = gen.backends.get(u.backend);
      if (b && !ctx.health.healthy(u.backend)) continue;
      try {
        if (b) await onBackend(ctx, b, () => b.store.abortMultipartUpload(b.bucket, backendKey(u.bucket, u.key), u.backendUploadId));
      } catch (e) {
        if (!(e instanceof S3Error && e.code === 'NoSuchUpload')) {
          ctx.log('warn', 'abandoned upload not aborted yet', { bucket: u.bucket, key: u.key, backend: u.backend, error: (e as Error).message });
          continue;
        }
      }
      await ctx.index.deleteUpload(u.uploadId);
      ctx.log('info', 'abandoned upload aborted', { bucket: u.bucket, key: u.key, backend: u.backend, initiated: u.initiated.toISOString() });
      aborted++;
      progress++;
    }
    if (batch.length < 100 || progress === 0) return aborted;
  }
}

export interface Sweeper {
  stop(): void;
}

/** Runs the upkeep on timers; each pass is skipped while the previous one still runs. */
export function startSweeper(ctx: VirtualContext): Sweeper {
  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, fn: () => Promise<unknown>) => {
    let busy = false;
    const t = setInterval(() => {
      if (busy) return;
      busy = true;
      fn().catch((e: unknown) => ctx.log('warn', 'upkeep failed', { error: (e as Error).message })).finally(() => { busy = false; });
    }, ms);
    t.unref();
    timers.push(t);
  };
  every(ctx.rt.current().config.uploads.sweepInterval, () => sweepUploads(ctx));
  every(10_000, () => recoverIntents(ctx, ctx.rt.current()));
  every(5_000, () => ctx.usage.refresh());
  return { stop: () => timers.forEach(clearInterval) };
}

// A GET or HEAD of a key the index does not have, in a virtual bucket with an origin: unless the
// key was deleted here (its tombstone), the origin answers — conditions, ranges and partNumber
// evaluated by the origin itself, the body streamed straight through — and the object is queued
// to be copied in. The copy reads the object again on its own: the client's transfer never waits
// on a backend, and a client that stops reading stops nothing but its own download.
import type { GetOptions, GetResult } from '../../store/types.ts';
import { S3Error } from '../../s3/errors.ts';
import { guardBody } from '../../store/abandon.ts';
import type { VirtualContext } from '../context.ts';
import type { Copier } from './copier.ts';
import { originError, type Origin } from './origin.ts';

export async function readThrough(ctx: VirtualContext, o: Origin, copier: Copier, key: string, opts: GetOptions & { head?: boolean }): Promise<GetResult> {
  if ((await ctx.index.getOriginMark(o.bucket, key))?.kind === 'deleted') throw new S3Error('NoSuchKey', undefined, { details: { Key: key } });
  let r: GetResult;
  try {
    r = await o.store.getObject(o.config.bucket, key, { head: opts.head, range: opts.range, partNumber: opts.partNumber, conditions: opts.conditions });
  } catch (e) {
    // 304 and 412 say the object exists: worth copying all the same.
    if (e instanceof S3Error && (e.code === 'NotModified' || e.code === 'PreconditionFailed' || e.code === 'InvalidRange')) copier.enqueue(o, key);
    if (e instanceof S3Error && e.code === 'NoSuchKey') throw new S3Error('NoSuchKey', undefined, { details: { Key: key } });
    throw originError(o.bucket, e);
  }
  copier.countRead(o.bucket);
  copier.enqueue(o, key);
  return { meta: { ...r.meta, key }, body: guardBody(r.body), range: r.range };
}

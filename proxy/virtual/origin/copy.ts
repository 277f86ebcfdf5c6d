// Copying one object from the origin into the virtual bucket, through the ordinary write path
// (write.ts: a backend chosen by the strategy, intent, index commit), so a copy is as safe as a
// client's PUT. It never replaces anything: `If-None-Match: *` makes a client's PUT that won
// meanwhile stay, and the key's tombstone is checked under the key's lock right before the
// commit, so a DELETE that came first is never undone by a late copy.
import { S3Error } from '../../s3/errors.ts';
import { isBackendFault } from '../../backends/s3/errors.ts';
import { abandon } from '../../store/abandon.ts';
import type { Checksums, GetResult, ObjectHeaders, ObjectMeta } from '../../store/types.ts';
import type { VirtualContext } from '../context.ts';
import { putObject } from '../write.ts';
import { abortMultipartUpload, completeMultipartUpload, createMultipartUpload, uploadPart } from '../multipart.ts';
import { originError, type Origin } from './origin.ts';

export type CopyOutcome =
  | { kind: 'copied'; bytes: number }
  /** present: the key is indexed (copied before, or written by a client); deleted: tombstoned here; gone: no longer on the origin. */
  | { kind: 'skipped'; why: 'present' | 'deleted' | 'gone' }
  | { kind: 'failed'; error: string };

class DeletedMeanwhile extends Error {
  override name = 'DeletedMeanwhile';
}

function headersOf(m: ObjectMeta): ObjectHeaders {
  const { contentType, cacheControl, contentDisposition, contentEncoding, contentLanguage, expires, userMeta } = m;
  const h: ObjectHeaders = { userMeta };
  for (const [k, v] of Object.entries({ contentType, cacheControl, contentDisposition, contentEncoding, contentLanguage, expires })) {
    if (v !== undefined) (h as unknown as Record<string, string>)[k] = v;
  }
  return h;
}

/** Whole-object checksums only: a composite one describes the origin's parts, not our single copy. */
function wholeChecksums(m: ObjectMeta): Checksums {
  if (m.checksumType === 'COMPOSITE') return {};
  return Object.fromEntries(Object.entries(m.checksums).filter(([, v]) => v && !v.includes('-'))) as Checksums;
}

/** A single-part ETag is the MD5 of the bytes: sent as Content-MD5, the backend itself refuses bytes that differ. */
function md5Of(etag: string): string | undefined {
  return /^[0-9a-f]{32}$/.test(etag) ? Buffer.from(etag, 'hex').toString('base64') : undefined;
}

const refuseIfDeleted = (ctx: VirtualContext, bucket: string, key: string) => async () => {
  if ((await ctx.index.getOriginMark(bucket, key))?.kind === 'deleted') throw new DeletedMeanwhile();
};

function settled(e: unknown): CopyOutcome | undefined {
  if (e instanceof DeletedMeanwhile) return { kind: 'skipped', why: 'deleted' };
  if (e instanceof S3Error && e.code === 'PreconditionFailed') return { kind: 'skipped', why: 'present' };
  return undefined;
}

/**
 * A multipart origin object is copied part by part, each the origin's part (GET ?partNumber=n),
 * so the copy's ETag — the MD5 of the parts' MD5s, "-N" — is the origin's.
 */
async function copyParts(ctx: VirtualContext, o: Origin, key: string, first: GetResult): Promise<CopyOutcome> {
  const bucket = o.bucket;
  const count = first.meta.partsCount!;
  const uploadId = await createMultipartUpload(ctx, bucket, key, headersOf(first.meta));
  try {
    const parts = [];
    let r = first;
    for (let n = 1; n <= count; n++) {
      if (n > 1) r = await o.store.getObject(o.config.bucket, key, { partNumber: n, conditions: { ifMatch: `"${first.meta.etag}"` } }).catch((e: unknown) => { throw originError(bucket, e); });
      const size = r.range ? r.range.end - r.range.start + 1 : r.meta.size;
      try {
        const put = await uploadPart(ctx, bucket, key, uploadId, n, { body: r.body!, size, headers: { userMeta: {} }, checksums: {} });
        parts.push({ partNumber: n, etag: put.etag, checksums: {} });
      } finally {
        abandon(r.body);
      }
    }
    const done = await completeMultipartUpload(ctx, bucket, key, uploadId, parts, { ifNoneMatch: '*' }, undefined, { beforeCommit: refuseIfDeleted(ctx, bucket, key) });
    if (done.etag !== first.meta.etag) ctx.log('info', 'origin object copied with another ETag (its parts are not MD5-summed, e.g. SSE-KMS)', { bucket, key, origin: first.meta.etag, copy: done.etag });
    return { kind: 'copied', bytes: done.size };
  } catch (e) {
    await abortMultipartUpload(ctx, bucket, key, uploadId).catch(() => {});
    const out = settled(e);
    if (out) return out;
    throw e;
  }
}

/** 'plain': try again with a whole-object GET and no MD5 check. */
async function attempt(ctx: VirtualContext, o: Origin, key: string, verifyMd5: boolean): Promise<CopyOutcome | 'plain'> {
  const bucket = o.bucket;
  let r;
  try {
    // Part 1 of a multipart object tells its part count; of any other object, it is the object.
    r = await o.store.getObject(o.config.bucket, key, verifyMd5 ? { partNumber: 1 } : {});
  } catch (e) {
    if (e instanceof S3Error && e.code === 'NoSuchKey') return { kind: 'skipped', why: 'gone' };
    // An S3 service without partNumber reads says so with a 4xx: then a plain GET.
    if (verifyMd5 && e instanceof S3Error && !isBackendFault(e) && e.status < 500) return 'plain';
    throw originError(bucket, e);
  }
  if ((r.meta.partsCount ?? 1) > 1) return copyParts(ctx, o, key, r);
  const meta = r.meta;
  const md5 = verifyMd5 ? md5Of(meta.etag) : undefined;
  try {
    const put = await putObject(ctx, bucket, key, {
      body: r.body!, size: meta.size, headers: headersOf(meta), checksums: wholeChecksums(meta),
      conditions: { ifNoneMatch: '*' }, integrity: md5 ? { contentMd5: md5 } : undefined,
    }, { beforeCommit: refuseIfDeleted(ctx, bucket, key) });
    return { kind: 'copied', bytes: put.size };
  } catch (e) {
    const out = settled(e);
    if (out) return out;
    if (md5 && e instanceof S3Error && e.code === 'BadDigest') return 'plain';
    throw e;
  } finally {
    abandon(r.body);
  }
}

/**
 * Copies `key` unless it is indexed or tombstoned already. 'failed' tells why it could not be
 * copied now; its job (copier.ts) keeps the error and tries again later.
 */
export async function copyFromOrigin(ctx: VirtualContext, o: Origin, key: string): Promise<CopyOutcome> {
  const bucket = o.bucket;
  try {
    if ((await ctx.index.getOriginMark(bucket, key))?.kind === 'deleted') return { kind: 'skipped', why: 'deleted' };
    if (await ctx.index.get(bucket, key)) return { kind: 'skipped', why: 'present' };
    const first = await attempt(ctx, o, key, true);
    // An ETag of 32 hex digits that is no MD5 (SSE-KMS, some gateways): copied without the check.
    return first === 'plain' ? (await attempt(ctx, o, key, false)) as CopyOutcome : first;
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    ctx.log('warn', 'copy from the origin failed; retried later', { bucket, key, error });
    return { kind: 'failed', error };
  }
}

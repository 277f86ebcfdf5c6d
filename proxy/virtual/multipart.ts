// Multipart uploads, pinned to one backend from create to complete. The client's upload id
// encodes the backend and its upload id; the index keeps the upload (bucket, key, headers,
// checksum algorithm) and each part's checksums, which a remote backend never sees.
import type { ChecksumAlgorithm, ChecksumType, CompleteChecksum, CompletePart, ObjectHeaders, ObjectMeta, PartInfo, PutInput, PutResult, UploadInfo, WriteConditions } from '../store/types.ts';
import type { PartRecord, UploadRecord } from '../placement/types.ts';
import { S3Error } from '../s3/errors.ts';
import { objectChecksum, withPartChecksum } from '../store/multipart-checksum.ts';
import { backendKey, backendOf, lockKey, onBackend, vbucketOf, type VirtualContext } from './context.ts';
import { decodeUploadId, encodeUploadId } from './upload-id.ts';
import { chooseBackend, commitWrite, type PutHooks } from './write.ts';
import { holdUsualName } from './location.ts';
import { checkWriteConditions } from '../store/conditions.ts';
import { settleCopyJobs, writeCopies, type PlannedCopies } from './copies.ts';
import type { PlacedObject } from '../placement/types.ts';
import { queueRemoval, holdForRemoval, runRemoval, usualNameDeleted } from './removals.ts';
import type { Generation } from './runtime.ts';

async function uploadOf(ctx: VirtualContext, bucket: string, key: string, uploadId: string): Promise<UploadRecord> {
  const u = decodeUploadId(uploadId) && await ctx.index.getUpload(uploadId);
  if (!u || u.bucket !== bucket || u.key !== key) throw new S3Error('NoSuchUpload', undefined, { details: { UploadId: uploadId } });
  return u;
}

function withEnter<T>(ctx: VirtualContext, fn: (gen: Generation) => Promise<T>): Promise<T> {
  const { gen, release } = ctx.rt.enter();
  return fn(gen).finally(release);
}

export function createMultipartUpload(ctx: VirtualContext, bucket: string, key: string, headers: ObjectHeaders, alg?: ChecksumAlgorithm, type?: ChecksumType): Promise<string> {
  return withEnter(ctx, async (gen) => {
    const vb = vbucketOf(gen, bucket);
    // The size is unknown yet: any backend that is up and not full qualifies.
    const name = chooseBackend(ctx, gen, vb, key, 0, new Set());
    const b = backendOf(ctx, gen, name);
    const backendUploadId = await onBackend(ctx, b, () => b.store.createMultipartUpload(b.bucket, backendKey(bucket, key), headers, alg));
    const uploadId = encodeUploadId(name, backendUploadId);
    await ctx.index.putUpload({ uploadId, bucket, key, backend: name, backendUploadId, initiated: new Date(), checksumAlgorithm: alg, checksumType: alg ? type ?? 'COMPOSITE' : undefined, headers });
    return uploadId;
  });
}

export function uploadPart(ctx: VirtualContext, bucket: string, key: string, uploadId: string, partNumber: number, input: PutInput): Promise<PutResult> {
  return withEnter(ctx, async (gen) => {
    vbucketOf(gen, bucket);
    const u = await uploadOf(ctx, bucket, key, uploadId);
    const b = backendOf(ctx, gen, u.backend);
    const unreserve = ctx.usage.reserve(u.backend, input.size);
    const part = withPartChecksum(input, u.checksumAlgorithm, u.checksumType);
    try {
      const r = await onBackend(ctx, b, () => b.store.uploadPart(b.bucket, backendKey(bucket, key), u.backendUploadId, partNumber, part));
      const checksums = { ...part.checksums, ...r.checksums };
      await ctx.index.putPart({ uploadId, partNumber, etag: r.etag, size: r.size, lastModified: r.lastModified, checksums });
      return { ...r, checksums };
    } finally {
      unreserve();
    }
  });
}

/**
 * Every listed part must carry the checksum its upload recorded (the backend cannot check
 * these); returns the recorded parts in the order listed (absent ones left to the backend).
 */
async function checkPartChecksums(ctx: VirtualContext, u: UploadRecord, parts: CompletePart[]): Promise<PartRecord[]> {
  const recorded = new Map((await ctx.index.parts(u.uploadId, 0, 10_000)).map((p) => [p.partNumber, p]));
  const alg = u.checksumAlgorithm;
  for (const p of parts) {
    const have = alg && recorded.get(p.partNumber)?.checksums[alg];
    const given = alg && p.checksums[alg];
    if (given && have && given !== have) {
      throw new S3Error('InvalidPart', `Part ${p.partNumber}'s ${alg!.toUpperCase()} checksum does not match the uploaded part.`);
    }
  }
  return parts.flatMap((p) => recorded.get(p.partNumber) ?? []);
}

export function completeMultipartUpload(ctx: VirtualContext, bucket: string, key: string, uploadId: string, parts: CompletePart[], conditions?: WriteConditions, checksum?: CompleteChecksum, hooks: PutHooks = {}): Promise<ObjectMeta> {
  return withEnter(ctx, (gen) => ctx.locks.run(lockKey(bucket, key), async () => {
    vbucketOf(gen, bucket);
    const u = await uploadOf(ctx, bucket, key, uploadId);
    const current = await ctx.index.get(bucket, key);
    checkWriteConditions(current?.etag, conditions);
    // The whole completion holds the key's lock: checked here, it holds until the commit.
    await hooks.beforeCommit?.();
    const recorded = await checkPartChecksums(ctx, u, parts);
    // The object's checksum is ours to make (the backend never saw the algorithm): known and
    // checked before the backend completes. A part the index does not know is the backend's to
    // refuse (InvalidPart); with it missing there is no checksum to make yet.
    const sum = recorded.length === parts.length ? objectChecksum({ alg: u.checksumAlgorithm, type: u.checksumType }, recorded, parts, checksum) : undefined;
    const b = backendOf(ctx, gen, u.backend);
    const intent = await ctx.index.beginIntent({ owner: ctx.replica, bucket, key, backend: u.backend, op: 'put' });
    ctx.running.add(intent);
    try {
      let meta: ObjectMeta;
      // A removal deleting the name this completes onto (outside the key's lock) finishes first;
      // PUTs starting meanwhile keep off that name (location.ts).
      await usualNameDeleted(ctx, bucket, key, u.backend);
      const unhold = holdUsualName(ctx, bucket, key, u.backend, 'write');
      try {
        meta = await onBackend(ctx, b, () => b.store.completeMultipartUpload(b.bucket, backendKey(bucket, key), u.backendUploadId, parts));
      } catch (e) {
        // The intent stays when the outcome is unknown; recovery settles the key.
        if (e instanceof S3Error && e.status < 500) await ctx.index.endIntent(intent);
        unhold();
        throw e;
      }
      const own = sum && Object.keys(sum.checksums).length ? sum : undefined;
      const checksums = own?.checksums ?? meta.checksums;
      const checksumType = own?.checksumType ?? (Object.keys(checksums).length ? meta.checksumType ?? 'COMPOSITE' : undefined);
      const final: ObjectMeta = { ...meta, ...u.headers, key, checksums, checksumType, partsCount: parts.length };
      const rec: PlacedObject = { ...final, bucket, backend: u.backend };
      let planned: PlannedCopies | undefined;
      try {
        const vb = vbucketOf(gen, bucket);
        if (vb.config.copies > 1) {
          try {
            planned = await writeCopies(ctx, gen, vb, rec);
          } catch (e) {
            // Too few copies: the completed object is not adopted (the client may upload again).
            const target = { bucket, key, backend: u.backend };
            const removal = { id: await queueRemoval(ctx, target), ...target };
            await ctx.index.endIntent(intent);
            await ctx.index.deleteUpload(uploadId);
            holdForRemoval(ctx, removal);
            setImmediate(() => void runRemoval(ctx, gen, removal));
            throw e;
          }
          if (planned.copies.length) rec.copies = planned.copies;
        }
        await commitWrite(ctx, gen, rec, current, intent);
      } finally {
        unhold();
      }
      await settleCopyJobs(ctx, planned);
      await ctx.index.deleteUpload(uploadId);
      return final;
    } finally {
      ctx.running.delete(intent);
    }
  }));
}

export function abortMultipartUpload(ctx: VirtualContext, bucket: string, key: string, uploadId: string): Promise<void> {
  return withEnter(ctx, async (gen) => {
    vbucketOf(gen, bucket);
    const u = await uploadOf(ctx, bucket, key, uploadId);
    const b = backendOf(ctx, gen, u.backend);
    try {
      await onBackend(ctx, b, () => b.store.abortMultipartUpload(b.bucket, backendKey(bucket, key), u.backendUploadId));
    } catch (e) {
      if (!(e instanceof S3Error && e.code === 'NoSuchUpload')) throw e;
    }
    await ctx.index.deleteUpload(uploadId);
  });
}

export function listParts(ctx: VirtualContext, bucket: string, key: string, uploadId: string, after: number, limit: number): Promise<{ upload: UploadInfo; parts: PartInfo[] }> {
  return withEnter(ctx, async (gen) => {
    vbucketOf(gen, bucket);
    const u = await uploadOf(ctx, bucket, key, uploadId);
    const b = backendOf(ctx, gen, u.backend);
    const r = await onBackend(ctx, b, () => b.store.listParts(b.bucket, backendKey(bucket, key), u.backendUploadId, after, limit));
    const recorded = new Map((await ctx.index.parts(uploadId, after, limit)).map((p) => [p.partNumber, p]));
    return {
      upload: { key, uploadId, initiated: u.initiated, checksumAlgorithm: u.checksumAlgorithm, checksumType: u.checksumType },
      parts: r.parts.map((p) => ({ ...p, checksums: Object.keys(p.checksums).length ? p.checksums : recorded.get(p.partNumber)?.checksums ?? {} })),
    };
  });
}

export async function listMultipartUploads(ctx: VirtualContext, bucket: string, o: { prefix: string; keyMarker: string; uploadIdMarker: string; limit: number }): Promise<UploadInfo[]> {
  vbucketOf(ctx.rt.current(), bucket);
  return (await ctx.index.listUploads(bucket, o)).map((u) => ({ key: u.key, uploadId: u.uploadId, initiated: u.initiated, checksumAlgorithm: u.checksumAlgorithm, checksumType: u.checksumType }));
}

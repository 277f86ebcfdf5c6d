// The embedded store: `floodgate gateway`'s default. Object bytes live in immutable blob files
// (blobs.ts), metadata in node:sqlite (db.ts). A PUT streams into a new blob, fsyncs it, then
// commits the row that points at it — so a reader sees the old object or the new one, never a
// partial one, and `kill -9` at any moment loses nothing acknowledged. Replaced blobs are removed
// after the commit (or by the orphan sweep at the next start when the process died first).
import { chmodSync, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { S3Error } from '../../s3/errors.ts';
import { keyRange } from '../../placement/types.ts';
import { checkReadConditions, checkWriteConditions } from '../conditions.ts';
import { resolvePart, resolveRange } from '../range.ts';
import type {
  BucketInfo, ChecksumAlgorithm, ChecksumType, Checksums, ObjectHeaders, ObjectMeta, ObjectStore, PartInfo, PutInput, UploadInfo,
} from '../types.ts';
import { openBlobDir, type Segment } from './blobs.ts';
import { openMetaDb, type ObjectRow, type PartRow, type UploadRow } from './db.ts';
import { completeParts, type StoredPart } from './multipart.ts';
import { withPartChecksum } from '../multipart-checksum.ts';
import { openSpaceGuard, type StoreHealth } from './space.ts';
import type { BucketCorsStore, CorsRule } from '../../s3/cors.ts';

export interface FsStoreOptions {
  /** fsync blobs, their directories and every commit (default true; tests may trade it for speed). */
  fsync?: boolean;
  /** Called with the number of orphan blobs the start-up sweep removed. */
  onSwept?: (removed: number) => void;
  /** Space held back so deletes work on a full disk (default 8 MiB; 0 for none). */
  reserveBytes?: number;
  /** Multipart uploads older than this are aborted (default 24 h, as `uploads.maxAge` of the balancing mode). */
  uploadMaxAgeMs?: number;
  /** How often abandoned uploads are looked for (default an hour, at most a tenth of the age). */
  uploadSweepIntervalMs?: number;
  /** Told about each abandoned upload aborted. */
  onUploadExpired?: (u: { bucket: string; key: string; uploadId: string; initiated: Date }) => void;
}

export interface FsStore extends ObjectStore, BucketCorsStore {
  /** Whether the store can take writes (for /readyz), with the reason when it cannot. */
  health(): StoreHealth;
  /** Aborts uploads initiated before `cutoff`; returns how many. */
  expireUploads(cutoff: Date): Promise<number>;
}

/** Everything the store owns lives under `<dir>/.floodgate/store` (credentials sit beside it). */
export async function openFsStore(dir: string, opts: FsStoreOptions = {}): Promise<FsStore> {
  const durable = opts.fsync ?? true;
  const root = join(dir, '.floodgate', 'store');
  // Owner-only: object bytes and metadata are nobody else's to read.
  mkdirSync(root, { recursive: true, mode: 0o700 });
  for (const d of [join(dir, '.floodgate'), root]) chmodSync(d, 0o700);
  const db = openMetaDb(join(root, 'meta.db'), durable);
  const blobs = await openBlobDir(join(root, 'blobs'), durable);
  chmodSync(join(root, 'blobs'), 0o700);
  const space = openSpaceGuard(root, opts.reserveBytes ?? 8 * 1024 * 1024);
  const { q } = db;

  const bucketRow = (name: string) => q('SELECT name, created FROM buckets WHERE name = ?').get(name) as { name: string; created: number } | undefined;
  const requireBucket = (name: string) => {
    const b = bucketRow(name);
    if (!b) throw new S3Error('NoSuchBucket', undefined, { details: { BucketName: name } });
    return b;
  };
  const objectRow = (bucket: string, key: string) => q('SELECT * FROM objects WHERE bucket = ? AND key = ?').get(bucket, key) as ObjectRow | undefined;
  const uploadRow = (bucket: string, key: string, uploadId: string) => {
    const u = q('SELECT * FROM uploads WHERE upload_id = ?').get(uploadId) as UploadRow | undefined;
    if (!u || u.bucket !== bucket || u.key !== key) throw new S3Error('NoSuchUpload', undefined, { details: { UploadId: uploadId } });
    return u;
  };
  const segmentIds = (row: { segments: string }) => (JSON.parse(row.segments) as Segment[]).map(([id]) => id);
  const partBlobs = (uploadId: string) => (q('SELECT blob FROM parts WHERE upload_id = ?').all(uploadId) as { blob: string }[]).map((r) => r.blob);

  /** Writes the row in a group commit (conditions re-checked inside it), then drops the replaced blobs. */
  async function commitObject(row: ObjectRow, conditions: PutInput['conditions'], extra?: () => string[]): Promise<void> {
    const replaced = await space.write(() => db.write(() => {
      requireBucket(row.bucket);
      const prev = objectRow(row.bucket, row.key);
      checkWriteConditions(prev?.etag, conditions);
      const dropped = extra ? extra() : [];
      q(`INSERT OR REPLACE INTO objects (bucket, key, size, etag, last_modified, headers, checksums, checksum_type, parts_count, segments)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(row.bucket, row.key, row.size, row.etag, row.last_modified, row.headers,
        row.checksums, row.checksum_type, row.parts_count, row.segments);
      return [...(prev ? segmentIds(prev) : []), ...dropped];
    }));
    blobs.discard(replaced);
  }

  function metaOf(r: ObjectRow): ObjectMeta {
    const headers = JSON.parse(r.headers) as ObjectHeaders;
    return {
      ...headers, key: r.key, size: r.size, etag: r.etag, lastModified: new Date(r.last_modified),
      checksums: JSON.parse(r.checksums) as Checksums,
      checksumType: (r.checksum_type ?? undefined) as ObjectMeta['checksumType'],
      partsCount: r.parts_count ?? undefined,
    };
  }

  function uploadInfo(u: UploadRow): UploadInfo {
    const alg = (u.checksum_algorithm ?? undefined) as ChecksumAlgorithm | undefined;
    return { key: u.key, uploadId: u.upload_id, initiated: new Date(u.initiated), checksumAlgorithm: alg, checksumType: alg ? (u.checksum_type ?? 'COMPOSITE') as ChecksumType : undefined };
  }

  /** Streams the body into a blob; the blob is removed again when anything fails before the commit. */
  async function writeBlob(input: PutInput): Promise<{ id: string; md5: Buffer; checksums: Checksums }> {
    const { id, md5 } = await space.write(() => blobs.write(input.body, input.size));
    // The front's verifier has filled input.checksums by the time the body ended.
    return { id, md5, checksums: { ...input.checksums } };
  }

  // Orphans from a previous process (blobs written but never committed, or replaced but not yet
  // removed) are swept in the background; blobs of this process are never touched.
  const sweeping = (async () => {
    const referenced = new Set<string>();
    for (const r of q('SELECT segments FROM objects').iterate() as Iterable<{ segments: string }>) for (const id of segmentIds(r)) referenced.add(id);
    for (const r of q('SELECT blob FROM parts').iterate() as Iterable<{ blob: string }>) referenced.add(r.blob);
    const removed = await blobs.sweep((id) => referenced.has(id));
    opts.onSwept?.(removed);
  })().catch(() => { /* a failed sweep only leaves garbage for the next start */ });

  // Uploads interrupted by a crash or abandoned by a client are aborted once they are this old.
  const maxAge = opts.uploadMaxAgeMs ?? 24 * 3_600_000;
  let expiring: Promise<unknown> = Promise.resolve();
  const expireNow = () => {
    expiring = expiring.then(() => store.expireUploads(new Date(Date.now() - maxAge))).catch(() => { /* tried again next round */ });
  };
  const expiry = setInterval(expireNow, Math.max(1000, Math.min(opts.uploadSweepIntervalMs ?? 3_600_000, maxAge / 10)));
  expiry.unref();

  const store: FsStore = {
    async listBuckets(): Promise<BucketInfo[]> {
      return (q('SELECT name, created FROM buckets ORDER BY name').all() as { name: string; created: number }[])
        .map((b) => ({ name: b.name, creationDate: new Date(b.created) }));
    },

    async createBucket(bucket) {
      await db.write(() => {
        if (bucketRow(bucket)) throw new S3Error('BucketAlreadyOwnedByYou', undefined, { details: { BucketName: bucket } });
        q('INSERT INTO buckets (name, created) VALUES (?, ?)').run(bucket, Date.now());
      });
    },

    async headBucket(bucket) {
      const b = requireBucket(bucket);
      return { name: b.name, creationDate: new Date(b.created) };
    },

    async deleteBucket(bucket) {
      const dropped = await space.free(() => db.write(() => {
        requireBucket(bucket);
        if (q('SELECT 1 FROM objects WHERE bucket = ? LIMIT 1').get(bucket)) throw new S3Error('BucketNotEmpty', undefined, { details: { BucketName: bucket } });
        // Unfinished multipart uploads go with the bucket.
        const ids = (q('SELECT upload_id FROM uploads WHERE bucket = ?').all(bucket) as { upload_id: string }[]).map((u) => u.upload_id);
        const parts = ids.flatMap(partBlobs);
        for (const id of ids) q('DELETE FROM parts WHERE upload_id = ?').run(id);
        q('DELETE FROM uploads WHERE bucket = ?').run(bucket);
        q('DELETE FROM buckets WHERE name = ?').run(bucket);
        q('DELETE FROM bucket_cors WHERE bucket = ?').run(bucket);
        return parts;
      }));
      blobs.discard(dropped);
    },

    async putObject(bucket, key, input) {
      requireBucket(bucket);
      checkWriteConditions(objectRow(bucket, key)?.etag, input.conditions);
      const { id, md5, checksums } = await writeBlob(input);
      const now = Date.now();
      const etag = md5.toString('hex');
      try {
        await commitObject({
          bucket, key, size: input.size, etag, last_modified: now, headers: JSON.stringify(input.headers),
          checksums: JSON.stringify(checksums), checksum_type: null, parts_count: null, segments: JSON.stringify([[id, input.size]]),
        }, input.conditions);
      } catch (e) {
        blobs.discard([id]);
        throw e;
      }
      return { etag, checksums, lastModified: new Date(now), size: input.size };
    },

    async getObject(bucket, key, opts) {
      const row = objectRow(bucket, key);
      if (!row) {
        requireBucket(bucket);
        throw new S3Error('NoSuchKey', undefined, { details: { Key: key } });
      }
      const meta = metaOf(row);
      checkReadConditions(meta, opts.conditions);
      const segments = JSON.parse(row.segments) as Segment[];
      const range = opts.partNumber ? resolvePart(row.parts_count ? segments.map(([, size]) => size) : [meta.size], opts.partNumber) : resolveRange(opts.range, meta.size);
      if (opts.head) return { meta, range };
      if (meta.size === 0) return { meta, range, body: Readable.from([]) };
      const ids = segments.map(([id]) => id);
      // Pinned in the same turn the row was read: a concurrent overwrite cannot unlink these blobs.
      blobs.pin(ids);
      const body = blobs.read(segments, range?.start ?? 0, range?.end ?? meta.size - 1);
      body.once('close', () => blobs.unpin(ids));
      return { meta, range, body };
    },

    async deleteObject(bucket, key) {
      const dropped = await space.free(() => db.write(() => {
        requireBucket(bucket);
        const prev = objectRow(bucket, key);
        if (!prev) return [];
        q('DELETE FROM objects WHERE bucket = ? AND key = ?').run(bucket, key);
        return segmentIds(prev);
      }));
      blobs.discard(dropped);
    },

    async scan(bucket, { prefix, after, limit }) {
      requireBucket(bucket);
      const r = keyRange(prefix, after);
      const rows = q(`SELECT * FROM objects WHERE bucket = ? AND ${r.where} ORDER BY key LIMIT ?`).all(bucket, ...r.params, limit) as unknown as ObjectRow[];
      return rows.map(metaOf);
    },

    async createMultipartUpload(bucket, key, headers, checksumAlgorithm, checksumType) {
      // Hex, so an id never starts with "-": command-line clients (the AWS CLI's argparse) would
      // read `--upload-id -abc…` as a flag — about one base64url id in 32 did.
      const uploadId = randomBytes(24).toString('hex');
      await db.write(() => {
        requireBucket(bucket);
        q('INSERT INTO uploads (upload_id, bucket, key, initiated, headers, checksum_algorithm, checksum_type) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(uploadId, bucket, key, Date.now(), JSON.stringify(headers), checksumAlgorithm ?? null, checksumAlgorithm ? checksumType ?? 'COMPOSITE' : null);
      });
      return uploadId;
    },

    async uploadPart(bucket, key, uploadId, partNumber, input) {
      requireBucket(bucket);
      const upload = uploadInfo(uploadRow(bucket, key, uploadId));
      const { id, md5, checksums } = await writeBlob(withPartChecksum(input, upload.checksumAlgorithm, upload.checksumType));
      const now = Date.now();
      const etag = md5.toString('hex');
      let replaced: string[];
      try {
        replaced = await space.write(() => db.write(() => {
          uploadRow(bucket, key, uploadId);
          const prev = q('SELECT blob FROM parts WHERE upload_id = ? AND part_number = ?').get(uploadId, partNumber) as { blob: string } | undefined;
          q('INSERT OR REPLACE INTO parts (upload_id, part_number, blob, size, etag, checksums, last_modified) VALUES (?, ?, ?, ?, ?, ?, ?)')
            .run(uploadId, partNumber, id, input.size, etag, JSON.stringify(checksums), now);
          return prev ? [prev.blob] : [];
        }));
      } catch (e) {
        blobs.discard([id]);
        throw e;
      }
      blobs.discard(replaced);
      return { etag, checksums, lastModified: new Date(now), size: input.size };
    },

    async completeMultipartUpload(bucket, key, uploadId, requested, conditions, checksum) {
      requireBucket(bucket);
      const upload = uploadRow(bucket, key, uploadId);
      const stored = new Map<number, StoredPart>();
      for (const p of q('SELECT * FROM parts WHERE upload_id = ?').all(uploadId) as unknown as PartRow[]) {
        stored.set(p.part_number, { partNumber: p.part_number, etag: p.etag, size: p.size, checksums: JSON.parse(p.checksums) as Checksums, blob: p.blob });
      }
      const info = uploadInfo(upload);
      const done = completeParts(requested, stored, { alg: info.checksumAlgorithm, type: info.checksumType }, checksum);
      const used = new Set(done.parts.map((p) => p.blob));
      const now = Date.now();
      const row: ObjectRow = {
        bucket, key, size: done.parts.reduce((n, p) => n + p.size, 0), etag: done.etag, last_modified: now, headers: upload.headers,
        checksums: JSON.stringify(done.checksums), checksum_type: done.checksumType ?? null,
        parts_count: done.parts.length, segments: JSON.stringify(done.parts.map((p) => [p.blob, p.size])),
      };
      await commitObject(row, conditions, () => {
        // Re-checked inside the transaction: a concurrent Complete or Abort wins only once.
        uploadRow(bucket, key, uploadId);
        const unused = partBlobs(uploadId).filter((b) => !used.has(b));
        q('DELETE FROM parts WHERE upload_id = ?').run(uploadId);
        q('DELETE FROM uploads WHERE upload_id = ?').run(uploadId);
        return unused;
      });
      return metaOf(row);
    },

    async abortMultipartUpload(bucket, key, uploadId) {
      const dropped = await space.free(() => db.write(() => {
        requireBucket(bucket);
        uploadRow(bucket, key, uploadId);
        const parts = partBlobs(uploadId);
        q('DELETE FROM parts WHERE upload_id = ?').run(uploadId);
        q('DELETE FROM uploads WHERE upload_id = ?').run(uploadId);
        return parts;
      }));
      blobs.discard(dropped);
    },

    async listParts(bucket, key, uploadId, after, limit) {
      requireBucket(bucket);
      const upload = uploadInfo(uploadRow(bucket, key, uploadId));
      const rows = q('SELECT * FROM parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?').all(uploadId, after, limit) as unknown as PartRow[];
      const parts: PartInfo[] = rows.map((p) => ({
        partNumber: p.part_number, etag: p.etag, size: p.size, lastModified: new Date(p.last_modified), checksums: JSON.parse(p.checksums) as Checksums,
      }));
      return { upload, parts };
    },

    async listMultipartUploads(bucket, { prefix, keyMarker, uploadIdMarker, limit }) {
      requireBucket(bucket);
      const r = keyRange(prefix, '');
      // After the (key, upload) marker: later keys, or the marker key's uploads after the marker upload.
      const rows = q(`SELECT * FROM uploads WHERE bucket = ? AND ${r.where}
        AND (key > ? OR (key = ? AND ? != '' AND upload_id > ?)) ORDER BY key, initiated, upload_id LIMIT ?`)
        .all(bucket, ...r.params, keyMarker, keyMarker, uploadIdMarker, uploadIdMarker, limit) as unknown as UploadRow[];
      return rows.map(uploadInfo);
    },

    health: () => space.health(),

    async getBucketCors(bucket) {
      requireBucket(bucket);
      const row = q('SELECT rules FROM bucket_cors WHERE bucket = ?').get(bucket) as { rules: string } | undefined;
      return row ? JSON.parse(row.rules) as CorsRule[] : undefined;
    },
    async putBucketCors(bucket, rules) {
      await space.write(() => db.write(() => {
        requireBucket(bucket);
        q('INSERT OR REPLACE INTO bucket_cors (bucket, rules) VALUES (?, ?)').run(bucket, JSON.stringify(rules));
      }));
    },
    async deleteBucketCors(bucket) {
      await space.free(() => db.write(() => {
        requireBucket(bucket);
        q('DELETE FROM bucket_cors WHERE bucket = ?').run(bucket);
      }));
    },

    async expireUploads(cutoff) {
      const old = q('SELECT * FROM uploads WHERE initiated < ? ORDER BY initiated LIMIT 1000').all(cutoff.getTime()) as unknown as UploadRow[];
      let n = 0;
      for (const u of old) {
        try {
          await store.abortMultipartUpload(u.bucket, u.key, u.upload_id);
        } catch (e) {
          if (e instanceof S3Error && e.code === 'NoSuchUpload') continue;
          throw e;
        }
        opts.onUploadExpired?.({ bucket: u.bucket, key: u.key, uploadId: u.upload_id, initiated: new Date(u.initiated) });
        n++;
      }
      return n;
    },

    async close() {
      clearInterval(expiry);
      await expiring;
      await sweeping;
      await db.write(() => undefined);
      db.close();
    },
  };
  expireNow();
  return store;
}

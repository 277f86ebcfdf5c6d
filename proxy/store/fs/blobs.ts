// Object content on disk: immutable files named by random ids, sharded into 256 directories.
// Keys never become paths, so no key can escape the data directory. A blob is written in full
// and fsynced before any metadata points at it; a blob that lost its metadata (crash before the
// commit, or after it but before the old copy was removed) is an orphan that sweep() removes.
// Readers pin the blobs they stream, and a replaced blob is unlinked only once unpinned.
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, unlink } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3Error } from '../../s3/errors.ts';
import { BlobBody, type Piece } from './blob-body.ts';

/** A stored object is one or more blobs (a completed multipart upload keeps its parts). */
export type Segment = [id: string, size: number];

class Md5Counter extends Transform {
  readonly md5 = createHash('md5');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.md5.update(chunk);
    done(null, chunk);
  }
}

export interface BlobDir {
  /** Streams `body` into a new durable blob; rejects (leaving nothing behind) unless exactly `size` bytes arrive. */
  write(body: Readable, size: number): Promise<{ id: string; md5: Buffer }>;
  /** The inclusive byte range [start, end] of the concatenated segments (blob-body.ts). Pin first. */
  read(segments: readonly Segment[], start: number, end: number): BlobBody;
  pin(ids: readonly string[]): void;
  unpin(ids: readonly string[]): void;
  /** Unlinks the blobs now, or when their last reader unpins them. */
  discard(ids: readonly string[]): void;
  /**
   * Removes the blobs of earlier processes that `isReferenced` (a snapshot taken before any write
   * of this process) does not claim. Returns the count.
   */
  sweep(isReferenced: (id: string) => boolean): Promise<number>;
}

export async function openBlobDir(root: string, fsync: boolean): Promise<BlobDir> {
  const shards = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
  await Promise.all(shards.map((s) => mkdir(join(root, s), { recursive: true, mode: 0o700 })));
  const path = (id: string) => join(root, id.slice(0, 2), id);
  const pins = new Map<string, number>();
  const doomed = new Set<string>();
  // Blobs this process created while the start-up sweep runs: never orphans, whatever their mtime.
  let ours: Set<string> | undefined = new Set<string>();
  const remove = (id: string) => { unlink(path(id)).catch(() => { /* already gone; sweep covers the rest */ }); };

  async function syncDir(dir: string): Promise<void> {
    const fd = await open(dir, 'r');
    try {
      await fd.sync();
    } finally {
      await fd.close();
    }
  }

  return {
    async write(body, size) {
      const id = randomBytes(16).toString('hex');
      ours?.add(id);
      const counter = new Md5Counter();
      try {
        await pipeline(body, counter, createWriteStream(path(id), { flags: 'wx', flush: fsync, mode: 0o600 }));
        if (counter.bytes !== size) throw new S3Error('IncompleteBody', `Received ${counter.bytes} of ${size} bytes.`);
        if (fsync) await syncDir(join(root, id.slice(0, 2)));
      } catch (e) {
        await unlink(path(id)).catch(() => {});
        throw e;
      }
      return { id, md5: counter.md5.digest() };
    },

    read(segments, start, end) {
      const pieces: Piece[] = [];
      let offset = 0;
      for (const [id, size] of segments) {
        const segEnd = offset + size - 1;
        if (size > 0 && segEnd >= start && offset <= end) {
          pieces.push({ path: path(id), from: Math.max(start, offset) - offset, to: Math.min(end, segEnd) - offset });
        }
        offset += size;
        if (offset > end) break;
      }
      return new BlobBody(pieces);
    },

    pin(ids) {
      for (const id of ids) pins.set(id, (pins.get(id) ?? 0) + 1);
    },
    unpin(ids) {
      for (const id of ids) {
        const n = (pins.get(id) ?? 1) - 1;
        if (n > 0) {
          pins.set(id, n);
          continue;
        }
        pins.delete(id);
        if (doomed.delete(id)) remove(id);
      }
    },
    discard(ids) {
      for (const id of ids) {
        if (pins.has(id)) doomed.add(id);
        else remove(id);
      }
    },

    async sweep(isReferenced) {
      let removed = 0;
      const mine = ours ?? new Set<string>();
      for (const shard of shards) {
        for (const name of await readdir(join(root, shard))) {
          if (isReferenced(name) || mine.has(name)) continue;
          await unlink(join(root, shard, name)).catch(() => {});
          removed++;
        }
      }
      ours = undefined;
      return removed;
    },
  };
}

// The placement index: which backend holds each object of each virtual bucket, with the
// metadata we serve without asking the backend, per-backend usage counters kept in the same
// transaction as the records they count, write intents for crash recovery, and multipart
// uploads pinned to a backend. Two implementations behind this one interface: embedded
// node:sqlite (one gateway) and PostgreSQL (several gateway replicas sharing one index).
import type { ChecksumAlgorithm, ChecksumType, Checksums, ObjectHeaders, ObjectMeta, ScanOptions } from '../store/types.ts';
import type { FindQuery, FoundObject } from './find.ts';
import type { JobStore } from './jobs.ts';

/**
 * A copy of an object besides its first (`backend`, `location`): always under a name of its own
 * (virtual/location.ts). `pending`: recorded, not written yet — a `copy` job writes it; reads
 * never go to it.
 */
export interface Replica {
  backend: string;
  location: string;
  pending?: boolean;
  /** The backend's ETag of this copy when it is not the record's (a copy of a multipart object). */
  etag?: string;
}

export interface PlacedObject extends ObjectMeta {
  /** The virtual bucket. */
  bucket: string;
  /** The backend's configured name. */
  backend: string;
  /**
   * The object's name on the backend when it is not the usual `<bucket>/<key>`: a write that
   * could not use that name (it held the current copy, or another write of the key was streaming
   * to it) went to a name of its own (virtual/location.ts).
   */
  location?: string;
  /** The other copies (virtual bucket `copies` > 1); absent for a single copy. */
  copies?: Replica[];
}

export interface BackendUsage {
  bytes: number;
  objects: number;
}

/**
 * A write in progress: recorded before the backend is touched, cleared in the transaction that
 * records the result. What is left after a crash names exactly the keys whose backend copy and
 * index row may disagree. A `remove` intent is a queued background removal: the copy at
 * (`backend`, `location`) goes unless the index points at it (a replaced copy, the copy of a
 * write that lost or was refused).
 */
export interface Intent {
  id: number;
  owner: string;
  bucket: string;
  key: string;
  backend: string;
  /** 'refused': the removal of the copy of a write the client was told failed (never adopted). */
  op: 'put' | 'delete' | 'remove' | 'refused';
  /** The backend-side name the write used or the removal targets; undefined: `<bucket>/<key>`. */
  location?: string;
  started: Date;
}

export interface UploadRecord {
  /** The id the client sees (it encodes the backend too, see virtual/upload-id.ts). */
  uploadId: string;
  bucket: string;
  key: string;
  backend: string;
  backendUploadId: string;
  initiated: Date;
  checksumAlgorithm?: ChecksumAlgorithm;
  /** With checksumAlgorithm; absent in uploads recorded before types were: COMPOSITE. */
  checksumType?: ChecksumType;
  headers: ObjectHeaders;
}

export interface PartRecord {
  uploadId: string;
  partNumber: number;
  etag: string;
  size: number;
  lastModified: Date;
  checksums: Checksums;
}

export interface UploadListOptions {
  prefix: string;
  keyMarker: string;
  uploadIdMarker: string;
  limit: number;
}

/**
 * What the index remembers about a key of a virtual bucket with a read-through origin
 * (virtual/origin/): 'deleted' — deleted here, so the origin's copy stays hidden (a tombstone).
 * (A copy that failed is a job in the queue with its error, placement/jobs.ts; rows of the
 * 'failed' kind older gateways wrote are ignored.)
 */
export interface OriginMark {
  bucket: string;
  key: string;
  kind: 'deleted';
  at: Date;
}

/**
 * `lazy`: the write is committed (visible, and it survives this process being killed) without
 * waiting for the disk; a power cut or OS crash before the index's next durable commit may lose
 * it. Every durable commit after it carries it (sqlite's WAL and PostgreSQL's WAL are replayed as
 * a prefix). For what is useless without a later durable commit — a write's intent ahead of its
 * record, a removal queued ahead of the commit that orphans the copy — or what is only cleanup.
 */
export interface Durability {
  lazy?: boolean;
}

export interface PlacementIndex {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Writes called within one turn of the event loop commit in one transaction, in the order
   * called (sqlite's group commit, batch.ts). PostgreSQL's run on connections of their own, in
   * no set order: a write that must commit before another is awaited first.
   */
  readonly groupsWrites: boolean;
  get(bucket: string, key: string): Promise<PlacedObject | undefined>;
  /**
   * Inserts or replaces the record of (bucket, key) and returns the one it replaced, moving the
   * backends' usage counters by the difference; clears `intent` in the same transaction.
   */
  put(obj: PlacedObject, intent?: number): Promise<PlacedObject | undefined>;
  /**
   * Removes the record and returns it. With `only`, removes it only while it still is that
   * copy (same backend and ETag), so a late repair never drops a newer write.
   */
  delete(bucket: string, key: string, opts?: { only?: { backend: string; etag: string }; intent?: number }): Promise<PlacedObject | undefined>;
  /**
   * Changes the other copies of (bucket, key) with `change` (run inside the transaction, on the
   * copies as committed), while the record still is the version with `etag` and first copy on
   * `backend`; moves the usage counters. The updated record, or undefined when it is gone or changed.
   */
  updateCopies(bucket: string, key: string, expect: { backend: string; etag: string }, change: (copies: Replica[]) => Replica[]): Promise<PlacedObject | undefined>;
  /**
   * Moves the first copy of (bucket, key) to (`to.backend`, `to.location`), its other copies
   * kept, while the record still is the version with `etag` whose first copy is at (`backend`,
   * `location`); moves the usage counters. The updated record, or undefined when
   * it is gone or changed (a write or delete that raced the move wins).
   */
  relocate(bucket: string, key: string, expect: { backend: string; etag: string; location?: string }, to: { backend: string; location: string }): Promise<PlacedObject | undefined>;
  /** Records with `prefix` and key > `after`, in UTF-8 byte order, at most `limit`. */
  scan(bucket: string, opts: ScanOptions): Promise<PlacedObject[]>;
  /** Metadata search (find.ts): records matching every filter of `q`, in UTF-8 key order, at most `q.limit`. */
  find(q: FindQuery): Promise<FoundObject[]>;
  /** Bytes and objects per backend, as of the last commit. */
  usage(): Promise<Map<string, BackendUsage>>;

  beginIntent(i: Omit<Intent, 'id' | 'started'>, o?: Durability): Promise<number>;
  /** Commits the intent again, durably: one begun lazily then survives a power cut. */
  syncIntent(id: number): Promise<void>;
  endIntent(id: number, o?: Durability): Promise<void>;
  intents(owner: string): Promise<Intent[]>;
  /** Every replica's intents on `backend` for keys of `bucket` (gc leaves their names alone). */
  intentsOn(bucket: string, backend: string): Promise<Intent[]>;

  putUpload(u: UploadRecord): Promise<void>;
  getUpload(uploadId: string): Promise<UploadRecord | undefined>;
  /** Forgets an upload and its parts. */
  deleteUpload(uploadId: string): Promise<void>;
  /** Uploads of a bucket ordered by (key, initiated, uploadId), after the (key, uploadId) marker. */
  listUploads(bucket: string, opts: UploadListOptions): Promise<UploadRecord[]>;
  /** Uploads initiated before `date`, oldest first: candidates for the abandoned-upload sweep. */
  uploadsBefore(date: Date, limit: number): Promise<UploadRecord[]>;
  putPart(p: PartRecord): Promise<void>;
  parts(uploadId: string, after: number, limit: number): Promise<PartRecord[]>;

  /** The key's origin mark, if any. */
  getOriginMark(bucket: string, key: string): Promise<OriginMark | undefined>;
  setOriginMark(bucket: string, key: string, kind: OriginMark['kind']): Promise<void>;
  /** The marks among `keys` (any number; asked in chunks). */
  originMarksOf(bucket: string, keys: readonly string[]): Promise<OriginMark[]>;

  /**
   * Small named values the index keeps: its identity and start count (virtual/index-marker.ts),
   * each virtual bucket's CORS rules (virtual/cors.ts). Setting undefined removes the value.
   */
  getMeta(name: string): Promise<string | undefined>;
  setMeta(name: string, value: string | undefined): Promise<void>;

  /** The durable background job queue, kept in the same database (jobs.ts). */
  readonly jobs: JobStore;

  close(): Promise<void>;
}

/** The record `prev` with its first copy at `to`, or undefined when `prev` is not the `expect`ed version (relocate()). */
export function relocated(prev: PlacedObject | undefined, expect: { backend: string; etag: string; location?: string }, to: { backend: string; location: string }): PlacedObject | undefined {
  if (!prev || prev.backend !== expect.backend || prev.etag !== expect.etag || prev.location !== expect.location) return undefined;
  return { ...prev, backend: to.backend, location: to.location };
}

/** The copies a record's bytes are on now (pending ones excluded), first copy first. */
export function heldCopies(o: PlacedObject): { backend: string; location?: string }[] {
  return [{ backend: o.backend, ...(o.location ? { location: o.location } : {}) }, ...(o.copies ?? []).filter((c) => !c.pending)];
}

/** Usage counter moves of replacing `prev` by `next` (either may be absent): [backend, bytes, objects]. */
export function usageDeltas(prev: PlacedObject | undefined, next: PlacedObject | undefined): [string, number, number][] {
  const out: [string, number, number][] = [];
  if (prev) for (const c of heldCopies(prev)) out.push([c.backend, -prev.size, -1]);
  if (next) for (const c of heldCopies(next)) out.push([c.backend, next.size, 1]);
  return out;
}

/**
 * The smallest string greater than every string starting with `prefix`, in code point (= UTF-8
 * byte) order; undefined when there is none. Bounds a prefix scan to its range.
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const cps = [...prefix].map((c) => c.codePointAt(0)!);
  while (cps.length) {
    const last = cps.pop()!;
    if (last < 0x10ffff) {
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
      return String.fromCodePoint(...cps, next);
    }
  }
  return undefined;
}

/**
 * SQL condition on `key` for "starts with prefix and sorts after `after`", as a range an index
 * can seek: key > after (or >= prefix, whichever is later) and key < the prefix's upper bound.
 */
export function keyRange(prefix: string, after: string): { where: string; params: string[] } {
  const afterWins = Buffer.compare(Buffer.from(after, 'utf8'), Buffer.from(prefix, 'utf8')) >= 0;
  const upper = prefixUpperBound(prefix);
  const lower = afterWins ? 'key > ?' : 'key >= ?';
  return upper === undefined
    ? { where: lower, params: [afterWins ? after : prefix] }
    : { where: `${lower} AND key < ?`, params: [afterWins ? after : prefix, upper] };
}

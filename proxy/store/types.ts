// The seam between the S3 front and whatever holds the bytes: the embedded filesystem store, a
// remote S3 bucket, or a virtual bucket spread over several of them. The front parses,
// authenticates and verifies; a store only stores. Errors are S3Error values (proxy/s3/errors.ts).
import type { Readable } from 'node:stream';

export type ChecksumAlgorithm = 'crc32' | 'crc32c' | 'crc64nvme' | 'sha1' | 'sha256';
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'];

/** base64 digests by algorithm; multipart composites carry a `-N` suffix. */
export type Checksums = Partial<Record<ChecksumAlgorithm, string>>;

/**
 * How a multipart object's checksum is made: COMPOSITE, the digest of the parts' digests (`-N`);
 * FULL_OBJECT, the CRC of all its bytes (CRC32, CRC32C, CRC64NVME only).
 */
export type ChecksumType = 'FULL_OBJECT' | 'COMPOSITE';

/** Representation headers stored with an object and returned on GET/HEAD. */
export interface ObjectHeaders {
  contentType?: string;
  cacheControl?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  expires?: string;
  /** x-amz-meta-* without the prefix, names lower-cased, values UTF-8. */
  userMeta: Record<string, string>;
}

export interface ObjectMeta extends ObjectHeaders {
  key: string;
  size: number;
  /** Unquoted: hex MD5 for single-part objects, `hex-N` for multipart. */
  etag: string;
  lastModified: Date;
  checksums: Checksums;
  /** Multipart objects: COMPOSITE checksums are of the part checksums. */
  checksumType?: ChecksumType;
  partsCount?: number;
}

export interface WriteConditions {
  /** `If-None-Match: *` — fail with PreconditionFailed when the key exists. */
  ifNoneMatch?: '*';
  /** `If-Match: "etag"` — fail with PreconditionFailed unless the current ETag matches (NoSuchKey if absent). */
  ifMatch?: string;
}

export interface ReadConditions {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: Date;
  ifUnmodifiedSince?: Date;
}

/** A parsed Range header: bytes=a-b, bytes=a-, bytes=-n. Resolved against the size by the store. */
export type RangeSpec = { start: number; end?: number } | { suffix: number };

export interface PutInput {
  /**
   * The decoded object bytes. The front verifies digests as the bytes pass and destroys the
   * stream with an S3Error (BadDigest, IncompleteBody…) instead of ending it when they are wrong,
   * so a store commits only after a clean 'end' with exactly `size` bytes.
   */
  body: Readable;
  size: number;
  headers: ObjectHeaders;
  /** Filled in by the front's verifier by the time `body` ends; stored and echoed back. */
  checksums: Checksums;
  conditions?: WriteConditions;
  /**
   * The digests the client declared up front (Content-MD5, an x-amz-checksum-* header), for a
   * remote backend to verify too. The front has verified them already; stores may ignore this.
   */
  integrity?: UpstreamIntegrity;
}

export interface UpstreamIntegrity {
  contentMd5?: string;
  checksum?: { alg: ChecksumAlgorithm; value?: string };
}

export interface PutResult {
  etag: string;
  checksums: Checksums;
  lastModified: Date;
  size: number;
}

export interface GetOptions {
  range?: RangeSpec;
  /** GetObject/HeadObject `partNumber`: serve that part's bytes (1 for an object uploaded whole); never with `range`. */
  partNumber?: number;
  conditions?: ReadConditions;
  /** Ends the request (remote backends): a hedged read's losing copy is not left open (virtual/read.ts). */
  signal?: AbortSignal;
}

export interface GetResult {
  meta: ObjectMeta;
  /** Absent for HEAD. */
  body?: Readable;
  /** Set when a range was asked for: the inclusive byte range served. */
  range?: { start: number; end: number };
}

export interface ScanOptions {
  prefix: string;
  /** Exclusive lower bound (a key or a marker); '' for the start. */
  after: string;
  limit: number;
}

export interface BucketInfo {
  name: string;
  creationDate: Date;
}

export interface PartInfo {
  partNumber: number;
  etag: string;
  size: number;
  lastModified: Date;
  checksums: Checksums;
}

export interface UploadInfo {
  key: string;
  uploadId: string;
  initiated: Date;
  checksumAlgorithm?: ChecksumAlgorithm;
  /** Set with checksumAlgorithm. */
  checksumType?: ChecksumType;
}

/** What a CompleteMultipartUpload request says about the object's checksum. */
export interface CompleteChecksum {
  /** Its x-amz-checksum-type: must be the upload's. */
  type?: ChecksumType;
  /** Its x-amz-checksum-<alg>: the object's checksum (COMPOSITE with or without `-N`, or FULL_OBJECT). */
  declared?: { alg: ChecksumAlgorithm; value: string };
}

export interface CompletePart {
  partNumber: number;
  etag: string;
  checksums: Checksums;
}

export interface ObjectStore {
  listBuckets(): Promise<BucketInfo[]>;
  /** Throws BucketAlreadyOwnedByYou when it exists. */
  createBucket(bucket: string): Promise<void>;
  /** Throws NoSuchBucket. */
  headBucket(bucket: string): Promise<BucketInfo>;
  /** Throws NoSuchBucket, BucketNotEmpty. */
  deleteBucket(bucket: string): Promise<void>;

  putObject(bucket: string, key: string, input: PutInput): Promise<PutResult>;
  /** Evaluates conditions (304/412) and the range (416) against the stored object. `head` opens no body. */
  getObject(bucket: string, key: string, opts: GetOptions & { head?: boolean }): Promise<GetResult>;
  /** Idempotent: deleting a missing key succeeds. Throws NoSuchBucket. */
  deleteObject(bucket: string, key: string): Promise<void>;
  /** Objects with `prefix` and key > `after`, in UTF-8 byte order, at most `limit`. */
  scan(bucket: string, opts: ScanOptions): Promise<ObjectMeta[]>;

  /** `checksumType` only with `checksumAlgorithm` (the front checks the pair): COMPOSITE when absent. */
  createMultipartUpload(bucket: string, key: string, headers: ObjectHeaders, checksumAlgorithm?: ChecksumAlgorithm, checksumType?: ChecksumType): Promise<string>;
  uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, input: PutInput): Promise<PutResult>;
  /**
   * Validates parts (InvalidPart, InvalidPartOrder, EntityTooSmall) and the object's checksum
   * (store/multipart-checksum.ts: InvalidRequest, BadDigest) before it commits, atomically.
   */
  completeMultipartUpload(bucket: string, key: string, uploadId: string, parts: CompletePart[], conditions?: WriteConditions, checksum?: CompleteChecksum): Promise<ObjectMeta>;
  abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void>;
  /** Parts with number > `after`, ascending, at most `limit`. Throws NoSuchUpload. */
  listParts(bucket: string, key: string, uploadId: string, after: number, limit: number): Promise<{ upload: UploadInfo; parts: PartInfo[] }>;
  /** Uploads with prefix, ordered by (key, initiated), after the (key, uploadId) marker. */
  listMultipartUploads(bucket: string, opts: { prefix: string; keyMarker: string; uploadIdMarker: string; limit: number }): Promise<UploadInfo[]>;

  close(): Promise<void>;
}

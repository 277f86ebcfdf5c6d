// Row ↔ record conversion shared by the SQL implementations: the same columns in both.
import type { ChecksumAlgorithm, ChecksumType, Checksums } from '../store/types.ts';
import type { FoundObject } from './find.ts';
import type { Intent, OriginMark, PartRecord, PlacedObject, Replica, UploadRecord } from './types.ts';

export const OBJECT_COLUMNS = [
  'bucket', 'key', 'backend', 'size', 'etag', 'last_modified', 'content_type', 'cache_control', 'content_disposition',
  'content_encoding', 'content_language', 'expires', 'user_meta', 'checksums', 'checksum_type', 'parts_count', 'location', 'copies',
] as const;

export type Row = Record<string, unknown>;

const opt = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));

export function objectParams(o: PlacedObject): unknown[] {
  return [
    o.bucket, o.key, o.backend, o.size, o.etag, o.lastModified.getTime(), o.contentType ?? null, o.cacheControl ?? null,
    o.contentDisposition ?? null, o.contentEncoding ?? null, o.contentLanguage ?? null, o.expires ?? null,
    JSON.stringify(o.userMeta), JSON.stringify(o.checksums), o.checksumType ?? null, o.partsCount ?? null, o.location ?? null,
    o.copies?.length ? JSON.stringify(o.copies) : null,
  ];
}

export function objectFromRow(r: Row): PlacedObject {
  const o: PlacedObject = {
    bucket: String(r.bucket),
    key: String(r.key),
    backend: String(r.backend),
    size: Number(r.size),
    etag: String(r.etag),
    lastModified: new Date(Number(r.last_modified)),
    userMeta: JSON.parse(String(r.user_meta)) as Record<string, string>,
    checksums: JSON.parse(String(r.checksums)) as Checksums,
  };
  const set = <K extends keyof PlacedObject>(k: K, v: unknown) => { if (v !== null && v !== undefined) o[k] = v as PlacedObject[K]; };
  set('contentType', opt(r.content_type));
  set('cacheControl', opt(r.cache_control));
  set('contentDisposition', opt(r.content_disposition));
  set('contentEncoding', opt(r.content_encoding));
  set('contentLanguage', opt(r.content_language));
  set('expires', opt(r.expires));
  set('checksumType', opt(r.checksum_type));
  set('location', opt(r.location));
  if (r.parts_count !== null && r.parts_count !== undefined) o.partsCount = Number(r.parts_count);
  if (r.copies !== null && r.copies !== undefined) o.copies = JSON.parse(String(r.copies)) as Replica[];
  return o;
}

/** A find() row: the record and the copy count the query computed (`replica_count`). */
export function foundFromRow(r: Row): FoundObject {
  return { ...objectFromRow(r), replicas: Number(r.replica_count) };
}

export function intentFromRow(r: Row): Intent {
  const i: Intent = {
    id: Number(r.id), owner: String(r.owner), bucket: String(r.bucket), key: String(r.key), backend: String(r.backend),
    op: r.op === 'delete' || r.op === 'remove' || r.op === 'refused' ? r.op : 'put', started: new Date(Number(r.started)),
  };
  if (r.location !== null && r.location !== undefined) i.location = String(r.location);
  return i;
}

export const UPLOAD_COLUMNS = ['upload_id', 'bucket', 'key', 'backend', 'backend_upload_id', 'initiated', 'checksum_algorithm', 'headers', 'checksum_type'] as const;

export function uploadParams(u: UploadRecord): unknown[] {
  return [u.uploadId, u.bucket, u.key, u.backend, u.backendUploadId, u.initiated.getTime(), u.checksumAlgorithm ?? null, JSON.stringify(u.headers), u.checksumType ?? null];
}

export function uploadFromRow(r: Row): UploadRecord {
  const u: UploadRecord = {
    uploadId: String(r.upload_id),
    bucket: String(r.bucket),
    key: String(r.key),
    backend: String(r.backend),
    backendUploadId: String(r.backend_upload_id),
    initiated: new Date(Number(r.initiated)),
    headers: JSON.parse(String(r.headers)) as UploadRecord['headers'],
  };
  if (r.checksum_algorithm) u.checksumAlgorithm = String(r.checksum_algorithm) as ChecksumAlgorithm;
  if (r.checksum_type) u.checksumType = String(r.checksum_type) as ChecksumType;
  return u;
}

export function partFromRow(r: Row): PartRecord {
  return {
    uploadId: String(r.upload_id),
    partNumber: Number(r.part_number),
    etag: String(r.etag),
    size: Number(r.size),
    lastModified: new Date(Number(r.last_modified)),
    checksums: JSON.parse(String(r.checksums)) as Checksums,
  };
}

export function originMarkFromRow(r: Row): OriginMark {
  return { bucket: String(r.bucket), key: String(r.key), kind: 'deleted', at: new Date(Number(r.at)) };
}

// Metadata search over the placement index (`floodgate gateway find`, GET /_floodgate/admin/find):
// the objects of one virtual bucket that match every filter given, in UTF-8 key order, a page at
// a time. One SQL text serves both index kinds; the indexes that keep it fast are created by
// find-schema.ts. Each filter is a condition an index can seek on, so a selective filter reads
// about as many rows as it returns and an unselective one stops after one page in key order.
import type { PlacedObject } from './types.ts';
import { keyRange, prefixUpperBound } from './types.ts';

/** A user metadata (x-amz-meta-*) condition: the name is present, with this value when given. */
export interface MetaFilter {
  /** Lower-cased, without `x-amz-meta-` (names are stored that way). */
  name: string;
  value?: string;
}

export interface FindQuery {
  bucket: string;
  /** '' for every key. */
  prefix: string;
  /** Exclusive lower bound: the last key of the previous page ('' for the first page). */
  after: string;
  /** Bytes, inclusive. */
  minSize?: number;
  maxSize?: number;
  /** Last-Modified ≥ modifiedSince and < modifiedBefore (half-open: adjacent windows never overlap). */
  modifiedSince?: Date;
  modifiedBefore?: Date;
  /** Exact Content-Type, or `type/*` for every subtype (`image/*`). */
  contentType?: string;
  /** Every one must hold. */
  meta: MetaFilter[];
  /** Objects with a copy on this backend. */
  backend?: string;
  /** Copies the index records for the object, inclusive. */
  minReplicas?: number;
  maxReplicas?: number;
  limit: number;
}

export interface FoundObject extends PlacedObject {
  /** Copies of the object the index records. */
  replicas: number;
}

/**
 * How many copies of an object the index records, and whether one is on a given backend, as SQL
 * over the `objects` row `o`: the filters and the reported count use these and nothing else.
 * Today a record is one copy on `o.backend`; when records gain more copies, these two change.
 */
export const REPLICA_COUNT_SQL = '1';
export const ON_BACKEND_SQL = 'o.backend = ?';

export interface FindDialect {
  /** A table of the index by name (schema-qualified on PostgreSQL). */
  table(name: 'objects' | 'object_meta'): string;
  /** Content types compare in byte order: '' on sqlite (BINARY), ' COLLATE "C"' on PostgreSQL (its index is so). */
  byteOrder: string;
}

/** The query for one page, with `?` placeholders (PostgreSQL numbers them). */
export function findSql(q: FindQuery, { table, byteOrder }: FindDialect): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const joins: string[] = [];
  const joinParams: unknown[] = [];
  const range = keyRange(q.prefix, q.after);
  // The first metadata condition may drive the scan from object_meta (bucket, name, value, key),
  // which yields keys in order; it repeats the key range so the seek is bounded there too.
  const [first, ...rest] = q.meta;
  let orderBy = 'o.key';
  if (first) {
    const range0 = range.where.replaceAll('key', 'm0.key');
    joins.push(`JOIN ${table('object_meta')} m0 ON m0.bucket = ? AND m0.key = o.key AND m0.name = ?${first.value !== undefined ? ' AND m0.value = ?' : ''} AND ${range0}`);
    joinParams.push(q.bucket, first.name, ...(first.value !== undefined ? [first.value] : []), ...range.params);
    if (first.value !== undefined) orderBy = 'm0.key';
  }
  where.push('o.bucket = ?', range.where.replaceAll('key', 'o.key'));
  params.push(q.bucket, ...range.params);
  for (const m of rest) {
    where.push(`EXISTS (SELECT 1 FROM ${table('object_meta')} m WHERE m.bucket = o.bucket AND m.key = o.key AND m.name = ?${m.value !== undefined ? ' AND m.value = ?' : ''})`);
    params.push(m.name, ...(m.value !== undefined ? [m.value] : []));
  }
  if (q.minSize !== undefined) { where.push('o.size >= ?'); params.push(q.minSize); }
  if (q.maxSize !== undefined) { where.push('o.size <= ?'); params.push(q.maxSize); }
  if (q.modifiedSince) { where.push('o.last_modified >= ?'); params.push(q.modifiedSince.getTime()); }
  if (q.modifiedBefore) { where.push('o.last_modified < ?'); params.push(q.modifiedBefore.getTime()); }
  if (q.contentType !== undefined) {
    if (q.contentType.endsWith('/*')) {
      const major = q.contentType.slice(0, -1);
      where.push(`o.content_type${byteOrder} >= ? AND o.content_type${byteOrder} < ?`);
      params.push(major, prefixUpperBound(major)!);
    } else {
      where.push(`o.content_type${byteOrder} = ?`);
      params.push(q.contentType);
    }
  }
  if (q.backend !== undefined) { where.push(ON_BACKEND_SQL); params.push(q.backend); }
  if (q.minReplicas !== undefined) { where.push(`${REPLICA_COUNT_SQL} >= ?`); params.push(q.minReplicas); }
  if (q.maxReplicas !== undefined) { where.push(`${REPLICA_COUNT_SQL} <= ?`); params.push(q.maxReplicas); }
  const sql = `SELECT o.*, ${REPLICA_COUNT_SQL} AS replica_count FROM ${table('objects')} o ${joins.join(' ')}
    WHERE ${where.join(' AND ')} ORDER BY ${orderBy} LIMIT ?`;
  return { sql, params: [...joinParams, ...params, q.limit] };
}

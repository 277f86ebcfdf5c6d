// Metadata search over the placement index (`floodgate gateway find`, GET /_floodgate/admin/find):
// the objects of one virtual bucket that match every filter given, in UTF-8 key order, a page at
// a time. One SQL text serves both index kinds; the indexes that keep it fast are created by
// find-schema.ts. A page is read either in key order (stopping at `limit` matches: cheap when the
// filters match often) or from the index of its most selective filter (few rows, then sorted):
// PostgreSQL's planner picks with its statistics, sqlite by counting (findDrivers).
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
 * How many written copies of an object the index records, as SQL over the `objects` row `o`: the
 * filter and the reported count use this and nothing else. The first copy plus the entries of
 * `o.copies` (a JSON array of objects, each with one "backend": and, while its copy is still to
 * be written, "pending":true — JSON.stringify never writes those unescaped inside a string),
 * counted with string functions both databases have. Which backends hold a copy: object_copies.
 */
const occurrences = (needle: string) => `(LENGTH(COALESCE(o.copies, '')) - LENGTH(REPLACE(COALESCE(o.copies, ''), '${needle}', ''))) / ${needle.length}`;
export const REPLICA_COUNT_SQL = `(1 + ${occurrences('"backend":')} - ${occurrences('"pending":true')})`;

export interface FindDialect {
  /** A table of the index by name (schema-qualified on PostgreSQL). */
  table(name: 'objects' | 'object_meta' | 'object_copies'): string;
  /** Content types compare in byte order: '' on sqlite (BINARY), ' COLLATE "C"' on PostgreSQL (its index is so). */
  byteOrder: string;
}

/**
 * What a page's scan starts from: the key order of the records, or one filter's index (then the
 * few rows it yields are sorted by key). PostgreSQL's planner chooses with its statistics; sqlite
 * keeps none that could tell a rare content type from a common one, so sqlite.ts counts each
 * candidate's matches up to a cap (findDrivers) and names the cheapest (INDEXED BY / NOT INDEXED).
 */
export type Driver = 'key' | 'meta' | 'backend' | 'type' | 'size' | 'modified';
const DRIVER_INDEX: Record<'type' | 'size' | 'modified', string> = {
  type: 'objects_find_type', size: 'objects_find_size', modified: 'objects_find_modified',
};

interface Term { sql: string; params: unknown[] }

/** The conditions on the objects row `o`, one per filter, by the driver that could seek on it. */
function terms(q: FindQuery, { table, byteOrder }: FindDialect): Partial<Record<Driver, Term>> & { key: Term; replicas?: Term } {
  const range = keyRange(q.prefix, q.after);
  const t: Partial<Record<Driver, Term>> & { key: Term; replicas?: Term } = {
    key: { sql: `o.bucket = ? AND ${range.where.replaceAll('key', 'o.key')}`, params: [q.bucket, ...range.params] },
  };
  const both = (col: string, lo: unknown, hi: unknown, loOp: string, hiOp: string): Term | undefined => {
    const parts = [...(lo !== undefined ? [`${col} ${loOp} ?`] : []), ...(hi !== undefined ? [`${col} ${hiOp} ?`] : [])];
    return parts.length ? { sql: parts.join(' AND '), params: [lo, hi].filter((v) => v !== undefined) } : undefined;
  };
  const size = both('o.size', q.minSize, q.maxSize, '>=', '<=');
  if (size) t.size = size;
  const modified = both('o.last_modified', q.modifiedSince?.getTime(), q.modifiedBefore?.getTime(), '>=', '<');
  if (modified) t.modified = modified;
  if (q.contentType !== undefined) {
    const major = q.contentType.endsWith('/*') ? q.contentType.slice(0, -1) : undefined;
    t.type = major !== undefined
      ? { sql: `o.content_type${byteOrder} >= ? AND o.content_type${byteOrder} < ?`, params: [major, prefixUpperBound(major)!] }
      : { sql: `o.content_type${byteOrder} = ?`, params: [q.contentType] };
  }
  if (q.backend !== undefined) {
    t.backend = { sql: `EXISTS (SELECT 1 FROM ${table('object_copies')} c WHERE c.bucket = o.bucket AND c.backend = ? AND c.key = o.key)`, params: [q.backend] };
  }
  const replicas = both(REPLICA_COUNT_SQL, q.minReplicas, q.maxReplicas, '>=', '<=');
  if (replicas) t.replicas = replicas;
  return t;
}

/** One metadata condition, checked for the row `o`; with `hints` (sqlite), a name alone is looked up by the object, not scanned by name. */
function metaExists(table: string, m: MetaFilter, hints: boolean): Term {
  const via = hints && m.value === undefined ? ' INDEXED BY object_meta_by_object' : '';
  return {
    sql: `EXISTS (SELECT 1 FROM ${table} m${via} WHERE m.bucket = o.bucket AND m.key = o.key AND m.name = ?${m.value !== undefined ? ' AND m.value = ?' : ''})`,
    params: [m.name, ...(m.value !== undefined ? [m.value] : [])],
  };
}

/** The page's keys with a copy on `q.backend`, as a seek on object_copies `c0`. */
function copiesSeek(q: FindQuery): Term {
  const range = keyRange(q.prefix, q.after);
  return { sql: `c0.bucket = ? AND c0.backend = ? AND ${range.where.replaceAll('key', 'c0.key')}`, params: [q.bucket, q.backend, ...range.params] };
}

/**
 * The query for one page, with `?` placeholders (PostgreSQL numbers them). Without `driver` the
 * database plans it; with one (sqlite), the scan starts where it says.
 */
export function findSql(q: FindQuery, dialect: FindDialect, driver?: Driver): { sql: string; params: unknown[] } {
  const { table } = dialect;
  const t = terms(q, dialect);
  const hints = driver !== undefined;
  const where: Term[] = [t.key, ...(['size', 'modified', 'type'] as const).flatMap((d) => (t[d] ? [t[d]] : [])), ...(t.replicas ? [t.replicas] : [])];
  const [first, ...rest] = q.meta;
  let from = `${table('objects')} o${driver === 'key' ? ' NOT INDEXED' : driver && driver !== 'meta' && driver !== 'backend' ? ` INDEXED BY ${DRIVER_INDEX[driver]}` : ''}`;
  let orderBy = 'o.key';
  const fromParams: unknown[] = [];
  if (driver === 'backend') {
    // object_copies (bucket, backend, key) yields the keys with a copy there in order.
    from = `${table('object_copies')} c0 CROSS JOIN ${table('objects')} o NOT INDEXED`;
    const c0 = copiesSeek(q);
    where.unshift({ sql: `${c0.sql} AND c0.key = o.key`, params: c0.params });
    orderBy = 'c0.key';
  } else if (t.backend) {
    where.push(t.backend);
  }
  if (first && (driver === undefined || driver === 'meta')) {
    // object_meta (bucket, name, value, key) yields the keys of one name=value in order; the key
    // range is repeated on it so the seek is bounded there too.
    const range = keyRange(q.prefix, q.after);
    const m0: Term = {
      sql: `m0.bucket = ? AND m0.name = ?${first.value !== undefined ? ' AND m0.value = ?' : ''} AND ${range.where.replaceAll('key', 'm0.key')} AND m0.key = o.key`,
      params: [q.bucket, first.name, ...(first.value !== undefined ? [first.value] : []), ...range.params],
    };
    if (driver === 'meta') {
      from = `${table('object_meta')} m0 CROSS JOIN ${table('objects')} o NOT INDEXED`;
      where.unshift(m0);
    } else {
      from += ` JOIN ${table('object_meta')} m0 ON ${m0.sql}`;
      fromParams.push(...m0.params);
    }
    if (first.value !== undefined) orderBy = 'm0.key';
    where.push(...rest.map((m) => metaExists(table('object_meta'), m, hints)));
  } else {
    where.push(...q.meta.map((m) => metaExists(table('object_meta'), m, hints)));
  }
  const sql = `SELECT o.*, ${REPLICA_COUNT_SQL} AS replica_count FROM ${from}
    WHERE ${where.map((w) => w.sql).join(' AND ')} ORDER BY ${orderBy} LIMIT ?`;
  return { sql, params: [...fromParams, ...where.flatMap((w) => w.params), q.limit] };
}

/**
 * For sqlite: per driver the query, `SELECT count(*) AS n`, of how many rows (at most `cap`) its
 * index yields for this page — the cost of starting there. The key order comes first.
 */
export function findDrivers(q: FindQuery, dialect: FindDialect, cap: number): { driver: Driver; sql: string; params: unknown[] }[] {
  const { table } = dialect;
  const t = terms(q, dialect);
  const count = (from: string, w: Term[]) => ({
    sql: `SELECT count(*) AS n FROM (SELECT 1 FROM ${from} WHERE ${w.map((x) => x.sql).join(' AND ')} LIMIT ?)`,
    params: [...w.flatMap((x) => x.params), cap],
  });
  const out: { driver: Driver; sql: string; params: unknown[] }[] = [{ driver: 'key', ...count(`${table('objects')} o NOT INDEXED`, [t.key]) }];
  const first = q.meta[0];
  if (first) {
    const range = keyRange(q.prefix, q.after);
    out.push({ driver: 'meta', ...count(`${table('object_meta')} m0`, [{
      sql: `m0.bucket = ? AND m0.name = ?${first.value !== undefined ? ` AND m0.value = ? AND ${range.where.replaceAll('key', 'm0.key')}` : ''}`,
      params: [q.bucket, first.name, ...(first.value !== undefined ? [first.value, ...range.params] : [])],
    }]) });
  }
  if (q.backend !== undefined) out.push({ driver: 'backend', ...count(`${table('object_copies')} c0`, [copiesSeek(q)]) });
  for (const d of ['type', 'size', 'modified'] as const) {
    const term = t[d];
    if (!term) continue;
    // Equality indexes are in key order within the value: the page's key range bounds them too.
    const keyed = d === 'type' && !q.contentType!.endsWith('/*');
    out.push({ driver: d, ...count(`${table('objects')} o INDEXED BY ${DRIVER_INDEX[d]}`, [{ sql: 'o.bucket = ?', params: [q.bucket] }, term, ...(keyed ? [t.key] : [])]) });
  }
  return out;
}

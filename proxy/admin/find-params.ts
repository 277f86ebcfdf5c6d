// The query string of GET /_floodgate/admin/find as a FindQuery, and its continuation token. A
// bad parameter is a 400 naming it and saying what is expected; nothing is guessed or dropped.
import { createHash } from 'node:crypto';
import { parseSize, SIZE_MESSAGE } from '../../crds/units.ts';
import type { FindQuery, MetaFilter } from '../placement/find.ts';
import { HttpError } from './api.ts';

export const MAX_LIMIT = 1000;
const MAX_META = 10;

/** Parameter → what it takes, for the 400 that names an unknown one (and the docs). */
export const FIND_PARAMS: Record<string, string> = {
  bucket: 'the virtual bucket (required)',
  prefix: 'keys starting with this',
  minSize: 'size ≥ this: bytes or 10Mi, 1.5GB…',
  maxSize: 'size ≤ this',
  modifiedSince: 'Last-Modified ≥ this (ISO 8601: 2026-01-31 or 2026-01-31T12:00:00Z)',
  modifiedBefore: 'Last-Modified < this',
  contentType: 'exact Content-Type, or type/* (image/*)',
  meta: 'user metadata name=value, or name alone for any value; repeatable (all must hold)',
  backend: 'a copy on this backend',
  minReplicas: 'at least this many copies',
  maxReplicas: 'at most this many copies',
  limit: `objects per page, 1..${MAX_LIMIT} (default ${MAX_LIMIT})`,
  continuationToken: 'nextContinuationToken of the previous page',
};

export interface FindRequest {
  query: Omit<FindQuery, 'after' | 'limit'>;
  after: string;
  limit: number;
}

const bad = (name: string, msg: string) => new HttpError(400, `${name}: ${msg}`);

function isoDate(name: string, v: string): Date {
  // Date-only means midnight UTC; a time needs its zone, or the answer would depend on the gateway's.
  const m = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/.exec(v);
  const t = m ? Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v) : NaN;
  if (!Number.isFinite(t)) throw bad(name, `expected an ISO 8601 date or time with a zone (2026-01-31, 2026-01-31T12:00:00Z), got "${v}"`);
  return new Date(t);
}

function count(name: string, v: string): number {
  if (!/^\d{1,6}$/.test(v)) throw bad(name, `expected a whole number ≥ 0, got "${v}"`);
  return Number(v);
}

function size(name: string, v: string): number {
  const n = parseSize(v);
  if (n === undefined) throw bad(name, `${SIZE_MESSAGE} (or bytes), got "${v}"`);
  return n;
}

function metaFilter(v: string): MetaFilter {
  const eq = v.indexOf('=');
  // Names are stored lower-cased and without the header prefix (x-amz-meta-team → team).
  const name = (eq < 0 ? v : v.slice(0, eq)).trim().toLowerCase().replace(/^x-amz-meta-/, '');
  if (!name) throw bad('meta', `expected name=value or name, got "${v}"`);
  return eq < 0 ? { name } : { name, value: v.slice(eq + 1) };
}

/** The filter, canonical: what a continuation token is bound to. */
function fingerprint(q: FindRequest['query']): string {
  return createHash('sha256').update(JSON.stringify(q)).digest('base64url').slice(0, 16);
}

export function continuationToken(q: FindRequest['query'], lastKey: string): string {
  return Buffer.from(JSON.stringify({ k: lastKey, f: fingerprint(q) })).toString('base64url');
}

function tokenKey(q: FindRequest['query'], token: string): string {
  let t: unknown;
  try {
    t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    t = undefined;
  }
  const ok = t !== null && typeof t === 'object' && typeof (t as { k?: unknown }).k === 'string' && typeof (t as { f?: unknown }).f === 'string';
  if (!ok) throw bad('continuationToken', 'not a token this API issued (pass nextContinuationToken unchanged)');
  const { k, f } = t as { k: string; f: string };
  if (f !== fingerprint(q)) throw bad('continuationToken', 'issued for a different query: every filter must stay the same from page to page (limit may change)');
  return k;
}

export function parseFindParams(p: URLSearchParams): FindRequest {
  for (const name of new Set(p.keys())) {
    if (!(name in FIND_PARAMS)) throw bad(name, `unknown parameter; known: ${Object.keys(FIND_PARAMS).join(', ')}`);
    if (name !== 'meta' && p.getAll(name).length > 1) throw bad(name, 'given more than once');
  }
  const one = (name: string) => p.get(name) ?? undefined;
  const bucket = one('bucket');
  if (!bucket) throw bad('bucket', 'required: the virtual bucket to search');
  const q: FindRequest['query'] = { bucket, prefix: one('prefix') ?? '', meta: p.getAll('meta').map(metaFilter) };
  if (q.meta.length > MAX_META) throw bad('meta', `at most ${MAX_META} conditions`);
  const v = (name: string) => one(name);
  if (v('minSize') !== undefined) q.minSize = size('minSize', v('minSize')!);
  if (v('maxSize') !== undefined) q.maxSize = size('maxSize', v('maxSize')!);
  if (q.minSize !== undefined && q.maxSize !== undefined && q.minSize > q.maxSize) throw bad('minSize', `${q.minSize} is above maxSize ${q.maxSize}`);
  if (v('modifiedSince') !== undefined) q.modifiedSince = isoDate('modifiedSince', v('modifiedSince')!);
  if (v('modifiedBefore') !== undefined) q.modifiedBefore = isoDate('modifiedBefore', v('modifiedBefore')!);
  if (q.modifiedSince && q.modifiedBefore && q.modifiedSince >= q.modifiedBefore) {
    throw bad('modifiedSince', `${q.modifiedSince.toISOString()} is not before modifiedBefore ${q.modifiedBefore.toISOString()}: the window is empty`);
  }
  const ct = v('contentType');
  if (ct !== undefined) {
    if (!/^[^\s/*]+\/(?:[^*]+|\*)$/.test(ct)) throw bad('contentType', `expected type/subtype or type/* (image/png, image/*), got "${ct}"`);
    q.contentType = ct;
  }
  if (v('backend') !== undefined) {
    if (!v('backend')) throw bad('backend', 'empty');
    q.backend = v('backend');
  }
  if (v('minReplicas') !== undefined) q.minReplicas = count('minReplicas', v('minReplicas')!);
  if (v('maxReplicas') !== undefined) q.maxReplicas = count('maxReplicas', v('maxReplicas')!);
  if (q.minReplicas !== undefined && q.maxReplicas !== undefined && q.minReplicas > q.maxReplicas) throw bad('minReplicas', `${q.minReplicas} is above maxReplicas ${q.maxReplicas}`);
  let limit = MAX_LIMIT;
  if (v('limit') !== undefined) {
    limit = count('limit', v('limit')!);
    if (limit < 1 || limit > MAX_LIMIT) throw bad('limit', `expected 1..${MAX_LIMIT}, got ${limit}`);
  }
  const token = v('continuationToken');
  return { query: q, after: token === undefined ? '' : tokenKey(q, token), limit };
}

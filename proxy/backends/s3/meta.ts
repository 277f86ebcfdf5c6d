// Object metadata across the wire to a backend: our ObjectHeaders as request headers, and a
// backend's response headers back into ObjectMeta. Header strings are latin1 views of bytes
// (Node and undici both treat them so); metadata is UTF-8, so convert at this edge only.
import type { IncomingHttpHeaders } from 'node:http';
import { CHECKSUM_ALGORITHMS, type Checksums, type ObjectHeaders, type ObjectMeta, type ReadConditions, type RangeSpec, type WriteConditions } from '../../store/types.ts';

const toLatin1 = (v: string) => Buffer.from(v, 'utf8').toString('latin1');
const fromLatin1 = (v: string) => Buffer.from(v, 'latin1').toString('utf8');

/** RFC 2047 encoded words (`=?UTF-8?B?…?=`, `=?UTF-8?Q?…?=`), as S3 and MinIO return non-ASCII metadata. */
function decodeWord(v: string): string {
  const m = /^=\?UTF-8\?([BQ])\?([^?]*)\?=$/i.exec(v);
  if (!m) return v;
  if (m[1]!.toUpperCase() === 'B') return Buffer.from(m[2]!, 'base64').toString('utf8');
  const bytes: number[] = [];
  const q = m[2]!;
  for (let i = 0; i < q.length; i++) {
    if (q[i] === '_') bytes.push(32);
    else if (q[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(q.slice(i + 1, i + 3))) {
      bytes.push(parseInt(q.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(q.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

export function requestHeadersOf(h: ObjectHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  if (h.contentType !== undefined) out['content-type'] = toLatin1(h.contentType);
  if (h.cacheControl !== undefined) out['cache-control'] = toLatin1(h.cacheControl);
  if (h.contentDisposition !== undefined) out['content-disposition'] = toLatin1(h.contentDisposition);
  if (h.contentEncoding !== undefined) out['content-encoding'] = toLatin1(h.contentEncoding);
  if (h.contentLanguage !== undefined) out['content-language'] = toLatin1(h.contentLanguage);
  if (h.expires !== undefined) out.expires = toLatin1(h.expires);
  for (const [k, v] of Object.entries(h.userMeta)) out[`x-amz-meta-${k.toLowerCase()}`] = toLatin1(v);
  return out;
}

function one(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return v === undefined ? undefined : fromLatin1(Array.isArray(v) ? v.join(',') : v);
}

export function unquote(etag: string | undefined): string {
  if (!etag) return '';
  const t = etag.trim().replace(/^W\//, '');
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

export function checksumsOf(h: IncomingHttpHeaders): Checksums {
  const out: Checksums = {};
  for (const alg of CHECKSUM_ALGORITHMS) {
    const v = h[`x-amz-checksum-${alg}`];
    if (typeof v === 'string' && v) out[alg] = v;
  }
  return out;
}

/** ObjectMeta from GET/HEAD response headers; `size` is the whole object's, even on a 206. */
export function metaFromResponse(key: string, h: IncomingHttpHeaders): ObjectMeta {
  const userMeta: Record<string, string> = {};
  for (const [name, v] of Object.entries(h)) {
    if (name.startsWith('x-amz-meta-') && v !== undefined) userMeta[name.slice(11)] = decodeWord(fromLatin1(Array.isArray(v) ? v.join(',') : v));
  }
  const range = /\/(\d+)$/.exec(String(h['content-range'] ?? ''));
  const size = range ? Number(range[1]) : Number(h['content-length'] ?? 0);
  const lm = h['last-modified'] ? new Date(String(h['last-modified'])) : new Date(0);
  const checksumType = String(h['x-amz-checksum-type'] ?? '');
  const parts = Number(h['x-amz-mp-parts-count'] ?? 0);
  return {
    key,
    size,
    etag: unquote(String(h.etag ?? '')),
    lastModified: Number.isNaN(lm.getTime()) ? new Date(0) : lm,
    checksums: checksumsOf(h),
    checksumType: checksumType === 'COMPOSITE' || checksumType === 'FULL_OBJECT' ? checksumType : undefined,
    partsCount: parts > 0 ? parts : undefined,
    contentType: one(h, 'content-type'),
    cacheControl: one(h, 'cache-control'),
    contentDisposition: one(h, 'content-disposition'),
    contentEncoding: one(h, 'content-encoding'),
    contentLanguage: one(h, 'content-language'),
    expires: one(h, 'expires'),
    userMeta,
  };
}

/** The served range from a 206's Content-Range. */
export function rangeFromResponse(h: IncomingHttpHeaders): { start: number; end: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\//.exec(String(h['content-range'] ?? ''));
  return m ? { start: Number(m[1]), end: Number(m[2]) } : undefined;
}

export function rangeHeader(r: RangeSpec | undefined): Record<string, string> {
  if (!r) return {};
  if ('suffix' in r) return { range: `bytes=-${r.suffix}` };
  return { range: `bytes=${r.start}-${r.end ?? ''}` };
}

export function readConditionHeaders(c: ReadConditions | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!c) return out;
  if (c.ifMatch !== undefined) out['if-match'] = c.ifMatch;
  if (c.ifNoneMatch !== undefined) out['if-none-match'] = c.ifNoneMatch;
  if (c.ifModifiedSince) out['if-modified-since'] = c.ifModifiedSince.toUTCString();
  if (c.ifUnmodifiedSince) out['if-unmodified-since'] = c.ifUnmodifiedSince.toUTCString();
  return out;
}

export function writeConditionHeaders(c: WriteConditions | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (c?.ifNoneMatch) out['if-none-match'] = '*';
  if (c?.ifMatch !== undefined) out['if-match'] = /^".*"$/.test(c.ifMatch) || c.ifMatch === '*' ? c.ifMatch : `"${c.ifMatch}"`;
  return out;
}

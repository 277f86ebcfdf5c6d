// Object representation headers: read from a request, written to a response.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { ObjectHeaders, ObjectMeta, ReadConditions, WriteConditions } from '../store/types.ts';
import { S3Error } from './errors.ts';

const MAX_USER_META_BYTES = 2048;

/** Node decodes header bytes as latin1; S3 metadata is UTF-8. */
function utf8(v: string): string {
  return Buffer.from(v, 'latin1').toString('utf8');
}

function one(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(',') : v;
}

/**
 * `aws-chunked` is transfer framing, never part of the stored Content-Encoding; anything else is
 * stored verbatim (`deflate, gzip` comes back byte for byte, as from S3).
 */
export function storedEncoding(v: string | undefined): string | undefined {
  if (v === undefined || !/(^|,)\s*aws-chunked\s*(,|$)/i.test(v)) return v;
  const kept = v.split(',').filter((s) => s.trim() && s.trim().toLowerCase() !== 'aws-chunked');
  return kept.length ? kept.join(',').trim() : undefined;
}

export function objectHeadersFromRequest(h: IncomingHttpHeaders): ObjectHeaders {
  const userMeta: Record<string, string> = {};
  let metaBytes = 0;
  for (const [name, value] of Object.entries(h)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const v = utf8(Array.isArray(value) ? value.join(',') : value);
    const k = name.slice('x-amz-meta-'.length);
    metaBytes += Buffer.byteLength(k) + Buffer.byteLength(v);
    userMeta[k] = v;
  }
  if (metaBytes > MAX_USER_META_BYTES) {
    throw new S3Error('MetadataTooLarge', `Your metadata headers exceed the maximum allowed metadata size of ${MAX_USER_META_BYTES} bytes.`);
  }
  return {
    contentType: one(h, 'content-type'),
    cacheControl: one(h, 'cache-control'),
    contentDisposition: one(h, 'content-disposition'),
    contentEncoding: storedEncoding(one(h, 'content-encoding')),
    contentLanguage: one(h, 'content-language'),
    expires: one(h, 'expires'),
    userMeta,
  };
}

/** Non-ASCII metadata goes out RFC 2047-encoded, as S3 does, since header values are latin1. */
function headerSafe(v: string): string {
  return /^[\x20-\x7e]*$/.test(v) ? v : `=?UTF-8?B?${Buffer.from(v, 'utf8').toString('base64')}?=`;
}

export function quoteEtag(etag: string): string {
  return `"${etag}"`;
}

export function unquoteEtag(etag: string): string {
  const t = etag.trim();
  return t.startsWith('"') && t.endsWith('"') && t.length >= 2 ? t.slice(1, -1) : t;
}

export function objectResponseHeaders(meta: ObjectMeta, query: Map<string, string>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {
    etag: quoteEtag(meta.etag),
    'last-modified': meta.lastModified.toUTCString(),
    'accept-ranges': 'bytes',
    'content-type': meta.contentType ?? 'binary/octet-stream',
  };
  if (meta.cacheControl) out['cache-control'] = meta.cacheControl;
  if (meta.contentDisposition) out['content-disposition'] = meta.contentDisposition;
  if (meta.contentEncoding) out['content-encoding'] = meta.contentEncoding;
  if (meta.contentLanguage) out['content-language'] = meta.contentLanguage;
  if (meta.expires) out.expires = meta.expires;
  for (const [k, v] of Object.entries(meta.userMeta)) out[`x-amz-meta-${k}`] = headerSafe(v);
  if (meta.partsCount) out['x-amz-mp-parts-count'] = String(meta.partsCount);
  for (const [k, v] of query) {
    const l = k.toLowerCase();
    if (l.startsWith('response-') && l !== 'response-') out[l.slice('response-'.length)] = v;
  }
  return out;
}

function httpDate(h: IncomingHttpHeaders, name: string): Date | undefined {
  const v = one(h, name);
  if (v === undefined) return undefined;
  const d = new Date(v);
  // S3 ignores an unparseable date condition rather than failing the request.
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export function readConditions(h: IncomingHttpHeaders): ReadConditions {
  return {
    ifMatch: one(h, 'if-match'),
    ifNoneMatch: one(h, 'if-none-match'),
    ifModifiedSince: httpDate(h, 'if-modified-since'),
    ifUnmodifiedSince: httpDate(h, 'if-unmodified-since'),
  };
}

export function writeConditions(h: IncomingHttpHeaders): WriteConditions | undefined {
  const ifNoneMatch = one(h, 'if-none-match');
  const ifMatch = one(h, 'if-match');
  if (ifNoneMatch === undefined && ifMatch === undefined) return undefined;
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
    throw new S3Error('NotImplemented', 'If-None-Match on writes supports only "*".');
  }
  return { ifNoneMatch: ifNoneMatch !== undefined ? '*' : undefined, ifMatch: ifMatch !== undefined ? unquoteEtag(ifMatch) : undefined };
}

// ListObjects (v1), ListObjectsV2 and ListObjectVersions (every object is its "null" version).
import { S3Error } from '../errors.ts';
import { quoteEtag } from '../headers.ts';
import { listPage, type ListPage } from '../listing.ts';
import { sendXml } from '../respond.ts';
import { param } from '../route.ts';
import { xmlDocument, type XmlNode } from '../xml.ts';
import { bucketOf, intParam, type Handler, type S3Context } from './context.ts';

const OWNER = { ID: 'floodgate', DisplayName: 'floodgate' };

export function encodingType(ctx: S3Context): 'url' | undefined {
  const v = param(ctx.target, 'encoding-type');
  if (v === undefined) return undefined;
  if (v.toLowerCase() !== 'url') throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', { details: { ArgumentName: 'encoding-type', ArgumentValue: v } });
  return 'url';
}

/** With encoding-type=url every key-like value is percent-encoded like a URI path ('/' kept). */
export function encodeIf(enc: 'url' | undefined, s: string): string;
export function encodeIf(enc: 'url' | undefined, s: string | undefined): string | undefined;
export function encodeIf(enc: 'url' | undefined, s: string | undefined): string | undefined {
  if (s === undefined || enc === undefined) return s;
  return encodeURIComponent(s).replace(/%2F/g, '/').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

interface Common {
  bucket: string;
  prefix: string;
  delimiter: string;
  maxKeys: number;
  enc: 'url' | undefined;
}

async function common(ctx: S3Context): Promise<Common> {
  const bucket = bucketOf(ctx);
  const enc = encodingType(ctx);
  const maxKeys = intParam(param(ctx.target, 'max-keys'), 'max-keys', 1000, 0, 1000);
  await ctx.store.headBucket(bucket);
  return { bucket, enc, maxKeys, prefix: param(ctx.target, 'prefix') ?? '', delimiter: param(ctx.target, 'delimiter') ?? '' };
}

function contents(page: ListPage, c: Common, owner: boolean): XmlNode[] {
  const out: XmlNode[] = [];
  for (const e of page.entries) {
    if (e.kind !== 'object') continue;
    out.push({
      Key: encodeIf(c.enc, e.meta.key), LastModified: e.meta.lastModified, ETag: quoteEtag(e.meta.etag), Size: e.meta.size,
      Owner: owner ? OWNER : undefined, StorageClass: 'STANDARD',
    });
  }
  return out;
}

function prefixes(page: ListPage, c: Common): XmlNode[] {
  return page.entries.flatMap((e) => (e.kind === 'prefix' ? [{ Prefix: encodeIf(c.enc, e.prefix) }] : []));
}

export const listObjectsV2: Handler = async (ctx) => {
  const c = await common(ctx);
  const token = param(ctx.target, 'continuation-token');
  const startAfter = param(ctx.target, 'start-after') ?? '';
  let after = startAfter;
  if (token !== undefined) {
    const decoded = Buffer.from(token, 'base64url').toString('utf8');
    // Only a token this gateway issued: it must re-encode to itself (base64url ignores stray characters).
    if (!token || !decoded.startsWith('1:') || Buffer.from(decoded, 'utf8').toString('base64url') !== token) throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { details: { ArgumentName: 'continuation-token' } });
    after = decoded.slice(2);
  }
  const page = await listPage(ctx.store, c.bucket, { prefix: c.prefix, delimiter: c.delimiter, after, maxKeys: c.maxKeys });
  sendXml(ctx.res, 200, xmlDocument('ListBucketResult', {
    Name: c.bucket, Prefix: encodeIf(c.enc, c.prefix), Delimiter: c.delimiter ? encodeIf(c.enc, c.delimiter) : undefined,
    MaxKeys: c.maxKeys, KeyCount: page.entries.length, IsTruncated: page.isTruncated,
    ContinuationToken: token, NextContinuationToken: page.isTruncated ? Buffer.from(`1:${page.last}`).toString('base64url') : undefined,
    StartAfter: startAfter ? encodeIf(c.enc, startAfter) : undefined, EncodingType: c.enc,
    Contents: contents(page, c, param(ctx.target, 'fetch-owner') === 'true'), CommonPrefixes: prefixes(page, c),
  }));
};

export const listObjects: Handler = async (ctx) => {
  const c = await common(ctx);
  const marker = param(ctx.target, 'marker') ?? '';
  const page = await listPage(ctx.store, c.bucket, { prefix: c.prefix, delimiter: c.delimiter, after: marker, maxKeys: c.maxKeys });
  sendXml(ctx.res, 200, xmlDocument('ListBucketResult', {
    Name: c.bucket, Prefix: encodeIf(c.enc, c.prefix), Marker: encodeIf(c.enc, marker),
    NextMarker: page.isTruncated ? encodeIf(c.enc, page.last) : undefined,
    Delimiter: c.delimiter ? encodeIf(c.enc, c.delimiter) : undefined, MaxKeys: c.maxKeys, IsTruncated: page.isTruncated, EncodingType: c.enc,
    Contents: contents(page, c, true), CommonPrefixes: prefixes(page, c),
  }));
};

export const listObjectVersions: Handler = async (ctx) => {
  const c = await common(ctx);
  const keyMarker = param(ctx.target, 'key-marker') ?? '';
  const page = await listPage(ctx.store, c.bucket, { prefix: c.prefix, delimiter: c.delimiter, after: keyMarker, maxKeys: c.maxKeys });
  const versions = page.entries.flatMap((e) => e.kind === 'object' ? [{
    Key: encodeIf(c.enc, e.meta.key), VersionId: 'null', IsLatest: true, LastModified: e.meta.lastModified,
    ETag: quoteEtag(e.meta.etag), Size: e.meta.size, Owner: OWNER, StorageClass: 'STANDARD',
  }] : []);
  sendXml(ctx.res, 200, xmlDocument('ListVersionsResult', {
    Name: c.bucket, Prefix: encodeIf(c.enc, c.prefix), KeyMarker: encodeIf(c.enc, keyMarker), VersionIdMarker: param(ctx.target, 'version-id-marker') ?? '',
    NextKeyMarker: page.isTruncated ? encodeIf(c.enc, page.last) : undefined, NextVersionIdMarker: page.isTruncated ? 'null' : undefined,
    Delimiter: c.delimiter ? encodeIf(c.enc, c.delimiter) : undefined, MaxKeys: c.maxKeys, IsTruncated: page.isTruncated, EncodingType: c.enc,
    Version: versions, CommonPrefixes: prefixes(page, c),
  }));
};

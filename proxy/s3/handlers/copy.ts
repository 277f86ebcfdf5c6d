// CopyObject and UploadPartCopy: a read of the source streamed into a write of the target.
import { createBodyVerifier } from '../../auth/verify-body.ts';
import { parseChecksumAlgorithm } from '../../auth/checksums.ts';
import { validateKey } from '../../store/keys.ts';
import type { Checksums, GetResult, ObjectHeaders, ObjectMeta, RangeSpec } from '../../store/types.ts';
import { S3Error } from '../errors.ts';
import { objectHeadersFromRequest, quoteEtag, writeConditions } from '../headers.ts';
import { sendXml } from '../respond.ts';
import { param } from '../route.ts';
import { xmlDocument } from '../xml.ts';
import { bucketOf, keyOf, partNumberParam, type Handler, type S3Context } from './context.ts';
import { checksumHeaders } from './objects.ts';
import { pipeline, type Readable } from 'node:stream';
import { abandon } from '../../store/abandon.ts';

function copySource(ctx: S3Context): { bucket: string; key: string } {
  const raw = String(ctx.req.headers['x-amz-copy-source'] ?? '');
  const q = raw.indexOf('?');
  const path = (q < 0 ? raw : raw.slice(0, q)).replace(/^\//, '');
  const versionId = q < 0 ? undefined : new URLSearchParams(raw.slice(q + 1)).get('versionId');
  if (versionId && versionId !== 'null') throw new S3Error('NoSuchVersion');
  const slash = path.indexOf('/');
  let bucket: string, key: string;
  try {
    bucket = decodeURIComponent(path.slice(0, slash));
    key = decodeURIComponent(path.slice(slash + 1));
  } catch (cause) {
    throw new S3Error('InvalidArgument', 'Invalid copy source encoding.', { cause });
  }
  if (slash <= 0 || !key) throw new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey.');
  return { bucket, key };
}

function header(ctx: S3Context, name: string): string | undefined {
  const v = ctx.req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function date(v: string | undefined): Date | undefined {
  const d = v === undefined ? undefined : new Date(v);
  return d && !Number.isNaN(d.getTime()) ? d : undefined;
}

/** Opens the source; a failed copy-source condition is always 412 (never 304) for a copy. */
async function openSource(ctx: S3Context, range?: RangeSpec): Promise<GetResult> {
  const src = copySource(ctx);
  try {
    return await ctx.store.getObject(src.bucket, src.key, {
      range,
      conditions: {
        ifMatch: header(ctx, 'x-amz-copy-source-if-match'),
        ifNoneMatch: header(ctx, 'x-amz-copy-source-if-none-match'),
        ifModifiedSince: date(header(ctx, 'x-amz-copy-source-if-modified-since')),
        ifUnmodifiedSince: date(header(ctx, 'x-amz-copy-source-if-unmodified-since')),
      },
    });
  } catch (e) {
    if (e instanceof S3Error && e.code === 'NotModified') throw new S3Error('PreconditionFailed', undefined, { cause: e });
    throw e;
  }
}

/** The copied bytes, re-hashed when the request asks for a checksum algorithm. */
function copyBody(ctx: S3Context, source: GetResult, size: number, inherited: Checksums) {
  const alg = parseChecksumAlgorithm(header(ctx, 'x-amz-checksum-algorithm') ?? '');
  const checksums: Checksums = alg ? {} : { ...inherited };
  const verifier = createBodyVerifier({ expectedSize: size, checksums, computeAlgs: alg ? [alg] : [] });
  pipeline(source.body!, verifier, () => {});
  return { body: verifier, checksums };
}

/** A write that failed without reading the whole copy releases the source (and its backend connection). */
async function released<T>(body: Readable, write: Promise<T>): Promise<T> {
  try {
    return await write;
  } catch (e) {
    abandon(body);
    throw e;
  }
}

function fullObjectChecksums(meta: ObjectMeta): Checksums {
  return meta.checksumType === 'COMPOSITE' ? {} : meta.checksums;
}

function checksumElements(c: Checksums): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [alg, v] of Object.entries(c)) if (v) out[`Checksum${alg.toUpperCase()}`] = v;
  return out;
}

export const copyObject: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  validateKey(key);
  const src = copySource(ctx);
  const directive = (header(ctx, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') throw new S3Error('InvalidArgument', 'Unknown metadata directive.');
  if (src.bucket === bucket && src.key === key && directive === 'COPY') {
    throw new S3Error('InvalidRequest', 'This copy request is illegal because it is trying to copy an object to itself without changing the object\'s metadata, storage class, website redirect location or encryption attributes.');
  }
  const conditions = writeConditions(ctx.req.headers);
  const source = await openSource(ctx);
  const meta = source.meta;
  const headers: ObjectHeaders = directive === 'REPLACE' ? objectHeadersFromRequest(ctx.req.headers) : {
    contentType: meta.contentType, cacheControl: meta.cacheControl, contentDisposition: meta.contentDisposition,
    contentEncoding: meta.contentEncoding, contentLanguage: meta.contentLanguage, expires: meta.expires, userMeta: meta.userMeta,
  };
  const { body, checksums } = copyBody(ctx, source, meta.size, fullObjectChecksums(meta));
  const r = await released(body, ctx.store.putObject(bucket, key, { body, size: meta.size, headers, checksums, conditions }));
  sendXml(ctx.res, 200, xmlDocument('CopyObjectResult', { LastModified: r.lastModified, ETag: quoteEtag(r.etag), ...checksumElements(r.checksums) }));
};

function copyRange(ctx: S3Context): RangeSpec | undefined {
  const h = header(ctx, 'x-amz-copy-source-range');
  if (h === undefined) return undefined;
  const m = /^bytes=(\d+)-(\d+)$/.exec(h.trim());
  if (!m || Number(m[2]) < Number(m[1])) throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy');
  return { start: Number(m[1]), end: Number(m[2]) };
}

export const uploadPartCopy: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const partNumber = partNumberParam(param(ctx.target, 'partNumber'));
  const uploadId = param(ctx.target, 'uploadId') ?? '';
  const range = copyRange(ctx);
  const source = await openSource(ctx, range).catch((e: unknown) => {
    if (e instanceof S3Error && e.code === 'InvalidRange') throw new S3Error('InvalidArgument', `Range specified is not valid for source object of size: ${e.details.ActualObjectSize ?? 'unknown'}`, { cause: e });
    throw e;
  });
  if (range && 'start' in range && source.range && source.range.end !== range.end) {
    abandon(source.body);
    throw new S3Error('InvalidArgument', `Range specified is not valid for source object of size: ${source.meta.size}`);
  }
  const size = source.range ? source.range.end - source.range.start + 1 : source.meta.size;
  const { body, checksums } = copyBody(ctx, source, size, source.range ? {} : fullObjectChecksums(source.meta));
  const r = await released(body, ctx.store.uploadPart(bucket, key, uploadId, partNumber, { body, size, headers: { userMeta: {} }, checksums }));
  sendXml(ctx.res, 200, xmlDocument('CopyPartResult', { LastModified: r.lastModified, ETag: quoteEtag(r.etag), ...checksumElements(r.checksums) }), checksumHeaders(r.checksums));
};

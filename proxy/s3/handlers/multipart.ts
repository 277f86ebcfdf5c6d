// Multipart uploads.
import { parseChecksumAlgorithm } from '../../auth/checksums.ts';
import { parseIntegrityHeaders } from '../../auth/integrity-headers.ts';
import { validateKey } from '../../store/keys.ts';
import { CHECKSUM_ALGORITHMS, type ChecksumType, type Checksums, type CompletePart } from '../../store/types.ts';
import { uploadChecksumType } from '../../store/multipart-checksum.ts';
import { decodeBody, readSmallBody } from '../body.ts';
import { S3Error } from '../errors.ts';
import { objectHeadersFromRequest, quoteEtag, unquoteEtag, writeConditions } from '../headers.ts';
import { sendEmpty, sendXml } from '../respond.ts';
import { param } from '../route.ts';
import { parseXml, xmlDocument } from '../xml.ts';
import { encodeIf, encodingType } from './list.ts';
import { bucketOf, intParam, keyOf, partNumberParam, type Handler, type S3Context } from './context.ts';
import { checksumHeaders, startBody, upstreamIntegrity } from './objects.ts';

const OWNER = { ID: 'floodgate', DisplayName: 'floodgate' };

function uploadIdOf(ctx: S3Context): string {
  const id = param(ctx.target, 'uploadId');
  if (!id) throw new S3Error('NoSuchUpload');
  return id;
}

/** The x-amz-checksum-type header: absent, COMPOSITE or FULL_OBJECT. */
function checksumTypeHeader(ctx: S3Context): ChecksumType | undefined {
  const type = String(ctx.req.headers['x-amz-checksum-type'] ?? '').trim().toUpperCase();
  if (type === '') return undefined;
  if (type !== 'COMPOSITE' && type !== 'FULL_OBJECT') throw new S3Error('InvalidRequest', `Value for x-amz-checksum-type header is invalid: ${type}.`);
  return type;
}

export const createMultipartUpload: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  validateKey(key);
  const algHeader = ctx.req.headers['x-amz-checksum-algorithm'];
  const alg = algHeader === undefined ? undefined : parseChecksumAlgorithm(String(algHeader));
  if (algHeader !== undefined && !alg) throw new S3Error('InvalidRequest', `Checksum algorithm ${algHeader} is not supported.`);
  const type = uploadChecksumType(alg, checksumTypeHeader(ctx));
  const uploadId = await ctx.store.createMultipartUpload(bucket, key, objectHeadersFromRequest(ctx.req.headers), alg, type);
  const headers: Record<string, string> = alg && type ? { 'x-amz-checksum-algorithm': alg.toUpperCase(), 'x-amz-checksum-type': type } : {};
  sendXml(ctx.res, 200, xmlDocument('InitiateMultipartUploadResult', { Bucket: bucket, Key: key, UploadId: uploadId }), headers);
};

export const uploadPart: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const partNumber = partNumberParam(param(ctx.target, 'partNumber'));
  const uploadId = uploadIdOf(ctx);
  const { body, size, checksums } = decodeBody(ctx.req, ctx.auth, ctx.idleTimeoutMs);
  startBody(ctx);
  const r = await ctx.store.uploadPart(bucket, key, uploadId, partNumber, { body, size, headers: { userMeta: {} }, checksums, integrity: upstreamIntegrity(ctx) });
  sendEmpty(ctx.res, 200, { etag: quoteEtag(r.etag), ...checksumHeaders(r.checksums) });
};

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : undefined;
}

function parseParts(xml: string): CompletePart[] {
  const doc = parseXml(xml, 'CompleteMultipartUpload');
  const raw = (Array.isArray(doc.Part) ? doc.Part : []) as Record<string, unknown>[];
  if (raw.length === 0) throw new S3Error('MalformedXML', 'The XML you provided must list at least one Part.');
  let previous = 0;
  return raw.map((p) => {
    const n = text(p.PartNumber);
    const etag = text(p.ETag);
    if (!n || !/^\d+$/.test(n) || etag === undefined) throw new S3Error('MalformedXML', 'Each Part needs a PartNumber and an ETag.');
    // Checked here, on the document, for every store: a backend behind a virtual bucket may accept
    // a part number listed twice (MinIO does).
    if (Number(n) <= previous) throw new S3Error('InvalidPartOrder');
    previous = Number(n);
    const checksums: Checksums = {};
    for (const alg of CHECKSUM_ALGORITHMS) {
      const v = text(p[`Checksum${alg.toUpperCase()}`]);
      if (v) checksums[alg] = v;
    }
    return { partNumber: Number(n), etag: unquoteEtag(etag), checksums };
  });
}

export const completeMultipartUpload: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  const conditions = writeConditions(ctx.req.headers);
  startBody(ctx);
  // The x-amz-checksum-<alg> header of a Complete is the object's checksum, not the document's:
  // the store checks it against the parts it holds before it commits.
  const expect = parseIntegrityHeaders(ctx.req.headers).expect;
  const checksum = { type: checksumTypeHeader(ctx), declared: expect?.value ? { alg: expect.alg, value: expect.value } : undefined };
  const parts = parseParts(await readSmallBody(ctx.req, ctx.auth, ctx.idleTimeoutMs, { objectChecksum: true }));
  const meta = await ctx.store.completeMultipartUpload(bucket, key, uploadId, parts, conditions, checksum);
  const checksumElements: Record<string, string> = {};
  for (const [alg, v] of Object.entries(meta.checksums)) if (v) checksumElements[`Checksum${alg.toUpperCase()}`] = v;
  sendXml(ctx.res, 200, xmlDocument('CompleteMultipartUploadResult', {
    Location: `/${bucket}/${key}`, Bucket: bucket, Key: key, ETag: quoteEtag(meta.etag), ...checksumElements,
    ChecksumType: Object.keys(checksumElements).length ? meta.checksumType ?? 'COMPOSITE' : undefined,
  }));
};

export const abortMultipartUpload: Handler = async (ctx) => {
  await ctx.store.abortMultipartUpload(bucketOf(ctx), keyOf(ctx), uploadIdOf(ctx));
  sendEmpty(ctx.res, 204);
};

export const listParts: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const uploadId = uploadIdOf(ctx);
  const maxParts = intParam(param(ctx.target, 'max-parts'), 'max-parts', 1000, 0, 1000);
  const marker = intParam(param(ctx.target, 'part-number-marker'), 'part-number-marker', 0, 0, 10000);
  const { upload, parts } = await ctx.store.listParts(bucket, key, uploadId, marker, maxParts + 1);
  const truncated = parts.length > maxParts;
  const page = parts.slice(0, maxParts);
  sendXml(ctx.res, 200, xmlDocument('ListPartsResult', {
    Bucket: bucket, Key: key, UploadId: uploadId, Initiator: OWNER, Owner: OWNER, StorageClass: 'STANDARD',
    PartNumberMarker: marker, NextPartNumberMarker: page.at(-1)?.partNumber ?? marker, MaxParts: maxParts,
    IsTruncated: truncated, ChecksumAlgorithm: upload.checksumAlgorithm?.toUpperCase(),
    ChecksumType: upload.checksumAlgorithm ? upload.checksumType ?? 'COMPOSITE' : undefined,
    Part: page.map((p) => {
      const c: Record<string, string> = {};
      for (const [alg, v] of Object.entries(p.checksums)) if (v) c[`Checksum${alg.toUpperCase()}`] = v;
      return { PartNumber: p.partNumber, LastModified: p.lastModified, ETag: quoteEtag(p.etag), Size: p.size, ...c };
    }),
  }));
};

export const listMultipartUploads: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const enc = encodingType(ctx);
  const prefix = param(ctx.target, 'prefix') ?? '';
  const keyMarker = param(ctx.target, 'key-marker') ?? '';
  const uploadIdMarker = param(ctx.target, 'upload-id-marker') ?? '';
  const maxUploads = intParam(param(ctx.target, 'max-uploads'), 'max-uploads', 1000, 0, 1000);
  await ctx.store.headBucket(bucket);
  const uploads = await ctx.store.listMultipartUploads(bucket, { prefix, keyMarker, uploadIdMarker, limit: maxUploads + 1 });
  const truncated = uploads.length > maxUploads;
  const page = uploads.slice(0, maxUploads);
  sendXml(ctx.res, 200, xmlDocument('ListMultipartUploadsResult', {
    Bucket: bucket, KeyMarker: encodeIf(enc, keyMarker), UploadIdMarker: uploadIdMarker,
    NextKeyMarker: truncated ? encodeIf(enc, page.at(-1)?.key ?? '') : undefined,
    NextUploadIdMarker: truncated ? page.at(-1)?.uploadId : undefined,
    Prefix: encodeIf(enc, prefix), MaxUploads: maxUploads, IsTruncated: truncated, EncodingType: enc,
    Upload: page.map((u) => ({
      Key: encodeIf(enc, u.key), UploadId: u.uploadId, Initiator: OWNER, Owner: OWNER, StorageClass: 'STANDARD', Initiated: u.initiated,
      ChecksumAlgorithm: u.checksumAlgorithm?.toUpperCase(), ChecksumType: u.checksumAlgorithm ? u.checksumType ?? 'COMPOSITE' : undefined,
    })),
  }));
};

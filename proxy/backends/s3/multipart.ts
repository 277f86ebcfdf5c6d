// Multipart uploads passed through to the backend: the backend's own upload id, its part ETags,
// its validation of the part list. A CompleteMultipartUpload can fail after a 200 status line
// (S3 keeps the connection alive with whitespace while it assembles): the body decides.
import { createHash } from 'node:crypto';
import type { ChecksumAlgorithm, Checksums, CompletePart, ObjectHeaders, ObjectMeta, ObjectStore, PartInfo, PutInput, PutResult, UploadInfo, WriteConditions } from '../../store/types.ts';
import { compositeChecksum } from '../../auth/checksums.ts';
import { escapeXml } from '../../s3/xml.ts';
import type { S3Http } from './http.ts';
import { call, drain, text } from './call.ts';
import { mapUpstreamCode, parseErrorXml } from './errors.ts';
import { metaFromResponse, requestHeadersOf, writeConditionHeaders } from './meta.ts';
import { parseCompleteResult, parseListParts, parseListUploads, parseUploadId } from './xml.ts';

type PutBody = (bucket: string, key: string, query: [string, string][], input: PutInput, extra: Record<string, string>) => Promise<PutResult>;
type MultipartOps = Pick<ObjectStore, 'createMultipartUpload' | 'uploadPart' | 'completeMultipartUpload' | 'abortMultipartUpload' | 'listParts' | 'listMultipartUploads'>;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const EMPTY = sha256('');


/** Composite checksums, when every part listed a value of the same single algorithm. */
function compositeOf(parts: CompletePart[]): Checksums {
  const algs = Object.keys(parts[0]?.checksums ?? {}) as ChecksumAlgorithm[];
  if (algs.length !== 1) return {};
  const alg = algs[0]!;
  const values = parts.map((p) => p.checksums[alg]);
  if (values.some((v) => !v || Object.keys(parts[0]!.checksums).length !== 1)) return {};
  return { [alg]: compositeChecksum(alg, values as string[]) };
}

function completeXml(parts: CompletePart[]): string {
  const body = parts.map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>"${escapeXml(p.etag)}"</ETag></Part>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${body}</CompleteMultipartUpload>`;
}

export function multipartOps(http: S3Http, putBody: PutBody): MultipartOps {
  const name = http.options.name;

  return {
    async createMultipartUpload(bucket: string, key: string, headers: ObjectHeaders, _alg?: ChecksumAlgorithm): Promise<string> {
      // No x-amz-checksum-algorithm upstream: the front verifies part checksums and we compute
      // the composite, so the backend need not demand a checksum on every part.
      const res = await call(http, { method: 'POST', bucket, key, query: [['uploads', '']], headers: requestHeadersOf(headers), payloadHash: EMPTY });
      return parseUploadId(await text(res));
    },

    uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, input: PutInput): Promise<PutResult> {
      return putBody(bucket, key, [['partNumber', String(partNumber)], ['uploadId', uploadId]], input, {});
    },

    async completeMultipartUpload(bucket: string, key: string, uploadId: string, parts: CompletePart[], conditions?: WriteConditions): Promise<ObjectMeta> {
      const body = completeXml(parts);
      const res = await call(http, {
        method: 'POST', bucket, key, query: [['uploadId', uploadId]], body, payloadHash: sha256(body), idempotent: false,
        headers: { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)), ...writeConditionHeaders(conditions) },
      });
      const doc = await text(res);
      const err = parseErrorXml(doc);
      if (err) throw mapUpstreamCode(name, err.code === 'InternalError' ? 500 : 400, err.code, err.message);
      const done = parseCompleteResult(doc);
      // The result carries no size or metadata: ask. A concurrent overwrite may win the race;
      // then the ETag tells, and we report what we completed with the size we saw.
      const head = await call(http, { method: 'HEAD', bucket, key, payloadHash: EMPTY }, (s) => s === 200);
      await drain(head);
      const meta = metaFromResponse(key, head.headers);
      const checksums = Object.keys(done.checksums).length ? done.checksums : compositeOf(parts);
      return { ...meta, etag: done.etag || meta.etag, checksums, checksumType: Object.keys(checksums).length ? 'COMPOSITE' : undefined, partsCount: parts.length };
    },

    async abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
      await drain(await call(http, { method: 'DELETE', bucket, key, query: [['uploadId', uploadId]], payloadHash: EMPTY, idempotent: true }));
    },

    async listParts(bucket: string, key: string, uploadId: string, after: number, limit: number): Promise<{ upload: UploadInfo; parts: PartInfo[] }> {
      const parts: PartInfo[] = [];
      let marker = after;
      let upload: UploadInfo | undefined;
      for (;;) {
        const query: [string, string][] = [['max-parts', String(Math.min(1000, Math.max(1, limit - parts.length)))], ['part-number-marker', String(marker)], ['uploadId', uploadId]];
        const page = parseListParts(await text(await call(http, { method: 'GET', bucket, key, query, payloadHash: EMPTY })), key, uploadId);
        upload ??= page.upload;
        parts.push(...page.parts);
        if (!page.truncated || parts.length >= limit || page.next <= marker) break;
        marker = page.next;
      }
      return { upload: upload!, parts: parts.slice(0, limit) };
    },

    async listMultipartUploads(bucket: string, o: { prefix: string; keyMarker: string; uploadIdMarker: string; limit: number }): Promise<UploadInfo[]> {
      const out: UploadInfo[] = [];
      let keyMarker = o.keyMarker;
      let uploadIdMarker = o.uploadIdMarker;
      while (out.length < o.limit) {
        const query: [string, string][] = [['key-marker', keyMarker], ['max-uploads', String(Math.min(1000, o.limit - out.length))], ['prefix', o.prefix]];
        if (uploadIdMarker) query.push(['upload-id-marker', uploadIdMarker]);
        query.push(['uploads', '']);
        const page = parseListUploads(await text(await call(http, { method: 'GET', bucket, query, payloadHash: EMPTY })));
        out.push(...page.uploads);
        if (!page.truncated || !page.nextKey) break;
        keyMarker = page.nextKey;
        uploadIdMarker = page.nextUploadId;
      }
      if (out.length === 0 && o.limit === 0) return [];
      return out.slice(0, o.limit);
    },
  };
}

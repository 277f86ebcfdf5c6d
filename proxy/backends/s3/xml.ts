// Parsing the XML documents a backend answers with. Values stay strings (a key like "0012" must
// not become a number); lists are always arrays.
import type { BucketInfo, ObjectMeta, PartInfo, UploadInfo } from '../../store/types.ts';
import { parseChecksumAlgorithm } from '../../auth/checksums.ts';
import { CHECKSUM_ALGORITHMS, type Checksums } from '../../store/types.ts';
import { S3Error } from '../../s3/errors.ts';
import { xmlParser } from '../../s3/xml.ts';
import { unquote } from './meta.ts';

const LISTS = new Set(['Contents', 'CommonPrefixes', 'Part', 'Upload', 'Bucket']);
const parser = xmlParser(LISTS);

type Node = Record<string, unknown>;

export function parseDocument(text: string, root: string): Node {
  let doc: Node;
  try {
    doc = parser.parse(text) as Node;
  } catch (cause) {
    throw new S3Error('InternalError', `Unparseable ${root} from a backend.`, { cause });
  }
  const node = doc[root];
  if (node === undefined || node === null) throw new S3Error('InternalError', `Expected ${root} from a backend.`);
  return (typeof node === 'object' ? node : {}) as Node;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
const list = (v: unknown): Node[] => (Array.isArray(v) ? (v as Node[]) : []);
const date = (v: unknown): Date => {
  const d = new Date(str(v));
  return Number.isNaN(d.getTime()) ? new Date(0) : d;
};

function checksumsOf(n: Node): Checksums {
  const out: Checksums = {};
  for (const alg of CHECKSUM_ALGORITHMS) {
    const v = str(n[`Checksum${alg.toUpperCase()}`]);
    if (v) out[alg] = v;
  }
  return out;
}

export function parseListObjectsV2(text: string, decodeUrl: boolean): { objects: ObjectMeta[]; truncated: boolean; next?: string } {
  const doc = parseDocument(text, 'ListBucketResult');
  const dec = (s: string) => (decodeUrl ? decodeURIComponent(s.replace(/\+/g, ' ')) : s);
  const objects = list(doc.Contents).map((c): ObjectMeta => ({
    key: dec(str(c.Key)),
    size: Number(str(c.Size)) || 0,
    etag: unquote(str(c.ETag)),
    lastModified: date(c.LastModified),
    checksums: {},
    userMeta: {},
  }));
  const next = str(doc.NextContinuationToken);
  return { objects, truncated: str(doc.IsTruncated) === 'true', next: next || undefined };
}

export function parseUploadId(text: string): string {
  const id = str(parseDocument(text, 'InitiateMultipartUploadResult').UploadId);
  if (!id) throw new S3Error('InternalError', 'A backend returned no UploadId.');
  return id;
}

export function parseListParts(text: string, key: string, uploadId: string): { upload: UploadInfo; parts: PartInfo[]; truncated: boolean; next: number } {
  const doc = parseDocument(text, 'ListPartsResult');
  const parts = list(doc.Part).map((p): PartInfo => ({
    partNumber: Number(str(p.PartNumber)),
    etag: unquote(str(p.ETag)),
    size: Number(str(p.Size)) || 0,
    lastModified: date(p.LastModified),
    checksums: checksumsOf(p),
  }));
  const alg = parseChecksumAlgorithm(str(doc.ChecksumAlgorithm));
  return {
    upload: { key, uploadId, initiated: new Date(0), checksumAlgorithm: alg },
    parts,
    truncated: str(doc.IsTruncated) === 'true',
    next: Number(str(doc.NextPartNumberMarker)) || 0,
  };
}

export function parseListUploads(text: string): { uploads: UploadInfo[]; truncated: boolean; nextKey: string; nextUploadId: string } {
  const doc = parseDocument(text, 'ListMultipartUploadsResult');
  const uploads = list(doc.Upload).map((u): UploadInfo => ({
    key: str(u.Key),
    uploadId: str(u.UploadId),
    initiated: date(u.Initiated),
    checksumAlgorithm: parseChecksumAlgorithm(str(u.ChecksumAlgorithm)),
  }));
  return { uploads, truncated: str(doc.IsTruncated) === 'true', nextKey: str(doc.NextKeyMarker), nextUploadId: str(doc.NextUploadIdMarker) };
}

export function parseListBuckets(text: string): BucketInfo[] {
  const doc = parseDocument(text, 'ListAllMyBucketsResult');
  const buckets = (doc.Buckets && typeof doc.Buckets === 'object' ? (doc.Buckets as Node).Bucket : undefined);
  return list(buckets).map((b) => ({ name: str(b.Name), creationDate: date(b.CreationDate) }));
}

export function parseCompleteResult(text: string): { etag: string; checksums: Checksums } {
  const doc = parseDocument(text, 'CompleteMultipartUploadResult');
  return { etag: unquote(str(doc.ETag)), checksums: checksumsOf(doc) };
}

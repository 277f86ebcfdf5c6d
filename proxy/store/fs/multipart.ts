// Completing a multipart upload: S3's part rules, the `md5-of-md5s-N` ETag, and the object's
// checksum of the upload's algorithm and type (../multipart-checksum.ts).
import { createHash } from 'node:crypto';
import { S3Error } from '../../s3/errors.ts';
import { objectChecksum, type UploadChecksum } from '../multipart-checksum.ts';
import type { ChecksumAlgorithm, ChecksumType, Checksums, CompleteChecksum, CompletePart } from '../types.ts';

export const MIN_PART_SIZE = 5 * 1024 * 1024;

export interface StoredPart {
  partNumber: number;
  etag: string;
  size: number;
  checksums: Checksums;
  blob: string;
}

export interface Completion {
  parts: StoredPart[];
  etag: string;
  checksums: Checksums;
  checksumType?: ChecksumType;
}

export function completeParts(requested: CompletePart[], stored: Map<number, StoredPart>, upload: UploadChecksum, checksum?: CompleteChecksum): Completion {
  const parts: StoredPart[] = [];
  let previous = 0;
  for (const r of requested) {
    if (r.partNumber <= previous) throw new S3Error('InvalidPartOrder');
    previous = r.partNumber;
    const p = stored.get(r.partNumber);
    if (!p || p.etag !== r.etag) {
      throw new S3Error('InvalidPart', undefined, { details: { PartNumber: r.partNumber, ETag: r.etag } });
    }
    for (const [a, v] of Object.entries(r.checksums)) {
      if (v && p.checksums[a as ChecksumAlgorithm] !== v) {
        throw new S3Error('InvalidPart', `The ${a.toUpperCase()} checksum of part ${r.partNumber} does not match the uploaded part.`, { details: { PartNumber: r.partNumber } });
      }
    }
    parts.push(p);
  }
  parts.forEach((p, i) => {
    if (i < parts.length - 1 && p.size < MIN_PART_SIZE) {
      throw new S3Error('EntityTooSmall', undefined, { details: { PartNumber: p.partNumber, ProposedSize: p.size, MinSizeAllowed: MIN_PART_SIZE } });
    }
  });
  const md5 = createHash('md5');
  for (const p of parts) md5.update(Buffer.from(p.etag, 'hex'));
  const { checksums, checksumType } = objectChecksum(upload, parts, requested, checksum);
  return { parts, etag: `${md5.digest('hex')}-${parts.length}`, checksums, checksumType };
}

// Completing a multipart upload: S3's part rules, the `md5-of-md5s-N` ETag, and the COMPOSITE
// checksum (the digest of the parts' digests, `-N` suffixed) of the upload's algorithm.
import { createHash } from 'node:crypto';
import { compositeChecksum } from '../../auth/checksums.ts';
import { S3Error } from '../../s3/errors.ts';
import type { ChecksumAlgorithm, Checksums, CompletePart } from '../types.ts';

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
}

export function completeParts(requested: CompletePart[], stored: Map<number, StoredPart>, alg: ChecksumAlgorithm | undefined): Completion {
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
  const checksums: Checksums = {};
  if (alg) {
    const missing = parts.find((p) => !p.checksums[alg]);
    if (missing) throw new S3Error('InvalidRequest', `The upload was created with a ${alg.toUpperCase()} checksum, but part ${missing.partNumber} was uploaded without one.`);
    checksums[alg] = compositeChecksum(alg, parts.map((p) => p.checksums[alg]!));
  }
  return { parts, etag: `${md5.digest('hex')}-${parts.length}`, checksums };
}

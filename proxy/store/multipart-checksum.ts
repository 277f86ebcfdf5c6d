// A multipart object's checksum, as S3 makes it, shared by the stores that complete uploads
// themselves (the embedded store, virtual buckets):
// - CreateMultipartUpload names an algorithm and a type. COMPOSITE (the default, and the only
//   type for SHA-1/SHA-256) is the digest of the parts' digests, `-N`; FULL_OBJECT (the only
//   type for CRC64NVME) is the CRC of every byte, combined from the parts' CRCs and sizes.
// - A part of a FULL_OBJECT upload may come without its CRC: it is computed as the bytes pass.
// - Complete's x-amz-checksum-type must be the upload's, and its x-amz-checksum-<alg> is the
//   object's checksum: checked here, before anything commits.
import { pipeline, Transform } from 'node:stream';
import { compositeChecksum, createDigest } from '../auth/checksums.ts';
import { combineCrcs, isCrcAlgorithm } from '../auth/crc-combine.ts';
import { S3Error } from '../s3/errors.ts';
import type { ChecksumAlgorithm, ChecksumType, Checksums, CompleteChecksum, CompletePart, PutInput } from './types.ts';

/** The type of an upload created with `alg` and the x-amz-checksum-type `asked` (validated). */
export function uploadChecksumType(alg: ChecksumAlgorithm | undefined, asked: ChecksumType | undefined): ChecksumType | undefined {
  if (!alg) {
    if (asked) throw new S3Error('InvalidRequest', 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
    return undefined;
  }
  const type = asked ?? (alg === 'crc64nvme' ? 'FULL_OBJECT' : 'COMPOSITE');
  if (type === 'FULL_OBJECT' && !isCrcAlgorithm(alg)) throw new S3Error('InvalidRequest', `The FULL_OBJECT checksum type cannot be used with the ${alg} checksum algorithm.`);
  if (type === 'COMPOSITE' && alg === 'crc64nvme') throw new S3Error('InvalidRequest', 'The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.');
  return type;
}

/**
 * A part of a FULL_OBJECT upload whose client declared no CRC of the upload's algorithm: the
 * body passes through a digest that fills `input.checksums[alg]` before it ends (after the
 * front's verifier, which fills whatever the client declared).
 */
export function withPartChecksum(input: PutInput, alg: ChecksumAlgorithm | undefined, type: ChecksumType | undefined): PutInput {
  if (!alg || type !== 'FULL_OBJECT' || input.integrity?.checksum?.alg === alg) return input;
  const d = createDigest(alg);
  const tee = new Transform({
    transform(chunk: Buffer, _enc, done) {
      d.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      input.checksums[alg] ??= d.digest().toString('base64');
      done();
    },
  });
  // An error of the verified body (BadDigest, IncompleteBody…) reaches the store through the tee.
  pipeline(input.body, tee, () => {});
  return { ...input, body: tee };
}

export interface PartSum {
  partNumber: number;
  size: number;
  checksums: Checksums;
}

export interface UploadChecksum {
  alg?: ChecksumAlgorithm;
  type?: ChecksumType;
}

function mismatch(expected: string, got: string, alg: ChecksumAlgorithm): S3Error {
  return new S3Error('BadDigest', `The ${alg.toUpperCase()} checksum of the object (${got}) does not match the x-amz-checksum-${alg} you specified.`, {
    details: { ExpectedDigest: expected, CalculatedDigest: got },
  });
}

/**
 * The object's checksums at Complete, from the stored parts (in the order listed) of an upload
 * made with `upload`, after checking what the request said about them. `requested` are the
 * request's parts (their listed checksums serve uploads made without an algorithm).
 */
export function objectChecksum(upload: UploadChecksum, parts: readonly PartSum[], requested: readonly CompletePart[], c: CompleteChecksum = {}): { checksums: Checksums; checksumType?: ChecksumType } {
  const { alg } = upload;
  const type = alg ? upload.type ?? 'COMPOSITE' : undefined;
  if (c.type && c.type !== type) {
    throw new S3Error('InvalidRequest', type
      ? `The upload was created using the ${type} checksum mode. The complete request must use the same checksum mode.`
      : `The upload was created without a checksum algorithm; x-amz-checksum-type ${c.type} cannot be used to complete it.`);
  }
  const declared = c.declared;
  if (!alg) {
    // No algorithm recorded: a declared checksum is checked against the composite of the part
    // checksums the request lists, when it lists one for every part.
    const listed = declared && requested.map((p) => p.checksums[declared.alg]);
    if (declared && listed && listed.every((v) => v !== undefined)) {
      const composite = compositeChecksum(declared.alg, listed as string[]);
      if (composite.replace(/-\d+$/, '') !== declared.value.replace(/-\d+$/, '')) throw mismatch(declared.value, composite, declared.alg);
    }
    return { checksums: {} };
  }
  if (declared && declared.alg !== alg) {
    throw new S3Error('InvalidRequest', `Checksum Type mismatch occurred, expected checksum Type: ${alg}, actual checksum Type: ${declared.alg}`);
  }
  const missing = parts.find((p) => !p.checksums[alg]);
  if (missing) throw new S3Error('InvalidRequest', `The upload was created with a ${alg.toUpperCase()} checksum, but part ${missing.partNumber} was uploaded without one.`);
  if (type === 'FULL_OBJECT' && isCrcAlgorithm(alg)) {
    const full = combineCrcs(alg, parts.map((p) => ({ crc: p.checksums[alg]!, size: p.size })));
    if (declared && declared.value !== full) throw mismatch(declared.value, full, alg);
    return { checksums: { [alg]: full }, checksumType: 'FULL_OBJECT' };
  }
  const composite = compositeChecksum(alg, parts.map((p) => p.checksums[alg]!));
  if (declared && composite.replace(/-\d+$/, '') !== declared.value.replace(/-\d+$/, '')) throw mismatch(declared.value, composite, alg);
  return { checksums: { [alg]: composite }, checksumType: 'COMPOSITE' };
}

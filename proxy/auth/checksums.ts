// Incremental digests for every checksum S3 clients send (x-amz-checksum-*), plus MD5 for
// Content-MD5. All digests are big-endian bytes; S3 headers carry them base64-encoded.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import type { ChecksumAlgorithm } from '../store/types.ts';
import { CHECKSUM_ALGORITHMS } from '../store/types.ts';
import { Crc64Nvme } from './crc64nvme.ts';

export interface Digest {
  update(b: Buffer): void;
  digest(): Buffer;
}

function crcDigest(step: (b: Buffer, prev: number) => number): Digest {
  let value = 0;
  return {
    update(b) { value = step(b, value); },
    digest() {
      const out = Buffer.allocUnsafe(4);
      out.writeUInt32BE(value >>> 0);
      return out;
    },
  };
}

export function createDigest(alg: ChecksumAlgorithm | 'md5'): Digest {
  switch (alg) {
    case 'crc32': return crcDigest((b, prev) => crc32(b, prev));
    case 'crc32c': return crcDigest((b, prev) => crc32c(b, prev));
    case 'crc64nvme': return new Crc64Nvme();
    case 'sha1': case 'sha256': case 'md5': {
      const h = createHash(alg);
      return { update: (b) => { h.update(b); }, digest: () => h.digest() };
    }
  }
}

/** Digest length in bytes, used to validate base64 values before any body byte is read. */
export const DIGEST_BYTES: Record<ChecksumAlgorithm | 'md5', number> = {
  crc32: 4, crc32c: 4, crc64nvme: 8, sha1: 20, sha256: 32, md5: 16,
};

export function checksumHeaderName(alg: ChecksumAlgorithm): `x-amz-checksum-${ChecksumAlgorithm}` {
  return `x-amz-checksum-${alg}`;
}

/** 'CRC32', 'crc64nvme', 'SHA256'… → the algorithm, or undefined when S3 does not know it. */
export function parseChecksumAlgorithm(s: string): ChecksumAlgorithm | undefined {
  const lower = s.trim().toLowerCase();
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(lower) ? (lower as ChecksumAlgorithm) : undefined;
}

/** Decodes a base64 digest; undefined unless it is canonical base64 of exactly `bytes` bytes. */
export function decodeDigest(value: string, bytes: number): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) return undefined;
  const b = Buffer.from(value, 'base64');
  return b.length === bytes && b.toString('base64') === value ? b : undefined;
}

/** The COMPOSITE checksum of a multipart object: the digest of the parts' (base64) digests, `-N`. */
export function compositeChecksum(alg: ChecksumAlgorithm, parts: readonly string[]): string {
  const d = createDigest(alg);
  for (const p of parts) d.update(Buffer.from(p, 'base64'));
  return `${d.digest().toString('base64')}-${parts.length}`;
}

// Up-front validation of the body-integrity headers of a write (Content-MD5, x-amz-checksum-*,
// x-amz-trailer, x-amz-sdk-checksum-algorithm), so a bad combination is refused before any body
// byte is read.
import { S3Error } from '../s3/errors.ts';
import type { ChecksumAlgorithm } from '../store/types.ts';
import { decodeDigest, DIGEST_BYTES, parseChecksumAlgorithm } from './checksums.ts';

export interface IntegrityHeaders {
  /** Content-MD5, already checked to be base64 of 16 bytes. */
  contentMd5?: string;
  /** The one checksum the client sent or announced: value now (header) or later (trailer). */
  expect?: { alg: ChecksumAlgorithm; value?: string };
  /** x-amz-trailer names, lower-case. */
  trailerNames: string[];
  /** x-amz-sdk-checksum-algorithm, when sent. */
  sdkAlgorithm?: ChecksumAlgorithm;
}

/** x-amz-checksum-* headers that are not checksum values. */
const NOT_VALUES = new Set(['x-amz-checksum-mode', 'x-amz-checksum-algorithm', 'x-amz-checksum-type']);

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

function checksumAlgOf(name: string, where: string): ChecksumAlgorithm {
  const alg = name.startsWith('x-amz-checksum-') ? parseChecksumAlgorithm(name.slice('x-amz-checksum-'.length)) : undefined;
  if (!alg) throw new S3Error('InvalidRequest', `${where} names an unsupported checksum "${name}"; use crc32, crc32c, crc64nvme, sha1 or sha256.`);
  return alg;
}

export function parseIntegrityHeaders(headers: Record<string, string | string[] | undefined>): IntegrityHeaders {
  const out: IntegrityHeaders = { trailerNames: [] };

  const md5 = one(headers['content-md5']);
  if (md5 !== undefined) {
    if (!decodeDigest(md5.trim(), DIGEST_BYTES.md5)) throw new S3Error('InvalidDigest', 'The Content-MD5 you specified is not valid.');
    out.contentMd5 = md5.trim();
  }

  const sdk = one(headers['x-amz-sdk-checksum-algorithm']);
  if (sdk !== undefined) {
    out.sdkAlgorithm = parseChecksumAlgorithm(sdk);
    if (!out.sdkAlgorithm) throw new S3Error('InvalidRequest', `Value for x-amz-sdk-checksum-algorithm header is invalid: "${sdk}".`);
  }

  const valueHeaders = Object.keys(headers).map((h) => h.toLowerCase())
    .filter((h) => h.startsWith('x-amz-checksum-') && !NOT_VALUES.has(h));
  if (valueHeaders.length > 1) {
    throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  }
  if (valueHeaders.length === 1) {
    const name = valueHeaders[0]!;
    const alg = checksumAlgOf(name, 'A header');
    const value = one(headers[name])!.trim();
    if (!decodeDigest(value, DIGEST_BYTES[alg])) throw new S3Error('InvalidDigest', `Value for ${name} header is invalid.`);
    out.expect = { alg, value };
  }

  const trailer = one(headers['x-amz-trailer']);
  if (trailer !== undefined) {
    out.trailerNames = trailer.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    if (out.expect) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed: a checksum header was sent together with x-amz-trailer.');
    const algs = out.trailerNames.map((n) => checksumAlgOf(n, 'x-amz-trailer'));
    if (algs.length > 1) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- trailer. Multiple checksum Types are not allowed.');
    if (algs.length === 1) out.expect = { alg: algs[0]! };
  }

  if (out.sdkAlgorithm && out.expect && out.sdkAlgorithm !== out.expect.alg) {
    throw new S3Error('InvalidRequest', `x-amz-sdk-checksum-algorithm ${out.sdkAlgorithm.toUpperCase()} does not match the ${out.expect.alg.toUpperCase()} checksum sent.`);
  }
  return out;
}

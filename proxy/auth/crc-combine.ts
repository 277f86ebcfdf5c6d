// Full-object CRCs of multipart uploads: the CRC of a concatenation computed from the CRCs and
// lengths of its pieces, so Complete knows the whole object's CRC without reading its bytes
// again. The math is zlib's crc32_combine (multiplying by x^(8·len) modulo the polynomial, in the
// reflected bit order), generalised to every reflected CRC with all-ones init and xorout: CRC-32,
// CRC-32C and CRC-64/NVME, the three S3 offers FULL_OBJECT checksums for.
import type { ChecksumAlgorithm } from '../store/types.ts';

export type CrcAlgorithm = 'crc32' | 'crc32c' | 'crc64nvme';
export const FULL_OBJECT_ALGORITHMS: readonly ChecksumAlgorithm[] = ['crc32', 'crc32c', 'crc64nvme'];

export function isCrcAlgorithm(alg: ChecksumAlgorithm): alg is CrcAlgorithm {
  return (FULL_OBJECT_ALGORITHMS as readonly string[]).includes(alg);
}

interface Poly {
  bytes: number;
  /** The polynomial, bit-reflected. */
  reflected: bigint;
  /** x^0 in reflected order: the top bit. */
  one: bigint;
  /** powers[k] = x^(2^k) mod p, filled as needed. */
  powers: bigint[];
}

function poly(bytes: number, reflected: bigint): Poly {
  const bits = BigInt(bytes * 8);
  return { bytes, reflected, one: 1n << (bits - 1n), powers: [1n << (bits - 2n)] };
}

const POLYS: Record<CrcAlgorithm, Poly> = {
  crc32: poly(4, 0xedb88320n),
  crc32c: poly(4, 0x82f63b78n),
  crc64nvme: poly(8, 0x9a6c9329ac4bc9b5n),
};

/** a(x)·b(x) mod p. */
function multiply(p: Poly, a: bigint, b: bigint): bigint {
  let product = 0n;
  for (let m = p.one; m > 0n && a !== 0n; m >>= 1n) {
    if (a & m) {
      product ^= b;
      a ^= m;
    }
    b = b & 1n ? (b >> 1n) ^ p.reflected : b >> 1n;
  }
  return product;
}

/** x^(8·n) mod p: the factor that shifts a CRC past n more bytes. */
function shiftFor(p: Poly, n: number): bigint {
  let result = p.one;
  let k = 3; // x^(2^3) = x^8: one byte
  for (let rest = BigInt(n); rest > 0n; rest >>= 1n, k++) {
    while (p.powers.length <= k) p.powers.push(multiply(p, p.powers.at(-1)!, p.powers.at(-1)!));
    if (rest & 1n) result = multiply(p, p.powers[k]!, result);
  }
  return result;
}

const toBig = (b64: string) => BigInt(`0x${Buffer.from(b64, 'base64').toString('hex') || '0'}`);

function toBase64(p: Poly, v: bigint): string {
  return Buffer.from(v.toString(16).padStart(p.bytes * 2, '0'), 'hex').toString('base64');
}

/**
 * The CRC (base64, big-endian as in x-amz-checksum-*) of the pieces' bytes in order, from each
 * piece's CRC and size. Equal part sizes (the usual case) share one shift factor.
 */
export function combineCrcs(alg: CrcAlgorithm, pieces: readonly { crc: string; size: number }[]): string {
  const p = POLYS[alg];
  const shifts = new Map<number, bigint>();
  let crc = 0n; // the CRC of no bytes
  for (const piece of pieces) {
    let shift = shifts.get(piece.size);
    if (shift === undefined) shifts.set(piece.size, (shift = shiftFor(p, piece.size)));
    crc = multiply(p, shift, crc) ^ toBig(piece.crc);
  }
  return toBase64(p, crc);
}

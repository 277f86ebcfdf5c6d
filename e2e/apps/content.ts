// Deterministic object bodies: the application pod writes contentOf(key, size) and the test, on
// the host, regenerates the same bytes to compare byte for byte without shipping them around.
import { createHash } from 'node:crypto';

/** A body of `size` bytes derived from the key alone (xorshift32 seeded by the key's SHA-256). */
export function contentOf(key: string, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let s = createHash('sha256').update(key).digest().readUInt32LE(0) || 1;
  let i = 0;
  for (; i + 4 <= size; i += 4) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out.writeUInt32LE(s, i);
  }
  for (; i < size; i++) out[i] = (s >>> ((i % 4) * 8)) & 0xff;
  return out;
}

export const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Size of the object the application writes under `key`: keys encode it as `…-<bytes>b`. */
export function sizeOfKey(key: string): number {
  const m = /-(\d+)b$/.exec(key);
  if (!m) throw new Error(`key ${key} does not end in -<bytes>b`);
  return Number(m[1]);
}

// Fault: corrupted bytes, same length. Positions and XOR masks come from the decision's draw, so
// a replay corrupts the same bytes. With `recomputeChecksums`, CRC checksum headers are fixed up
// without buffering the body: a CRC is affine over GF(2), so for a body x and error pattern e of
// the same length n, crc(x ⊕ e) = crc(x) ⊕ crc(e) ⊕ crc(0ⁿ). Digests that are not CRCs (SHA-1,
// SHA-256, composite multipart checksums) cannot be fixed up that way and are removed instead:
// either way the client sees no mismatch — silent corruption, caught only end to end.
import type { OutgoingHttpHeaders } from 'node:http';
import { Transform } from 'node:stream';
import { crc32, crc32c } from '@node-rs/crc32';
import { Crc64Nvme } from '@aws-sdk/crc64-nvme';
import { mulberry32 } from '../prng.ts';

export interface Flip { at: number; mask: number }

/** `count` distinct positions in [0, length), each with a non-zero XOR mask, sorted by position. */
export function flips(draw: number, count: number, length: number): Flip[] {
  const rng = mulberry32(draw);
  const seen = new Map<number, number>();
  const n = Math.min(count, length);
  while (seen.size < n) seen.set(Math.floor(rng() * length), 1 + Math.floor(rng() * 255));
  return [...seen].map(([at, mask]) => ({ at, mask })).sort((a, b) => a.at - b.at);
}

export function corruptStream(list: Flip[]): Transform {
  let offset = 0;
  let i = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const end = offset + chunk.length;
      if (i < list.length && list[i]!.at < end) {
        chunk = Buffer.from(chunk);
        while (i < list.length && list[i]!.at < end) {
          const f = list[i++]!;
          chunk[f.at - offset]! ^= f.mask;
        }
      }
      offset = end;
      cb(null, chunk);
    },
  });
}

type Crc = { start(): void; update(b: Buffer): void; value(): Promise<Buffer> };

function crc32Family(fn: (b: Buffer, s?: number) => number): Crc {
  let s = 0;
  return {
    start() { s = 0; },
    update(b) { s = fn(b, s); },
    async value() { const out = Buffer.alloc(4); out.writeUInt32BE(s >>> 0); return out; },
  };
}

function crc64(): Crc {
  let h = new Crc64Nvme();
  return {
    start() { h = new Crc64Nvme(); },
    update(b) { h.update(b); },
    async value() { return Buffer.from(await h.digest()); },
  };
}

const CRCS: Record<string, () => Crc> = {
  'x-amz-checksum-crc32': () => crc32Family(crc32),
  'x-amz-checksum-crc32c': () => crc32Family(crc32c),
  'x-amz-checksum-crc64nvme': crc64,
};

/** crc over n bytes of zeros with the flips applied, and crc over n zeros; streamed in 64 KiB. */
async function delta(make: () => Crc, list: Flip[], n: number): Promise<Buffer> {
  const zeros = Buffer.alloc(64 * 1024);
  const withFlips = make();
  const plain = make();
  let i = 0;
  for (let off = 0; off < n; off += zeros.length) {
    const len = Math.min(zeros.length, n - off);
    const block = zeros.subarray(0, len);
    plain.update(block);
    if (i < list.length && list[i]!.at < off + len) {
      const b = Buffer.alloc(len);
      while (i < list.length && list[i]!.at < off + len) { const f = list[i++]!; b[f.at - off] = f.mask; }
      withFlips.update(b);
    } else withFlips.update(block);
    if (off % (16 * 1024 * 1024) === 0) await new Promise<void>((r) => setImmediate(r));
  }
  const a = await withFlips.value();
  const b = await plain.value();
  for (let k = 0; k < a.length; k++) a[k]! ^= b[k]!;
  return a;
}

/** Rewrites checksum headers to match the corrupted body (CRCs) or drops them (the rest). */
export async function recomputeChecksums(headers: OutgoingHttpHeaders, list: Flip[], length: number): Promise<void> {
  for (const name of Object.keys(headers)) {
    const l = name.toLowerCase();
    if (!l.startsWith('x-amz-checksum-') || l === 'x-amz-checksum-type') continue;
    const value = String(headers[name]);
    const make = CRCS[l];
    if (!make || value.includes('-')) { delete headers[name]; continue; }
    const d = await delta(make, list, length);
    const orig = Buffer.from(value, 'base64');
    if (orig.length !== d.length) { delete headers[name]; continue; }
    for (let k = 0; k < d.length; k++) d[k]! ^= orig[k]!;
    headers[name] = d.toString('base64');
  }
}

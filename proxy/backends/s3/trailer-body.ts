// Forwards a checksum that the client sent as an aws-chunked trailer: the upload goes upstream as
// STREAMING-UNSIGNED-PAYLOAD-TRAILER in fixed-size chunks, and the trailer carries the digest the
// front's verifier computed — known only once the body has ended. Fixed chunks make the encoded
// length computable up front, so the request keeps a Content-Length.
import type { Readable } from 'node:stream';
import { OnDemand } from './hold-tail.ts';
import { DIGEST_BYTES } from '../../auth/checksums.ts';
import type { ChecksumAlgorithm } from '../../store/types.ts';

export const TRAILER_CHUNK = 64 * 1024;

const framed = (n: number) => n.toString(16).length + 2 + n + 2;

function trailerLine(alg: ChecksumAlgorithm, value: string): string {
  return `x-amz-checksum-${alg}:${value}\r\n`;
}

/** The encoded length of `size` bytes with a trailer of `alg`. */
export function trailerBodyLength(size: number, alg: ChecksumAlgorithm): number {
  const full = Math.floor(size / TRAILER_CHUNK);
  const rest = size % TRAILER_CHUNK;
  const b64 = 4 * Math.ceil(DIGEST_BYTES[alg] / 3);
  return full * framed(TRAILER_CHUNK) + (rest ? framed(rest) : 0) + 3 + trailerLine(alg, 'x'.repeat(b64)).length + 2;
}

/**
 * Re-chunks the source and appends `0`, the trailer (its value read at the end) and the final
 * CRLF. Like HoldTail it reads nothing before the upstream connection asks for bytes.
 */
export class TrailerEncoder extends OnDemand {
  #alg: ChecksumAlgorithm;
  #value: () => string | undefined;
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  constructor(source: Readable, alg: ChecksumAlgorithm, value: () => string | undefined) {
    super(source);
    this.#alg = alg;
    this.#value = value;
  }

  #frame(chunk: Buffer): boolean {
    this.push(`${chunk.length.toString(16)}\r\n`);
    this.push(chunk);
    return this.push('\r\n');
  }

  protected onChunk(chunk: Buffer): boolean {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes < TRAILER_CHUNK) return true;
    let all = Buffer.concat(this.#pending, this.#pendingBytes);
    let more = true;
    while (all.length >= TRAILER_CHUNK) {
      more = this.#frame(all.subarray(0, TRAILER_CHUNK));
      all = all.subarray(TRAILER_CHUNK);
    }
    this.#pending = all.length ? [all] : [];
    this.#pendingBytes = all.length;
    return more;
  }

  protected onEnd(): void {
    if (this.#pendingBytes) this.#frame(Buffer.concat(this.#pending, this.#pendingBytes));
    const value = this.#value();
    if (!value) {
      this.destroy(new Error(`no ${this.#alg} digest to send as the trailer`));
      return;
    }
    this.push(`0\r\n${trailerLine(this.#alg, value)}\r\n`);
    this.push(null);
  }
}

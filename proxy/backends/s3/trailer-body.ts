// Forwards a checksum that the client sent as an aws-chunked trailer: the upload goes upstream as
// STREAMING-UNSIGNED-PAYLOAD-TRAILER in fixed-size chunks, and the trailer carries the digest the
// front's verifier computed — known only once the body has ended. Fixed chunks make the encoded
// length computable up front, so the request keeps a Content-Length.
// TrailerFramer writes that framing around data pushed through it, for any writer: TrailerEncoder
// (a stream body) and a raw body pumped into the upstream socket (s3/raw-body.ts).
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

/** Writes bytes onward; false: the writer would like a pause. */
export type Out = (b: Buffer | string) => boolean;

/**
 * The framing of `size` bytes of data: each TRAILER_CHUNK (the last one shorter) gets its size
 * line and CRLF, data passes through as the views it came in, and end() adds `0`, the trailer
 * (its value read then) and the final CRLF.
 */
export class TrailerFramer {
  #alg: ChecksumAlgorithm;
  #value: () => string | undefined;
  /** Data still to come, and of that in the current chunk. */
  #rest: number;
  #inChunk = 0;

  constructor(size: number, alg: ChecksumAlgorithm, value: () => string | undefined) {
    this.#rest = size;
    this.#alg = alg;
    this.#value = value;
  }

  /** Frames `data`; returns the last write's answer. Throws past the declared size. */
  data(data: Buffer, out: Out): boolean {
    let more = true;
    for (let i = 0; i < data.length;) {
      if (this.#inChunk === 0) {
        // The front's verifier stops a body longer than declared before it gets here.
        if (this.#rest === 0) throw new Error('TrailerFramer: more data than the declared size');
        this.#inChunk = Math.min(TRAILER_CHUNK, this.#rest);
        out(`${this.#inChunk.toString(16)}\r\n`);
      }
      const n = Math.min(this.#inChunk, data.length - i);
      more = out(i === 0 && n === data.length ? data : data.subarray(i, i + n));
      i += n;
      this.#inChunk -= n;
      this.#rest -= n;
      if (this.#inChunk === 0) more = out('\r\n');
    }
    return more;
  }

  /** After the last data: the trailer. Throws when there is no digest to send. */
  end(out: Out): void {
    const value = this.#value();
    if (!value) throw new Error(`no ${this.#alg} digest to send as the trailer`);
    out(`0\r\n${trailerLine(this.#alg, value)}\r\n`);
  }
}

/** A stream body in that framing. Like HoldTail it reads nothing before the upstream connection asks for bytes. */
export class TrailerEncoder extends OnDemand {
  #framer: TrailerFramer;
  #push: Out = (b) => this.push(b);

  constructor(source: Readable, framer: TrailerFramer) {
    super(source);
    this.#framer = framer;
  }

  protected onChunk(chunk: Buffer): boolean {
    try {
      return this.#framer.data(chunk, this.#push);
    } catch (e) {
      this.destroy(e as Error);
      return false;
    }
  }

  protected onEnd(): void {
    try {
      this.#framer.end(this.#push);
    } catch (e) {
      this.destroy(e as Error);
      return;
    }
    this.push(null);
  }
}

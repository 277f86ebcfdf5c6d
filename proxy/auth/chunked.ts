// The aws-chunked body decoder: strips `size[;chunk-signature=…]\r\n data \r\n` framing as bytes
// flow (frames may split anywhere across reads, nothing is buffered beyond one header line),
// verifies the chunk signature chain and the trailer signature, and hands trailers over.
// ChunkParser does it over buffers pushed into it (s3/raw-body.ts feeds it the reads of a body
// taken off node's parser); createChunkDecoder() is the same parser as a Transform.
// Data is passed on before its chunk's signature is checked; a bad signature destroys the
// stream (or throws from feed()), and stores commit only on a clean end (see PutInput in
// store/types.ts).
import { createHash, timingSafeEqual, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from '../s3/errors.ts';
import { EMPTY_SHA256, hmac, sha256Hex } from './canonical.ts';
import type { SigV4Auth } from './sigv4.ts';

export type ChunkMode = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' | 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' | 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';

export interface ChunkDecoderOptions {
  mode: ChunkMode;
  /** Required for the signed modes: the chain starts at seedSignature. */
  auth?: Pick<SigV4Auth, 'seedSignature' | 'signingKey' | 'scope' | 'amzDate'>;
  /** From x-amz-trailer, lower-case: each must arrive in the trailer section. */
  trailerNames: string[];
  onTrailers: (t: Record<string, string>) => void;
}

export const MAX_LINE = 4096;
const MAX_TRAILERS = 16;
const CR = 13, LF = 10;

type State = 'header' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'done';

const malformed = (detail: string) => new S3Error('InvalidRequest', `Malformed aws-chunked body: ${detail}.`);

/** The decoder over pushed buffers: feed() the framed bytes in order, then end(). Errors are thrown S3Errors. */
export class ChunkParser {
  #opts: ChunkDecoderOptions;
  #signed: boolean;
  #state: State = 'header';
  #line: Buffer[] = [];
  #lineLen = 0;
  #remaining = 0;
  #chunkSig = '';
  #hash: Hash | undefined;
  #prevSig: string;
  #trailers: Record<string, string> = {};
  #trailerCount = 0;
  #trailerSig: string | undefined;
  #onData: (data: Buffer) => void = () => {};

  constructor(opts: ChunkDecoderOptions) {
    this.#opts = opts;
    this.#signed = opts.mode !== 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
    if (this.#signed && !opts.auth) throw new Error(`ChunkParser: ${opts.mode} needs the request's auth result`);
    this.#prevSig = opts.auth?.seedSignature ?? '';
  }

  /** True once the final chunk and the trailers are read. */
  get done(): boolean {
    return this.#state === 'done';
  }

  /** Decodes `b`; each piece of data (a view of `b`) goes to `onData` as it is found. `b` may be reused once this returns. */
  feed(b: Buffer, onData: (data: Buffer) => void): void {
    this.#onData = onData;
    this.#consume(b);
  }

  /** The framed bytes ended: throws unless the body was complete. */
  end(): void {
    // Lenient ends: a last trailer line without its CRLF, or no closing empty line at all.
    if (this.#state === 'trailer' && this.#lineLen > 0) this.#onLine(this.#takeLine(false));
    if (this.#state === 'trailer' && this.#lineLen === 0) this.#finishTrailers();
    if (this.#state !== 'done') throw new S3Error('IncompleteBody', 'The aws-chunked body ended before its final chunk.');
  }

  #consume(b: Buffer): void {
    let i = 0;
    while (i < b.length) {
      switch (this.#state) {
        case 'header': case 'trailer': {
          const nl = b.indexOf(LF, i);
          const end = nl < 0 ? b.length : nl + 1;
          this.#lineLen += end - i;
          if (this.#lineLen > MAX_LINE) throw malformed(`a chunk header or trailer line is longer than ${MAX_LINE} bytes`);
          // A line left unfinished is kept as a copy: the caller may read into `b` again (raw-body.ts).
          this.#line.push(nl < 0 ? Buffer.from(b.subarray(i, end)) : b.subarray(i, end));
          i = end;
          if (nl >= 0) this.#onLine(this.#takeLine(true));
          break;
        }
        case 'data': {
          const n = Math.min(this.#remaining, b.length - i);
          const piece = b.subarray(i, i + n);
          this.#hash?.update(piece);
          this.#onData(piece);
          this.#remaining -= n;
          i += n;
          if (this.#remaining === 0) this.#state = 'data-cr';
          break;
        }
        case 'data-cr':
          if (b[i++] !== CR) throw malformed('chunk data is not followed by CRLF (chunk size does not match the data)');
          this.#state = 'data-lf';
          break;
        case 'data-lf':
          if (b[i++] !== LF) throw malformed('chunk data is not followed by CRLF');
          this.#verifyChunk(this.#hash ? this.#hash.digest('hex') : EMPTY_SHA256);
          this.#state = 'header';
          break;
        case 'done':
          // Tolerate stray line ends after the last CRLF; anything else is not ours to drop.
          for (; i < b.length; i++) if (b[i] !== CR && b[i] !== LF) throw malformed('data after the final chunk');
          break;
      }
    }
  }

  #takeLine(terminated: boolean): string {
    let buf = this.#line.length === 1 ? this.#line[0]! : Buffer.concat(this.#line);
    this.#line = [];
    this.#lineLen = 0;
    if (terminated) buf = buf.subarray(0, buf.length - (buf.length >= 2 && buf[buf.length - 2] === CR ? 2 : 1));
    return buf.toString('latin1');
  }

  #onLine(line: string): void {
    if (this.#state === 'header') this.#onChunkHeader(line);
    else this.#onTrailerLine(line);
  }

  #onChunkHeader(line: string): void {
    const parts = line.split(';');
    const sizeHex = parts[0]!.trim();
    if (!/^[0-9a-fA-F]{1,13}$/.test(sizeHex)) throw malformed(`invalid chunk size "${sizeHex.slice(0, 32)}"`);
    const size = parseInt(sizeHex, 16);
    let sig: string | undefined;
    for (const ext of parts.slice(1)) {
      const [k, v] = ext.split('=', 2) as [string, string | undefined];
      if (k.trim() === 'chunk-signature') sig = v?.trim();
    }
    if (this.#signed) {
      if (sig === undefined) throw malformed('a chunk has no chunk-signature');
      if (!/^[0-9a-f]{64}$/.test(sig)) throw malformed('a chunk-signature is not 64 hex characters');
      this.#chunkSig = sig;
    }
    if (size === 0) {
      this.#verifyChunk(EMPTY_SHA256);
      this.#state = 'trailer';
      return;
    }
    this.#remaining = size;
    this.#hash = this.#signed ? createHash('sha256') : undefined;
    this.#state = 'data';
  }

  #verifyChunk(dataHash: string): void {
    this.#hash = undefined;
    if (!this.#signed) return;
    const a = this.#opts.auth!;
    const sts = `AWS4-HMAC-SHA256-PAYLOAD\n${a.amzDate}\n${a.scope}\n${this.#prevSig}\n${EMPTY_SHA256}\n${dataHash}`;
    this.#checkSignature(sts, this.#chunkSig, 'chunk');
  }

  #checkSignature(sts: string, provided: string, what: string): void {
    const expected = hmac(this.#opts.auth!.signingKey, sts);
    const got = Buffer.from(provided, 'hex');
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      throw new S3Error('SignatureDoesNotMatch', `The ${what} signature we calculated does not match the signature you provided.`, {
        details: { StringToSign: sts, SignatureProvided: provided },
      });
    }
    this.#prevSig = provided;
  }

  #onTrailerLine(line: string): void {
    if (line === '') {
      // Some signers put an empty line between the final chunk and the trailers.
      if (this.#trailerCount === 0 && this.#expectsTrailers()) return;
      this.#finishTrailers();
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed('a trailer line is not "name:value"');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'x-amz-trailer-signature') {
      this.#trailerSig = value;
      return;
    }
    if (++this.#trailerCount > MAX_TRAILERS) throw malformed('too many trailers');
    this.#trailers[name] = value;
  }

  #expectsTrailers(): boolean {
    return this.#opts.trailerNames.length > 0 || this.#opts.mode === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
  }

  #finishTrailers(): void {
    if (this.#opts.mode === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER') {
      if (this.#trailerSig === undefined) throw malformed('the signed trailer has no x-amz-trailer-signature');
      if (!/^[0-9a-f]{64}$/.test(this.#trailerSig)) throw malformed('x-amz-trailer-signature is not 64 hex characters');
      const canonical = Object.keys(this.#trailers).sort().map((k) => `${k}:${this.#trailers[k]}\n`).join('');
      const a = this.#opts.auth!;
      const sts = `AWS4-HMAC-SHA256-TRAILER\n${a.amzDate}\n${a.scope}\n${this.#prevSig}\n${sha256Hex(canonical)}`;
      this.#checkSignature(sts, this.#trailerSig, 'trailer');
    }
    const missing = this.#opts.trailerNames.filter((n) => !(n in this.#trailers));
    if (missing.length) throw new S3Error('InvalidRequest', `The trailer ${missing.join(', ')} was declared in x-amz-trailer but not sent.`);
    this.#state = 'done';
    this.#opts.onTrailers(this.#trailers);
  }
}

class ChunkDecoder extends Transform {
  #parser: ChunkParser;
  #push = (data: Buffer) => { this.push(data); };

  constructor(opts: ChunkDecoderOptions) {
    super();
    this.#parser = new ChunkParser(opts);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.#parser.feed(chunk, this.#push);
      done();
    } catch (e) {
      done(e as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.#parser.end();
      done();
    } catch (e) {
      done(e as Error);
    }
  }
}

export function createChunkDecoder(opts: ChunkDecoderOptions): Transform {
  return new ChunkDecoder(opts);
}

// A PUT body framed by a Content-Length, verified in one pass — plain, or aws-chunked (its framing
// decoded by auth/chunked.ts's ChunkParser as the bytes pass: decoded data onward, chunk
// signatures and the trailer checked) — and taken either way:
// - pumpTo(socket) (relay/upload.ts: the upload goes to an http backend): the client socket is
//   taken off node's HTTP parser (relay/takeover.ts) and every read, into one buffer reused for
//   the whole body, is counted, hashed when a digest was declared, and written straight into the
//   upstream socket; reading pauses while that write is still queued. The last bytes are written
//   only once every declared digest has checked out (for aws-chunked, the last piece of data is
//   copied and held until its signature and the trailer are read), so a bad body reaches the
//   backend short and is discarded there (what hold-tail.ts does for streams);
// - as a Readable (any other store, an https backend): the request's chunks, counted and hashed
//   the same way; the last chunk comes only once the checks pass, else the stream errors.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Readable, finished } from 'node:stream';
import type { BodyTally } from '../auth/verify-body.ts';
import type { ChunkParser } from '../auth/chunked.ts';
import { canTakeOver, takeOver } from '../relay/takeover.ts';
import { countRawBytes } from '../observability/request-record.ts';
import { S3Error } from './errors.ts';

/** Bodies at least this long are moved raw when they can be. */
export const RAW_MIN = 256 * 1024;
/** The read buffer of one raw body. */
const SLAB = 256 * 1024;

function ignore(): void {}

/**
 * Framing the upstream request puts around the data (backends/s3/trailer-body.ts: a trailer
 * checksum sent on as a trailer): data() frames each piece, end() follows the last one.
 */
export interface UpstreamFraming {
  data(data: Buffer, out: (b: Buffer | string) => boolean): boolean;
  end(out: (b: Buffer | string) => boolean): void;
}

export function isRawBody(body: unknown): body is RawBody {
  return body instanceof RawBody;
}

export class RawBody extends Readable {
  #req: IncomingMessage;
  #tally: BodyTally;
  #idleTimeoutMs: number;
  #mode: 'idle' | 'stream' | 'pump' = 'idle';
  #ended = false;
  /** aws-chunked framing to decode, else the bytes are the data. */
  #framing: ChunkParser | undefined;
  /** The last piece of data, held until every check passed. */
  #last: Buffer | undefined;
  #upstream: UpstreamFraming | undefined;
  /** Bytes on the wire still to come. */
  #left: number;
  /** Pump mode: the destination and the pump's promise. */
  #dest: Socket | undefined;
  #paused = false;
  #settle: { resolve(): void; reject(e: Error): void } | undefined;
  #unlisten: (() => void) | undefined;

  /** `size`: the Content-Length; `framing`: the decoder of an aws-chunked body (the tally counts decoded bytes). */
  constructor(req: IncomingMessage, tally: BodyTally, size: number, idleTimeoutMs: number, framing?: ChunkParser) {
    super();
    this.#req = req;
    this.#tally = tally;
    this.#left = size;
    this.#framing = framing;
    this.#idleTimeoutMs = idleTimeoutMs;
    // Consumers see errors through their own listeners; an abandoned body must not end the process.
    this.on('error', ignore);
  }

  /** True once any byte was taken from the request. */
  get started(): boolean {
    return this.#mode !== 'idle';
  }

  /** The data goes on in `framing` (set before the body is taken). */
  reframe(framing: UpstreamFraming): this {
    if (this.started) throw new Error('RawBody.reframe: the body was already taken');
    this.#upstream = framing;
    return this;
  }

  /** Whether pumpTo() can take the socket (else read the body as a stream). */
  pumpable(): boolean {
    return this.#mode === 'idle' && !this.destroyed && canTakeOver(this.#req);
  }

  /**
   * Moves the whole body into `dest`; resolves once the last byte is written to it. On failure
   * (client gone or idle, a digest mismatch, destroyed by the consumer) `dest` is destroyed
   * before the body is complete, the promise rejects and this stream errors with the S3 error.
   */
  pumpTo(dest: Socket): Promise<void> {
    if (this.#mode !== 'idle' || this.destroyed) return Promise.reject(new Error('RawBody.pumpTo: the body was already taken'));
    this.#mode = 'pump';
    this.#dest = dest;
    return new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
      // Never from inside node's parser: a request handler can run within its execute() (the head
      // just parsed), where unconsume() would leave the socket read by nobody.
      setImmediate(() => {
        if (this.#ended || this.destroyed) return;
        if (canTakeOver(this.#req)) this.#takeOver();
        else this.#streamInto(dest);
      });
    });
  }

  #takeOver(): void {
    const req = this.#req;
    const socket = req.socket;
    const onGone = () => this.#fail(new S3Error('IncompleteBody', 'The client closed the connection before sending the whole body.'));
    const onTimeout = () => this.#fail(new S3Error('RequestTimeout'));
    socket.once('end', onGone);
    socket.once('close', onGone);
    req.setTimeout(this.#idleTimeoutMs, onTimeout);
    this.#unlisten = () => {
      socket.off('end', onGone);
      socket.off('close', onGone);
      req.off('timeout', onTimeout);
      req.setTimeout(0);
    };
    const early = takeOver(req, Buffer.allocUnsafe(SLAB), (chunk) => this.#onBytes(chunk));
    // Already delivered by the parser: own buffers, written like any read.
    for (const c of early) if (!this.#take(c)) break;
  }

  /** The socket cannot be taken after all (the parser saw the whole body meanwhile): written as a stream. */
  #streamInto(dest: Socket): void {
    this.#mode = 'idle';
    const onDrain = () => this.resume();
    dest.on('drain', onDrain);
    this.on('data', (c: Buffer) => { if (!dest.write(c)) this.pause(); });
    finished(this, { writable: false }, (err) => {
      dest.off('drain', onDrain);
      const s = this.#settle;
      this.#settle = undefined;
      if (err) {
        dest.destroy();
        s?.reject(err);
      } else s?.resolve();
    });
  }

  /** A read from the client socket (a view of the slab); false stops reading. */
  #onBytes(chunk: Buffer): boolean {
    if (this.#mode !== 'pump' || this.#ended) return true; // after the end or a failure: discarded
    countRawBytes(this.#req, Math.min(chunk.length, this.#left));
    if (!this.#take(chunk)) return false;
    return !this.#paused;
  }

  /** Counts, decodes, hashes and writes one read; false when the body is complete or failed. */
  #take(chunk: Buffer): boolean {
    const dest = this.#dest!;
    // Bytes past the body (a pipelined request) are dropped: the connection closes after the answer.
    const data = chunk.length > this.#left ? chunk.subarray(0, this.#left) : chunk;
    let end: boolean;
    // One writev for the pieces and framing of one read.
    dest.cork();
    try {
      end = this.#consume(data, (d) => dest.write(d, this.#onFlushed));
    } catch (e) {
      this.#fail(e as Error);
      return false;
    } finally {
      dest.uncork();
    }
    if (end) {
      this.#ended = true;
      this.#unlisten?.();
      const s = this.#settle;
      this.#settle = undefined;
      this.push(null);
      this.resume(); // nobody reads this stream in pump mode: let it end
      s?.resolve();
      // Reading stays stopped while the last write holds the buffer; what comes later is discarded.
      return false;
    }
    if (dest.writableLength > 0) this.#paused = true;
    return true;
  }

  /**
   * Takes `data`, the body's next bytes on the wire: decodes, counts and hashes it and hands the
   * data to `out` — all but the last piece at once, that one once every check passed. Returns
   * true at the body's end; throws the S3 error of a bad body.
   */
  #consume(data: Buffer, write: (d: Buffer | string) => boolean): boolean {
    this.#left -= data.length;
    const tally = this.#tally;
    const up = this.#upstream;
    const out = up ? (d: Buffer) => up.data(d, write) : write;
    const onData = (d: Buffer) => {
      tally.update(d);
      if (tally.count < tally.expectedSize) out(d);
      // The trailer and the last signature may come in a later read, into the same buffer.
      else this.#last = this.#framing ? Buffer.from(d) : d;
    };
    if (this.#framing) this.#framing.feed(data, onData);
    else onData(data);
    if (this.#left > 0) return false;
    this.#framing?.end();
    tally.check();
    if (this.#last) out(this.#last);
    this.#last = undefined;
    up?.end(write);
    return true;
  }

  #onFlushed = (): void => {
    if (!this.#paused || !this.#dest || this.#dest.writableLength > 0) return;
    this.#paused = false;
    if (!this.#ended) this.#req.socket.resume();
  };

  #fail(e: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#unlisten?.();
    // Short of its end, the upstream request is cut: the backend discards it.
    this.#dest?.destroy();
    const s = this.#settle;
    this.#settle = undefined;
    this.destroy(e);
    s?.reject(e);
    // Whatever the client still sends is read and dropped, so it can read the error answer.
    this.#req.socket.resume();
  }

  override _read(): void {
    if (this.#mode === 'idle') this.#stream();
    else if (this.#mode === 'stream') this.#req.resume();
  }

  #stream(): void {
    this.#mode = 'stream';
    const req = this.#req;
    // A client that stops sending mid-body gets RequestTimeout, as from S3, instead of a hung socket.
    req.setTimeout(this.#idleTimeoutMs, () => this.destroy(new S3Error('RequestTimeout')));
    req.on('data', (c: Buffer) => {
      if (this.destroyed || this.#ended) return; // the rest is drained, so the client reads the answer
      try {
        this.#ended = this.#consume(c, (d) => {
          const more = this.push(d);
          if (!more) req.pause();
          return more;
        });
      } catch (e) {
        this.#ended = true;
        this.destroy(e as Error);
        return;
      }
      if (this.#ended) this.push(null);
    });
    req.once('end', () => {
      req.setTimeout(0);
      if (this.destroyed || this.#ended) return;
      this.destroy(new S3Error('IncompleteBody', `The body ended ${this.#left} bytes short of its Content-Length.`));
    });
    finished(req, (err) => {
      if (err && !this.destroyed) this.destroy(new S3Error('IncompleteBody', undefined, { cause: err }));
    });
    req.resume();
  }

  override _destroy(err: Error | null, done: (e?: Error | null) => void): void {
    if (this.#mode === 'pump' && !this.#ended) {
      this.#fail(err ?? new S3Error('IncompleteBody'));
    } else if (this.#mode === 'stream' && !this.#ended) {
      this.#req.setTimeout(0);
      // A body given up midway (the store refused it: a full disk, a bad digest) is read to its
      // end and dropped, so the client, still sending, gets the error answer instead of a reset.
      if (!this.#req.readableEnded) this.#req.resume();
    }
    done(err);
  }
}

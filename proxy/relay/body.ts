// The body of a relay response. Two ways to take it:
// - relayTo(res): each read buffer is written into the client's response as it is, and reading
//   pauses while a write is still queued (the next read would overwrite bytes not yet sent), so a
//   slow client holds back the upstream through TCP instead of filling our memory;
// - as a Readable (fault stages, error documents, CopyObject): every chunk is a copy.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ServerResponse } from 'node:http';
import type { Exchange } from './client.ts';
import { ChunkedDecoder } from './chunked.ts';
import type { Framing } from './head.ts';

export interface Relayable {
  /** Writes the whole body into `res` and ends it; rejects when either side fails. */
  relayTo(res: ServerResponse): Promise<void>;
}

/** A relay body, or any body that writes itself into a response (the embedded store's BlobBody). */
export function isRelayable(body: unknown): body is Relayable {
  return typeof (body as Partial<Relayable> | undefined)?.relayTo === 'function';
}

function ignore(): void {}

/** Bodies longer than this are cut rather than read to the end when nobody wants them. */
const DUMP_LIMIT = 128 * 1024;

/**
 * A length-framed body up to this size still arriving when relaying begins is gathered, then
 * sent whole: one write with the response head instead of two or three (MinIO writes the head
 * and a 4 KiB body in two). Larger bodies stream with backpressure.
 */
const GATHER_LIMIT = 64 * 1024;

export class RelayBody extends Readable implements Relayable {
  #ex: Exchange;
  /** Length-framed: bytes still to come. */
  #left: number;
  /** Length-framed: the whole length. */
  #length: number;
  #chunked: ChunkedDecoder | undefined;
  #untilClose: boolean;
  #complete = false;
  /** Complete before relaying began: every byte is in the stream's own buffer (a small body, read with its head). */
  #buffered = false;
  #paused = false;
  #dest: ServerResponse | undefined;
  #settle: { resolve(): void; reject(e: Error): void } | undefined;
  /** Every byte arrived but the last write still holds the read buffer. */
  #flushWait: { clean: boolean } | undefined;
  /** Called once a gathered body is whole (#finish). */
  #onWhole: (() => void) | undefined;

  constructor(ex: Exchange, framing: Framing) {
    super();
    this.#ex = ex;
    this.#left = framing.kind === 'length' ? framing.length : 0;
    this.#length = this.#left;
    this.#chunked = framing.kind === 'chunked' ? new ChunkedDecoder() : undefined;
    this.#untilClose = framing.kind === 'close';
    // An abandoned body's error must not end the process; readers still see it.
    this.on('error', ignore);
  }

  /** The bytes that arrived with the head; returns whether to keep reading. */
  start(rest: Buffer): boolean {
    if (!this.#chunked && !this.#untilClose && this.#left === 0) {
      this.#finish(rest.length === 0);
      return true;
    }
    return rest.length ? this.feed(rest) : true;
  }

  /** Body bytes (a view of the connection's read buffer); returns whether to keep reading. */
  feed(chunk: Buffer): boolean {
    if (this.#complete) return false;
    if (this.#chunked) {
      let used: number;
      try {
        used = this.#chunked.feed(chunk, (d) => this.#copyOut(d));
      } catch (e) {
        this.#ex.fail(e as Error);
        return false;
      }
      if (this.#chunked.done) this.#finish(used === chunk.length);
      return !this.#paused;
    }
    let data = chunk;
    let extra = false;
    if (!this.#untilClose) {
      if (chunk.length > this.#left) {
        data = chunk.subarray(0, this.#left);
        extra = true;
      }
      this.#left -= data.length;
    }
    const last = !this.#untilClose && this.#left === 0;
    if (this.#dest) {
      this.#dest.write(data, this.#onFlushed);
      const queued = this.#dest.writableLength > 0;
      if (last) {
        if (queued) {
          this.#flushWait = { clean: !extra };
          return false;
        }
        this.#finish(!extra);
        return true;
      }
      if (queued) this.#paused = true;
      return !queued;
    }
    this.#copyOut(data);
    if (last) this.#finish(!extra);
    return !this.#paused;
  }

  /** The peer closed: the end of a close-delimited body (true), else a failure for the exchange. */
  closeDelimited(): boolean {
    if (!this.#untilClose || this.#complete) return false;
    this.#finish(false);
    return true;
  }

  upstreamFailed(e: Error): void {
    if (this.#complete) return;
    this.#complete = true;
    const s = this.#settle;
    this.#settle = undefined;
    if (s) {
      this.destroy();
      s.reject(e);
    } else this.destroy(e);
  }

  relayTo(res: ServerResponse): Promise<void> {
    // A body already whole is ended into the response in one write, headers included, without
    // pipeline()'s per-call AbortController (and the DOMException its abort() builds at the end).
    const whole = this.#buffered && !this.#dest && !this.destroyed && this.readableFlowing === null;
    if (!whole && this.#gatherable()) return this.#gather(res);
    if (!whole && (this.#chunked || this.#untilClose || this.#complete || this.#dest || this.destroyed)) return pipeline(this, res);
    return new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
      this.#dest = res;
      // A client gone before the first byte: its 'close' has already fired.
      if (res.destroyed) return this.#onDestClose();
      res.once('close', this.#onDestClose);
      if (whole) {
        this.#endDest((this.read() as Buffer | null) ?? undefined);
        return;
      }
      // What arrived before relaying began was copied into the stream's buffer.
      for (let c = this.read() as Buffer | null; c !== null; c = this.read() as Buffer | null) res.write(c);
      if (this.#paused) {
        this.#paused = false;
        this.#ex.resume();
      }
    });
  }

  /** Small, length-framed, still arriving, untouched; below the stream's high-water mark, so gathering never pauses the upstream. */
  #gatherable(): boolean {
    return !this.#chunked && !this.#untilClose && !this.#complete && !this.#dest && !this.destroyed && !this.#onWhole
      && this.readableFlowing === null && this.#length <= Math.min(GATHER_LIMIT, this.readableHighWaterMark - 1);
  }

  /** Waits for the rest of a small body, then ends it into `res` whole; fails as the upstream or the client does. */
  #gather(res: ServerResponse): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const stop = () => {
        this.#onWhole = undefined;
        res.off('close', onClientGone);
        this.off('close', onUpstreamFailed);
      };
      const onClientGone = () => {
        stop();
        this.destroy();
        reject(Object.assign(new Error('the client went away'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
      };
      const onUpstreamFailed = () => {
        stop();
        reject(this.errored ?? Object.assign(new Error('the upstream body ended early'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
      };
      this.#onWhole = () => {
        stop();
        this.relayTo(res).then(resolve, reject);
      };
      if (res.destroyed) return onClientGone();
      res.once('close', onClientGone);
      this.once('close', onUpstreamFailed);
    });
  }

  async text(): Promise<string> {
    const parts: Buffer[] = [];
    for await (const c of this) parts.push(c as Buffer);
    return Buffer.concat(parts).toString('utf8');
  }

  /** Reads a short rest to the end (the connection is kept) or cuts a long one. */
  async dump(): Promise<void> {
    if (!this.#complete && (this.#chunked || this.#untilClose || this.#left > DUMP_LIMIT)) {
      this.destroy();
      return;
    }
    for await (const _ of this) { /* discard */ }
  }

  override _read(): void {
    if (this.#paused && !this.#dest) {
      this.#paused = false;
      this.#ex.resume();
    }
  }

  override _destroy(err: Error | null, done: (e?: Error | null) => void): void {
    // Given up before its end: the connection is mid-response and cannot be reused.
    if (!this.#complete) {
      this.#complete = true;
      this.#ex.done(false);
    }
    done(err);
  }

  #copyOut(d: Buffer): void {
    if (!this.push(Buffer.from(d))) this.#paused = true;
  }

  #finish(clean: boolean): void {
    this.#complete = true;
    this.#ex.done(clean);
    if (!this.#dest) {
      this.#buffered = true;
      this.push(null);
      this.#onWhole?.();
      return;
    }
    this.#endDest();
  }

  /** Ends the response (with its last bytes, when given); settles relayTo() once it has gone out. */
  #endDest(last?: Buffer): void {
    const res = this.#dest!;
    res.end(last, () => {
      res.off('close', this.#onDestClose);
      const s = this.#settle;
      this.#settle = undefined;
      this.destroy();
      s?.resolve();
    });
  }

  #onFlushed = (): void => {
    const res = this.#dest;
    if (!res || res.writableLength > 0) return;
    if (this.#flushWait) {
      const { clean } = this.#flushWait;
      this.#flushWait = undefined;
      this.#finish(clean);
    } else if (this.#paused) {
      this.#paused = false;
      this.#ex.resume();
    }
  };

  #onDestClose = (): void => {
    const s = this.#settle;
    if (!s) return;
    this.#settle = undefined;
    this.destroy();
    s.reject(Object.assign(new Error('the client went away'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
  };
}

// The body of an embedded-store GET: byte ranges of one or more blob files, read in order. Two
// ways to take it, like a relay body (proxy/relay/body.ts):
// - relayTo(res): fs.read into two reused 1 MiB buffers, each written into the response as it is;
//   the next read (on libuv's thread pool) starts before a buffer is written, so reads overlap
//   writes, and a buffer is read into again only once its write has reached the socket, so a slow
//   client holds the reads back (never more than two buffers per GET, whatever the object's size);
// - as a Readable (fault stages, CopyObject, multipart copies): every chunk is a new buffer.
// createReadStream allocated a buffer per read, external memory that forced a full GC about
// every 64 MiB served (docs/performance.md).
import { close, open, read } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Relayable } from '../../relay/body.ts';

/** The inclusive byte range [from, to] of one file. */
export interface Piece { path: string; from: number; to: number }

/** Readable chunks: 256 KiB (the default 64 KiB costs ~25 % of large-GET throughput in per-chunk overhead). */
const READ_CHUNK = 256 * 1024;
/** relayTo's unit: one read syscall and one socket write per MiB. */
const RELAY_CHUNK = 1024 * 1024;
/** Relay buffers kept between GETs (the rest are left to the GC): 4 concurrent large GETs. */
const SPARE_BUFFERS = 8;
const spare: Buffer[] = [];

function takeBuffer(size: number): Buffer {
  return size === RELAY_CHUNK ? (spare.pop() ?? Buffer.allocUnsafeSlow(RELAY_CHUNK)) : Buffer.allocUnsafeSlow(size);
}

function giveBack(buf: Buffer): void {
  if (buf.length === RELAY_CHUNK && spare.length < SPARE_BUFFERS) spare.push(buf);
}

const openFile = (path: string) => new Promise<number>((resolve, reject) => open(path, 'r', (e, fd) => (e ? reject(e) : resolve(fd))));
const readAt = (fd: number, buf: Buffer, len: number, pos: number) =>
  new Promise<number>((resolve, reject) => read(fd, buf, 0, len, pos, (e, n) => (e ? reject(e) : resolve(n))));

const premature = (why: string) => Object.assign(new Error(why), { code: 'ERR_STREAM_PREMATURE_CLOSE' });

export class BlobBody extends Readable implements Relayable {
  #pieces: readonly Piece[];
  #piece = 0;
  #pos: number;
  #left: number;
  #fd: number | undefined;
  #relaying = false;

  constructor(pieces: readonly Piece[]) {
    super({ highWaterMark: READ_CHUNK });
    this.#pieces = pieces.filter((p) => p.to >= p.from);
    this.#pos = this.#pieces[0]?.from ?? 0;
    this.#left = this.#pieces.reduce((s, p) => s + p.to - p.from + 1, 0);
  }

  /** Reads the next bytes (at most `buf.length`, within one piece) into `buf`; the count, 0 at the end. */
  async #readInto(buf: Buffer): Promise<number> {
    let p = this.#pieces[this.#piece];
    while (p && this.#pos > p.to) {
      this.#closeFd();
      p = this.#pieces[++this.#piece];
      this.#pos = p?.from ?? 0;
    }
    if (!p) return 0;
    this.#fd ??= await openFile(p.path);
    const n = await readAt(this.#fd, buf, Math.min(buf.length, p.to - this.#pos + 1), this.#pos);
    if (n === 0) throw Object.assign(new Error(`blob ${p.path} ended before the bytes its object claims`), { code: 'ERR_BLOB_SHORT' });
    this.#pos += n;
    this.#left -= n;
    return n;
  }

  override _read(): void {
    if (this.#left <= 0) {
      this.#closeFd();
      this.push(null);
      return;
    }
    const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, this.#left));
    this.#readInto(buf).then(
      (n) => { if (!this.destroyed) this.push(n ? buf.subarray(0, n) : null); },
      (e: Error) => this.destroy(e),
    );
  }

  override _destroy(err: Error | null, done: (e?: Error | null) => void): void {
    this.#closeFd();
    done(err);
  }

  #closeFd(): void {
    if (this.#fd === undefined) return;
    close(this.#fd, () => { /* a close error leaves nothing to do */ });
    this.#fd = undefined;
  }

  relayTo(res: ServerResponse): Promise<void> {
    if (this.#relaying || this.readableDidRead || this.destroyed) return pipeline(this, res);
    this.#relaying = true;
    return this.#relay(res).finally(() => this.destroy());
  }

  async #relay(res: ServerResponse): Promise<void> {
    const size = Math.min(RELAY_CHUNK, Math.max(this.#left, 1));
    const bufs = this.#left > size ? [takeBuffer(size), takeBuffer(size)] : [takeBuffer(size)];
    // A client gone mid-write may never call a write back: its 'close' ends the wait instead —
    // the one wait there is (a Promise.race with a close promise per write piled a reaction onto
    // that promise for every MiB until the response closed).
    let gone = res.destroyed;
    let settle: (() => void) | undefined;
    res.once('close', () => { gone = true; settle?.(); });
    /** Writes `chunk` (ends the response without one); settles once it reached the socket or the client left. */
    const send = (chunk?: Buffer) => new Promise<void>((resolve, reject) => {
      if (gone) return resolve();
      settle = resolve;
      const done = (e?: Error | null) => (e ? reject(e) : resolve());
      if (chunk) res.write(chunk, done);
      else res.end(done);
    });
    /** The read of the next bytes, into the buffer that is not being written. */
    let reading = this.#readInto(bufs[0]!);
    /** The write of the other buffer, still on its way to the socket. */
    let inFlight: Promise<unknown> | undefined;
    let reusable = false;
    try {
      for (let i = 0; ; i++) {
        const buf = bufs[i % bufs.length]!;
        const n = await reading;
        await inFlight;
        if (gone || this.destroyed) throw premature('the client went away');
        if (n === 0) break;
        // The other buffer's write has reached the socket: the next read goes into it before this
        // one is written, so the read (on libuv's thread pool) overlaps the write (on this thread).
        reading = this.#left > 0 ? this.#readInto(bufs[(i + 1) % bufs.length]!) : Promise.resolve(0);
        // Awaited only after this write: a failed read must not count as unhandled meanwhile.
        reading.catch(() => {});
        inFlight = send(n === buf.length ? buf : buf.subarray(0, n));
        inFlight.catch(() => {});
      }
      await send();
      if (!res.writableFinished) throw premature('the client went away');
      reusable = true;
    } finally {
      // The fd is closed after this: not while a read on it is still on the thread pool.
      await reading.catch(() => 0);
      // After a failure a write may still hold a buffer: those are left to the GC.
      if (reusable) for (const b of bufs) giveBack(b);
    }
  }
}

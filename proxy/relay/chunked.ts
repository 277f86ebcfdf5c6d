// Decodes a `transfer-encoding: chunked` response body (RFC 9112 §7.1) fed in arbitrary slices.
// Object bodies come with a Content-Length; this is for the odd error document or listing an
// upstream sends chunked. Chunk extensions and trailer fields are read and ignored.
import { ProtocolError } from './head.ts';

const MAX_LINE = 4096;

export class ChunkedDecoder {
  #state: 'size' | 'data' | 'data-crlf' | 'trailer' | 'done' = 'size';
  #line = '';
  #left = 0;

  get done(): boolean {
    return this.#state === 'done';
  }

  /** Feeds `buf`; data slices (views of `buf`) go to `onData`. Returns the bytes consumed. */
  feed(buf: Buffer, onData: (b: Buffer) => void): number {
    let i = 0;
    while (i < buf.length && this.#state !== 'done') {
      if (this.#state === 'data') {
        const n = Math.min(this.#left, buf.length - i);
        onData(buf.subarray(i, i + n));
        i += n;
        this.#left -= n;
        if (this.#left === 0) this.#state = 'data-crlf';
        continue;
      }
      const nl = buf.indexOf(10, i);
      const end = nl === -1 ? buf.length : nl;
      this.#line += buf.toString('latin1', i, end);
      if (this.#line.length > MAX_LINE) throw new ProtocolError('chunked body: line too long');
      i = end;
      if (nl === -1) break;
      i++;
      const line = this.#line.endsWith('\r') ? this.#line.slice(0, -1) : this.#line;
      this.#line = '';
      this.#onLine(line);
    }
    return i;
  }

  #onLine(line: string): void {
    if (this.#state === 'data-crlf') {
      if (line !== '') throw new ProtocolError('chunked body: missing CRLF after chunk data');
      this.#state = 'size';
    } else if (this.#state === 'size') {
      const m = /^([0-9a-fA-F]{1,12})(?:[ \t]*;.*)?$/.exec(line);
      if (!m) throw new ProtocolError('chunked body: malformed chunk size');
      this.#left = parseInt(m[1]!, 16);
      this.#state = this.#left === 0 ? 'trailer' : 'data';
    } else if (this.#state === 'trailer' && line === '') {
      this.#state = 'done';
    }
  }
}

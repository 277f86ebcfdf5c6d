// A small plain PUT body (framed by a Content-Length of at most WHOLE_MAX, not aws-chunked),
// gathered whole from the request and checked — length and every declared digest — before a byte
// goes on, so a bad body never reaches a backend at all. A small object's body has mostly
// arrived with the request's head, and the backend request waits on the write intent anyway:
// instead of three stream stages (the verifier, hold-tail.ts, the upload's data listener) per
// PUT, the backend request starts once the body is whole (backends/s3/store.ts), and the relay
// client writes its head and the body in one write (pumpTo).
// Read as a stream (any other store, an https backend, copies), it is one chunk.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Readable, finished } from 'node:stream';
import type { BodyTally } from '../auth/verify-body.ts';
import { S3Error } from './errors.ts';

/** Plain bodies up to this long are gathered whole. */
export const WHOLE_MAX = 64 * 1024;

function ignore(): void {}

export function isWholeBody(body: unknown): body is WholeBody {
  return body instanceof WholeBody;
}

export class WholeBody extends Readable {
  /** The checked bytes, once they are all in. */
  #bytes: Buffer | undefined;
  #whole: Promise<Buffer>;
  #taken = false;

  constructor(req: IncomingMessage, tally: BodyTally, idleTimeoutMs: number) {
    super();
    // Consumers see errors through their own listeners; an abandoned body must not end the process.
    this.on('error', ignore);
    this.#whole = new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let done = false;
      const fail = (e: Error) => {
        if (done) return;
        done = true;
        req.setTimeout(0);
        reject(e);
        // Whatever the client still sends is read and dropped, so it can read the error answer.
        req.resume();
      };
      // A client that stops sending mid-body gets RequestTimeout, as from S3, instead of a hung socket.
      req.setTimeout(idleTimeoutMs, () => fail(new S3Error('RequestTimeout')));
      req.on('data', (c: Buffer) => {
        if (done) return;
        try {
          tally.update(c);
          chunks.push(c);
        } catch (e) {
          fail(e as Error);
        }
      });
      req.once('end', () => {
        if (done) return;
        try {
          tally.check();
        } catch (e) {
          fail(e as Error);
          return;
        }
        done = true;
        req.setTimeout(0);
        this.#bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        resolve(this.#bytes);
      });
      finished(req, (err) => { if (err) fail(new S3Error('IncompleteBody', undefined, { cause: err })); });
    });
    this.#whole.catch((e: Error) => this.destroy(e));
    // Paused while faults or CORS were decided: the body is read from here on.
    req.resume();
  }

  /** The checked bytes, once they are all in; rejects with the S3 error of a bad or incomplete body. */
  whole(): Promise<Buffer> {
    return this.#whole;
  }

  /** True once the bytes were handed on (pumped, or read as a stream). */
  get started(): boolean {
    return this.#taken;
  }

  /** Whether pumpTo() can take it (else read it as a stream). */
  pumpable(): boolean {
    return !this.#taken && !this.destroyed;
  }

  /**
   * Writes the whole body into `dest` — at once when it is all in, so a write corked with the
   * request's head goes out with it — and resolves; a bad or incomplete body destroys `dest`
   * (the upstream request is cut short, and discarded) and rejects with the S3 error.
   */
  pumpTo(dest: Socket): Promise<void> {
    this.#taken = true;
    const write = (b: Buffer) => {
      dest.write(b);
      this.push(null);
      this.resume(); // nobody reads this stream in pump mode: let it end
    };
    if (this.#bytes) {
      write(this.#bytes);
      return Promise.resolve();
    }
    return this.#whole.then(write, (e: Error) => {
      dest.destroy();
      throw e;
    });
  }

  override _read(): void {
    if (this.#taken) return;
    this.#taken = true;
    this.#whole.then((b) => {
      this.push(b);
      this.push(null);
    }, ignore);
  }
}

// Holds back the last chunk of an upload until the source ends cleanly. The front's verifier
// checks digests when its input ends, after it has passed every byte on; without this stage a
// body with a bad checksum would reach the backend complete (Content-Length satisfied) and be
// committed there, replacing a good object. Destroyed instead, the upstream request is short,
// and S3 discards an incomplete body.
// It also reads nothing until the upstream connection asks for the first bytes, so a backend
// that refuses the connection leaves the body untouched for another backend to take.
import { Readable } from 'node:stream';

export class HoldTail extends Readable {
  #source: Readable;
  #held: Buffer | undefined;
  #started = false;

  constructor(source: Readable) {
    super();
    this.#source = source;
  }

  /** True once any byte was taken from the source. */
  get started(): boolean {
    return this.#started;
  }

  override _read(): void {
    if (this.#started) {
      this.#source.resume();
      return;
    }
    this.#started = true;
    const src = this.#source;
    src.on('data', (chunk: Buffer) => {
      const prev = this.#held;
      this.#held = chunk;
      if (prev && !this.push(prev)) src.pause();
    });
    src.once('end', () => {
      if (this.#held) this.push(this.#held);
      this.#held = undefined;
      this.push(null);
    });
    src.once('error', (e) => this.destroy(e));
  }

  override _destroy(err: Error | null, done: (e?: Error | null) => void): void {
    // Untouched, the source stays usable (another backend may take it).
    if (this.#started && !this.#source.readableEnded) this.#source.destroy();
    done(err);
  }
}

export function holdTail(source: Readable): HoldTail {
  // An error before anything was read must still fail the upload.
  const out = new HoldTail(source);
  source.once('error', (e) => { if (!out.started) out.destroy(e); });
  return out;
}

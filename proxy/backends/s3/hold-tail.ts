// Holds back the last chunk of an upload until the source ends cleanly. The front's verifier
// checks digests when its input ends, after it has passed every byte on; without this stage a
// body with a bad checksum would reach the backend complete (Content-Length satisfied) and be
// committed there, replacing a good object. Destroyed instead, the upstream request is short,
// and S3 discards an incomplete body.
// It also reads nothing until the upstream connection asks for the first bytes, so a backend
// that refuses the connection leaves the body untouched for another backend to take.
import { Readable } from 'node:stream';

/**
 * A stage that takes nothing from its source until its own consumer first asks for bytes, so a
 * body nobody read stays usable elsewhere. Subclasses say what each chunk and the end become.
 */
export abstract class OnDemand extends Readable {
  #source: Readable;
  #started = false;

  constructor(source: Readable) {
    super();
    this.#source = source;
  }

  /** True once any byte was taken from the source. */
  get started(): boolean {
    return this.#started;
  }

  /** Handles a source chunk; false asks the source to pause. */
  protected abstract onChunk(chunk: Buffer): boolean;
  /** The source ended cleanly: push what is left, then null. */
  protected abstract onEnd(): void;

  override _read(): void {
    if (this.#started) {
      this.#source.resume();
      return;
    }
    this.#started = true;
    const src = this.#source;
    src.on('data', (chunk: Buffer) => { if (!this.onChunk(chunk)) src.pause(); });
    src.once('end', () => this.onEnd());
    src.once('error', (e) => this.destroy(e));
  }

  override _destroy(err: Error | null, done: (e?: Error | null) => void): void {
    // Untouched, the source stays usable (another backend may take it).
    if (this.#started && !this.#source.readableEnded) this.#source.destroy();
    done(err);
  }
}

export class HoldTail extends OnDemand {
  #held: Buffer | undefined;

  protected onChunk(chunk: Buffer): boolean {
    const prev = this.#held;
    this.#held = chunk;
    return prev ? this.push(prev) : true;
  }

  protected onEnd(): void {
    if (this.#held) this.push(this.#held);
    this.#held = undefined;
    this.push(null);
  }
}

export function holdTail(source: Readable): HoldTail {
  // An error before anything was read must still fail the upload.
  const out = new HoldTail(source);
  source.once('error', (e) => { if (!out.started) out.destroy(e); });
  return out;
}

// Holds back the last chunk of an upload until the source ends cleanly. The front's verifier
// checks digests when its input ends, after it has passed every byte on; without this stage a
// body with a bad checksum would reach the backend complete (Content-Length satisfied) and be
// committed there, replacing a good object. Destroyed instead, the upstream request is short,
// and S3 discards an incomplete body.
import { Transform, type Readable, type TransformCallback } from 'node:stream';

class HoldTail extends Transform {
  #held: Buffer | undefined;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const prev = this.#held;
    this.#held = chunk;
    done(null, prev);
  }

  override _flush(done: TransformCallback): void {
    done(null, this.#held);
  }
}

/** `source` piped through a tail-holding stage; errors of the source destroy the result. */
export function holdTail(source: Readable): Readable {
  const out = new HoldTail();
  source.on('error', (e) => out.destroy(e));
  out.on('close', () => { if (!source.readableEnded) source.destroy(); });
  source.pipe(out);
  return out;
}

// One client body into several backend PUTs at once (a write of W > 1 copies): every branch gets
// every chunk, and the source is read only as fast as the slowest live branch asks for more — no
// whole object is buffered. The source is read once, so the front's digest checks run once; its
// error (BadDigest, IncompleteBody…) destroys every branch, its end ends them.
//
// Nothing is taken from the source until the first branch (the first copy's backend) asks for
// bytes, so a backend that refuses the first copy before reading leaves the body untouched for
// another backend (write.ts). A branch destroyed (its PUT failed) stops holding the others back.
import { Readable } from 'node:stream';

export interface Tee {
  branches: Readable[];
  /** True once a byte was taken from the source. */
  readonly started: boolean;
}

export function tee(source: Readable, n: number): Tee {
  const live = new Set<Readable>();
  // Branches with a read outstanding: the source is read when every live one has one.
  const hungry = new Set<Readable>();
  let started = false;
  let ended = false;
  let attached = false;
  // The source is listened to only from the first branch's first read on.
  const attach = () => {
    attached = true;
    source.on('readable', pump);
    source.once('end', () => {
      ended = true;
      for (const b of live) b.push(null);
    });
    source.once('error', (e) => {
      for (const b of [...live]) b.destroy(e);
    });
    source.once('close', () => {
      if (ended) return;
      const e = new Error('the request body ended before it was complete');
      for (const b of [...live]) b.destroy(e);
    });
  };
  // Not re-entered: a push may make its branch ask again at once, before the others have the chunk.
  let pumping = false;
  const pump = () => {
    if (!attached || ended || pumping) return;
    pumping = true;
    try {
      while (live.size && [...live].every((b) => hungry.has(b))) {
        const chunk = source.read() as Buffer | null;
        if (chunk === null) return;
        started = true;
        for (const b of [...live]) {
          hungry.delete(b);
          b.push(chunk);
        }
      }
    } finally {
      pumping = false;
    }
  };
  const branches = Array.from({ length: n }, (_, i) => {
    const b: Readable = new Readable({
      read() {
        hungry.add(b);
        if (i === 0 && !attached) attach();
        pump();
      },
      destroy(err, done) {
        live.delete(b);
        hungry.delete(b);
        // What is left of the body goes to the others.
        queueMicrotask(pump);
        done(err);
      },
    });
    live.add(b);
    return b;
  });
  return { branches, get started() { return started; } };
}

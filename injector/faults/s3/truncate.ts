// Fault: truncated body. The headers still promise the full Content-Length; after `limit` bytes
// the connection is closed cleanly (FIN), so the client sees a premature end of body.
import type { Socket } from 'node:net';
import { Transform } from 'node:stream';

export function truncateAfter(limit: number, socket: () => Socket | null | undefined): Transform {
  let passed = 0;
  let done = false;
  // Close once the promised-but-short body has left the socket buffer: the peer then reads the
  // bytes followed by EOF (FIN), never a complete message.
  const cut = () => {
    const s = socket();
    if (!s || s.destroyed) return;
    if (s.writableLength === 0) s.destroy();
    else {
      s.once('drain', () => s.destroy());
      setTimeout(() => s.destroy(), 5000).unref();
    }
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (done) return cb();
      const room = limit - passed;
      if (chunk.length < room) { passed += chunk.length; return cb(null, chunk); }
      done = true;
      if (room > 0) this.push(chunk.subarray(0, room));
      setImmediate(cut);
      cb();
    },
    flush(cb) {
      // The body was shorter than the limit: still never send a complete response.
      if (!done) { done = true; setImmediate(cut); }
      cb();
    },
  });
}

export function truncateLimit(spec: { afterBytes?: number | string; fraction?: number }, contentLength: number | undefined, parse: (v: number | string) => number): number {
  if (spec.afterBytes !== undefined) return parse(spec.afterBytes);
  return Math.floor((spec.fraction ?? 0) * (contentLength ?? 0));
}

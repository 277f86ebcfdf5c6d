// Fault: connection reset. Before headers: RST right away. Mid-body: pass `afterBytes` bytes of
// the response body, then RST. A RST (not FIN) is what a crashed peer or middlebox produces.
import type { Socket } from 'node:net';
import { Transform } from 'node:stream';

export function resetSocket(socket: Socket | null | undefined): void {
  if (!socket || socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

export function resetAfter(bytes: number, socket: () => Socket | null | undefined): Transform {
  let passed = 0;
  let done = false;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (done) return cb();
      const room = bytes - passed;
      if (chunk.length < room) { passed += chunk.length; return cb(null, chunk); }
      done = true;
      if (room > 0) this.push(chunk.subarray(0, room));
      // Let the bytes reach the socket buffer before the reset.
      setImmediate(() => resetSocket(socket()));
      cb();
    },
  });
}

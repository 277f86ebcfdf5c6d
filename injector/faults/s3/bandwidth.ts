// Fault: bandwidth cap on the response body. Chunks are cut into ≤100 ms slices and released on a
// schedule, so the average rate holds from small objects to large ones.
import { Transform } from 'node:stream';

export function throttle(bytesPerSecond: number): Transform {
  const slice = Math.max(1, Math.floor(bytesPerSecond / 10));
  let start = 0;
  let sent = 0;
  return new Transform({
    highWaterMark: slice,
    transform(chunk: Buffer, _enc, cb) {
      if (start === 0) start = performance.now();
      const push = (off: number): void => {
        if (off >= chunk.length) return cb();
        const part = chunk.subarray(off, off + slice);
        sent += part.length;
        this.push(part);
        const due = start + (sent / bytesPerSecond) * 1000;
        const wait = due - performance.now();
        if (wait > 1) setTimeout(() => push(off + part.length), wait);
        else push(off + part.length);
      };
      push(0);
    },
  });
}

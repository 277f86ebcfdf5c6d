// Pacing for the migration: at most `objectsPerSecond` objects and `bytesPerSecond` bytes a
// second on average. Each object is let through at the later of the two times its budgets allow
// (the first at once), so a large object delays the ones after it instead of bursting past.

export interface RateLimiter {
  /** Resolves when an object of `bytes` may start; rejects when `signal` aborts first. */
  take(bytes: number, signal: AbortSignal): Promise<void>;
}

/** The pure part: how long an object of `bytes` asked for at `now` waits; books its budget. */
export function createPacer(objectsPerSecond: number | undefined, bytesPerSecond: number | undefined): (bytes: number, now: number) => number {
  let objectsFree = -Infinity;
  let bytesFree = -Infinity;
  return (bytes, now) => {
    const start = Math.max(now, objectsPerSecond ? objectsFree : now, bytesPerSecond ? bytesFree : now);
    // Booked from when it really starts: the next waits its share after this one, not after its own slot.
    if (objectsPerSecond) objectsFree = start + 1000 / objectsPerSecond;
    if (bytesPerSecond) bytesFree = start + (bytes * 1000) / bytesPerSecond;
    return start - now;
  };
}

export function createRateLimiter(objectsPerSecond: number | undefined, bytesPerSecond: number | undefined): RateLimiter {
  const pace = createPacer(objectsPerSecond, bytesPerSecond);
  return {
    async take(bytes, signal) {
      signal.throwIfAborted();
      const wait = pace(bytes, Date.now());
      if (wait <= 0) return;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, wait);
        const onAbort = () => { clearTimeout(timer); reject(signal.reason); };
        signal.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}

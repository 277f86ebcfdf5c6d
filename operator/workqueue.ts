// The controller-runtime work queue: keys, not events. A key waiting is queued once however often
// it is added; a key being worked on is never handed to a second worker — adding it meanwhile
// marks it dirty and it comes back after `done`. Failed keys come back after a per-key
// exponential delay, bounded overall by a token bucket so a storm of failures can't hammer the
// API server.

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): { unref?(): unknown } | unknown;
  clearTimeout(t: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout),
};

export interface WorkQueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Overall requeue rate for failures (token bucket). */
  qps?: number;
  burst?: number;
  clock?: Clock;
}

export interface WorkQueue {
  add(key: string): void;
  addAfter(key: string, ms: number): void;
  /** Requeues after this key's backoff (grows with each failure until `forget`). */
  addRateLimited(key: string): number;
  forget(key: string): void;
  failures(key: string): number;
  /** The next key, waiting for one; undefined once shut down. */
  get(): Promise<string | undefined>;
  done(key: string): void;
  readonly length: number;
  readonly processing: number;
  shutDown(): void;
}

export function createWorkQueue(o: WorkQueueOptions = {}): WorkQueue {
  const clock = o.clock ?? realClock;
  const baseDelayMs = o.baseDelayMs ?? 500;
  const maxDelayMs = o.maxDelayMs ?? 5 * 60_000;
  const qps = o.qps ?? 10;
  const burst = o.burst ?? 100;
  const queue: string[] = [];
  const queued = new Set<string>();
  const active = new Set<string>();
  const dirty = new Set<string>();
  const timers = new Map<string, { at: number; timer: unknown }>();
  const failureCount = new Map<string, number>();
  const waiters: ((k: string | undefined) => void)[] = [];
  let tokens = burst;
  let tokensAt = clock.now();
  let down = false;

  function add(key: string): void {
    if (down) return;
    if (active.has(key)) {
      dirty.add(key);
      return;
    }
    if (queued.has(key)) return;
    const w = waiters.shift();
    if (w) {
      active.add(key);
      w(key);
      return;
    }
    queued.add(key);
    queue.push(key);
  }

  function addAfter(key: string, ms: number): void {
    if (down) return;
    if (ms <= 0) return add(key);
    const at = clock.now() + ms;
    const existing = timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clock.clearTimeout(existing.timer);
    const timer = clock.setTimeout(() => {
      timers.delete(key);
      add(key);
    }, ms);
    timers.set(key, { at, timer });
  }

  /** Delay until the overall bucket has a token for one more requeue. */
  function bucketDelay(): number {
    const now = clock.now();
    tokens = Math.min(burst, tokens + ((now - tokensAt) / 1000) * qps);
    tokensAt = now;
    tokens -= 1;
    return tokens >= 0 ? 0 : Math.ceil((-tokens / qps) * 1000);
  }

  return {
    add,
    addAfter,
    addRateLimited(key) {
      const n = failureCount.get(key) ?? 0;
      failureCount.set(key, n + 1);
      const delay = Math.max(Math.min(maxDelayMs, baseDelayMs * 2 ** n), bucketDelay());
      addAfter(key, delay);
      return delay;
    },
    forget: (key) => { failureCount.delete(key); },
    failures: (key) => failureCount.get(key) ?? 0,
    get() {
      if (down) return Promise.resolve(undefined);
      const key = queue.shift();
      if (key !== undefined) {
        queued.delete(key);
        active.add(key);
        return Promise.resolve(key);
      }
      return new Promise((resolve) => waiters.push(resolve));
    },
    done(key) {
      active.delete(key);
      if (dirty.delete(key)) add(key);
    },
    get length() { return queue.length; },
    get processing() { return active.size; },
    shutDown() {
      down = true;
      for (const t of timers.values()) clock.clearTimeout(t.timer);
      timers.clear();
      for (const w of waiters.splice(0)) w(undefined);
    },
  };
}

// Backend health: active probes on a timer plus passive reports from real traffic. A backend is
// marked down only after `failureThreshold` consecutive failures (one refused connection is not
// an outage) and up again only after `recoveryThreshold` consecutive successful probes (a
// backend that flaps does not take writes on its first good answer). Down backends are probed
// more often, so recovery is noticed quickly.

export interface HealthOptions {
  /** Probe period for backends that are up. */
  intervalMs: number;
  /** Probe period for backends that are down. */
  recoveryIntervalMs: number;
  failureThreshold: number;
  recoveryThreshold: number;
  probeTimeoutMs: number;
}

export const DEFAULT_HEALTH: HealthOptions = { intervalMs: 5_000, recoveryIntervalMs: 1_000, failureThreshold: 3, recoveryThreshold: 2, probeTimeoutMs: 5_000 };

export type Probe = (signal: AbortSignal) => Promise<void>;

export interface BackendHealth {
  name: string;
  state: 'up' | 'down';
  /** When the state last changed (or monitoring began). */
  since: Date;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** Smoothed latency of successful probes and requests, in ms. */
  latencyMs?: number;
  lastProbe?: Date;
  lastError?: string;
  failures: number;
}

export interface HealthMonitor {
  /** Replaces the set of backends; state of names that stay is kept. */
  setBackends(backends: { name: string; probe: Probe }[]): void;
  healthy(name: string): boolean;
  get(name: string): BackendHealth | undefined;
  snapshot(): BackendHealth[];
  reportSuccess(name: string, latencyMs?: number): void;
  reportFailure(name: string, error: unknown): void;
  /** Probes every backend now; resolves when all answered or timed out. */
  probeAll(): Promise<void>;
  onChange(listener: (h: BackendHealth) => void): void;
  start(): void;
  stop(): void;
}

function describe(e: unknown): string {
  const err = e as { message?: string; code?: string };
  return [err.code, err.message].filter(Boolean).join(': ') || String(e);
}

export function createHealthMonitor(options: Partial<HealthOptions> = {}): HealthMonitor {
  const o: HealthOptions = { ...DEFAULT_HEALTH, ...options };
  const states = new Map<string, BackendHealth>();
  const probes = new Map<string, Probe>();
  const inFlight = new Set<string>();
  const listeners: ((h: BackendHealth) => void)[] = [];
  let timer: NodeJS.Timeout | undefined;
  let lastRound = new Map<string, number>();

  const fresh = (name: string): BackendHealth => ({ name, state: 'up', since: new Date(), consecutiveFailures: 0, consecutiveSuccesses: 0, failures: 0 });

  function transition(h: BackendHealth, state: 'up' | 'down'): void {
    if (h.state === state) return;
    h.state = state;
    h.since = new Date();
    for (const l of listeners) l({ ...h });
  }

  function success(name: string, latencyMs?: number): void {
    const h = states.get(name);
    if (!h) return;
    h.consecutiveFailures = 0;
    h.consecutiveSuccesses++;
    if (latencyMs !== undefined) h.latencyMs = h.latencyMs === undefined ? latencyMs : h.latencyMs * 0.8 + latencyMs * 0.2;
    if (h.state === 'down' && h.consecutiveSuccesses >= o.recoveryThreshold) transition(h, 'up');
  }

  function failure(name: string, error: unknown): void {
    const h = states.get(name);
    if (!h) return;
    h.consecutiveSuccesses = 0;
    h.consecutiveFailures++;
    h.failures++;
    h.lastError = describe(error);
    if (h.state === 'up' && h.consecutiveFailures >= o.failureThreshold) transition(h, 'down');
  }

  async function probeOne(name: string): Promise<void> {
    const probe = probes.get(name);
    if (!probe || inFlight.has(name)) return;
    inFlight.add(name);
    const started = performance.now();
    const ac = new AbortController();
    const t = setTimeout(() => ac.abort(new Error(`probe timed out after ${o.probeTimeoutMs} ms`)), o.probeTimeoutMs);
    try {
      await Promise.race([probe(ac.signal), new Promise((_, reject) => ac.signal.addEventListener('abort', () => reject(ac.signal.reason)))]);
      success(name, performance.now() - started);
    } catch (e) {
      failure(name, e);
    } finally {
      clearTimeout(t);
      inFlight.delete(name);
      const h = states.get(name);
      if (h) h.lastProbe = new Date();
      lastRound.set(name, Date.now());
    }
  }

  function tick(): void {
    const now = Date.now();
    for (const [name, h] of states) {
      const period = h.state === 'down' ? o.recoveryIntervalMs : o.intervalMs;
      if (now - (lastRound.get(name) ?? 0) >= period) void probeOne(name);
    }
  }

  return {
    setBackends(backends) {
      const names = new Set(backends.map((b) => b.name));
      for (const n of [...states.keys()]) if (!names.has(n)) { states.delete(n); probes.delete(n); lastRound.delete(n); }
      for (const b of backends) {
        if (!states.has(b.name)) states.set(b.name, fresh(b.name));
        probes.set(b.name, b.probe);
      }
    },
    healthy: (name) => states.get(name)?.state !== 'down',
    get: (name) => { const h = states.get(name); return h && { ...h }; },
    snapshot: () => [...states.values()].map((h) => ({ ...h })),
    reportSuccess: success,
    reportFailure: failure,
    async probeAll() {
      await Promise.all([...states.keys()].map(probeOne));
    },
    onChange(l) { listeners.push(l); },
    start() {
      if (timer) return;
      lastRound = new Map();
      // A fine-grained tick; each backend is probed on its own period.
      timer = setInterval(tick, Math.max(50, Math.min(o.intervalMs, o.recoveryIntervalMs) / 4));
      timer.unref();
      tick();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

// The set of active faults of one injector (gateway or sidecar). Every activation has an absolute
// expiry and optionally a lease; a sweep timer reverts the ones past either, and `active()` also
// drops them lazily so a request never sees an expired fault. Starting and stopping the effects
// (resource faults) goes through the `effects` hooks; the registry guarantees stop is called once.
import { activate, endReason, type Activation } from './activation.ts';
import type { FaultSpec } from './model.ts';

export type EndReason = 'expired' | 'lease-lost' | 'stopped' | 'kill-switch' | 'failed' | 'shutdown';

export interface Effects {
  /**
   * Called before the activation becomes visible; throwing refuses the fault. When `signal`
   * aborts (the injector is shutting down) the effect must undo what it did so far and throw.
   */
  start(a: Activation, signal?: AbortSignal): Promise<void>;
  /** Must not throw; called exactly once per started activation. */
  stop(a: Activation, reason: EndReason): Promise<void>;
}

export interface RegistryOptions {
  defaultDurationMs: number;
  maxDurationMs: number;
  sweepMs?: number;
  now?: () => number;
  effects?: Effects;
  onEnd?: (a: Activation, reason: EndReason) => void;
  onStart?: (a: Activation) => void;
}

export class ConflictError extends Error {
  override name = 'ConflictError';
}

/** A fault that validates but cannot be activated as given ("field: why"; reported as 400). */
export class InvalidFaultError extends Error {
  override name = 'InvalidFaultError';
}

export class FaultRegistry {
  #faults = new Map<string, Activation>();
  #ending = new Set<string>();
  /** Activations whose effects are still starting, by id: the id is taken from the first await on. */
  #starting = new Map<string, { spec: FaultSpec; done: Promise<unknown>; abort: AbortController }>();
  #closed = false;
  #opts: RegistryOptions;
  #now: () => number;
  #timer: NodeJS.Timeout;

  constructor(opts: RegistryOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#timer = setInterval(() => void this.sweep(), opts.sweepMs ?? 200);
    this.#timer.unref();
  }

  /**
   * Adds a fault. The same id with the same spec is a no-op (idempotent inject), also while the
   * first inject is still starting its effect; a different spec conflicts (409).
   */
  async add(spec: FaultSpec): Promise<{ activation: Activation; created: boolean }> {
    if (this.#closed) throw new ConflictError('the injector is shutting down');
    if (spec.id !== undefined) {
      const starting = this.#starting.get(spec.id);
      if (starting) {
        if (JSON.stringify(starting.spec) !== JSON.stringify(spec)) throw new ConflictError(`fault ${spec.id} is being started with a different spec`);
        await starting.done.catch(() => {});
        return this.add(spec);
      }
      const existing = this.#faults.get(spec.id);
      if (existing) {
        if (JSON.stringify(existing.spec) === JSON.stringify(spec)) return { activation: existing, created: false };
        throw new ConflictError(`fault ${spec.id} is already active with a different spec`);
      }
    }
    const now = this.#now();
    if (spec.expiresAt !== undefined && Date.parse(spec.expiresAt) <= now) throw new InvalidFaultError(`expiresAt: ${spec.expiresAt} has already passed`);
    const a = activate(spec, { now, defaultDurationMs: this.#opts.defaultDurationMs, maxDurationMs: this.#opts.maxDurationMs });
    if (this.#faults.has(a.id) || this.#starting.has(a.id)) throw new ConflictError(`fault ${a.id} is already active`);
    const abort = new AbortController();
    const done = Promise.resolve().then(() => this.#opts.effects?.start(a, abort.signal));
    this.#starting.set(a.id, { spec, done, abort });
    try {
      await done;
    } finally {
      this.#starting.delete(a.id);
    }
    if (abort.signal.aborted) {
      // Started although asked to stop: revert at once, never make it visible.
      await this.#opts.effects?.stop(a, 'shutdown');
      throw new ConflictError('the injector is shutting down');
    }
    this.#faults.set(a.id, a);
    this.#opts.onStart?.(a);
    return { activation: a, created: true };
  }

  get(id: string): Activation | undefined {
    return this.#faults.get(id);
  }

  /** Faults held, expired ones included until swept: 0 means no request can match (the fast path). */
  get size(): number {
    return this.#faults.size;
  }

  list(): Activation[] {
    return [...this.#faults.values()];
  }

  /** Active faults in injection order, after dropping expired ones. */
  active(): Activation[] {
    const now = this.#now();
    const out: Activation[] = [];
    for (const a of this.#faults.values()) {
      const why = endReason(a, now);
      if (why) void this.remove(a.id, why);
      else out.push(a);
    }
    return out;
  }

  async remove(id: string, reason: EndReason): Promise<boolean> {
    const a = this.#faults.get(id);
    if (!a || this.#ending.has(id)) return false;
    this.#ending.add(id);
    this.#faults.delete(id);
    try {
      await this.#opts.effects?.stop(a, reason);
    } finally {
      this.#ending.delete(id);
      this.#opts.onEnd?.(a, reason);
    }
    return true;
  }

  async clear(reason: EndReason): Promise<number> {
    const ids = [...this.#faults.keys()];
    const done = await Promise.all(ids.map((id) => this.remove(id, reason)));
    return done.filter(Boolean).length;
  }

  /** Renews the lease of the given faults (all when omitted); returns how many were renewed. */
  heartbeat(ids?: readonly string[]): number {
    const now = this.#now();
    let n = 0;
    for (const a of this.#faults.values()) {
      if (ids && !ids.includes(a.id)) continue;
      a.lastHeartbeat = now;
      n++;
    }
    return n;
  }

  async sweep(): Promise<void> {
    const now = this.#now();
    await Promise.all([...this.#faults.values()].map((a) => {
      const why = endReason(a, now);
      return why ? this.remove(a.id, why) : undefined;
    }));
  }

  /** Reverts every fault, including those still starting (aborted and undone), and refuses new ones. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    const starting = [...this.#starting.values()];
    for (const s of starting) s.abort.abort();
    await Promise.all(starting.map((s) => s.done.catch(() => {})));
    await this.clear('shutdown');
  }
}

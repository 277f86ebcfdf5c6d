// The live configuration as a generation: opened backends, virtual buckets with their
// balancers. A reload builds the next generation, reusing every backend whose settings did not
// change; requests hold the generation they started on until they finish (a GET until its body
// is done), and backends dropped by the reload close only when the last such request ends.
import { createBalancer, type Balancer } from '../balancer/index.ts';
import type { BalancingConfig, VirtualBucketConfig } from './config.ts';
import { selectBackends } from './config.ts';
import { backendFingerprint, openBackend, type BackendHandle } from './backends.ts';

export interface VirtualBucketRuntime {
  name: string;
  config: VirtualBucketConfig;
  /** Backend names in configuration order. */
  backends: string[];
  balancer: Balancer;
  created: Date;
}

export interface Generation {
  id: number;
  config: BalancingConfig;
  backends: Map<string, BackendHandle>;
  buckets: Map<string, VirtualBucketRuntime>;
}

export interface Runtime {
  current(): Generation;
  /** The current generation, held until `release` is called. */
  enter(): { gen: Generation; release: () => void };
  reload(config: BalancingConfig): Promise<Generation>;
  close(): Promise<void>;
}

interface Held {
  gen: Generation;
  refs: number;
  retired: boolean;
  /** Set on retirement: closes the backends the next generation does not use. */
  finish?: () => void;
  drained: Promise<void>;
  markDrained: () => void;
}

export async function createRuntime(config: BalancingConfig, onRetire?: (dropped: BackendHandle[]) => void): Promise<Runtime> {
  const created = new Map<string, Date>();
  let id = 0;

  async function build(cfg: BalancingConfig, prev?: Generation): Promise<Generation> {
    const backends = new Map<string, BackendHandle>();
    const opened: BackendHandle[] = [];
    try {
      for (const b of cfg.backends) {
        const old = prev?.backends.get(b.name);
        if (old && old.fingerprint === backendFingerprint(b, cfg.timeouts)) {
          // Same connection settings: keep the open pools; capacity and weight come from the new config.
          backends.set(b.name, { ...old, config: b });
        } else {
          const fresh = await openBackend(b, cfg.timeouts);
          opened.push(fresh);
          backends.set(b.name, fresh);
        }
      }
    } catch (e) {
      await Promise.all(opened.map((h) => h.close().catch(() => {})));
      throw e;
    }
    const buckets = new Map<string, VirtualBucketRuntime>();
    for (const v of cfg.virtualBuckets) {
      const names = selectBackends(cfg.backends, v).map((b) => b.name);
      const old = prev?.buckets.get(v.name);
      const same = old && old.config.strategy === v.strategy && old.backends.join('\n') === names.join('\n');
      if (!created.has(v.name)) created.set(v.name, new Date());
      buckets.set(v.name, { name: v.name, config: v, backends: names, balancer: same ? old.balancer : createBalancer(v.strategy), created: created.get(v.name)! });
    }
    return { id: ++id, config: cfg, backends, buckets };
  }

  const hold = (gen: Generation): Held => {
    let markDrained!: () => void;
    const drained = new Promise<void>((r) => { markDrained = r; });
    return { gen, refs: 0, retired: false, drained, markDrained };
  };

  let live = hold(await build(config));

  function retire(h: Held, next: Generation | undefined): void {
    h.retired = true;
    let done = false;
    h.finish = () => {
      if (done) return;
      done = true;
      const kept = new Set(next ? [...next.backends.values()].map((b) => b.store) : []);
      const dropped = [...h.gen.backends.values()].filter((b) => !kept.has(b.store));
      onRetire?.(dropped);
      void Promise.all(dropped.map((b) => b.close().catch(() => {}))).then(h.markDrained);
    };
    if (h.refs === 0) h.finish();
  }

  return {
    current: () => live.gen,
    enter() {
      const h = live;
      h.refs++;
      let released = false;
      return {
        gen: h.gen,
        release() {
          if (released) return;
          released = true;
          h.refs--;
          if (h.retired && h.refs === 0) h.finish?.();
        },
      };
    },
    async reload(cfg) {
      const next = await build(cfg, live.gen);
      const old = live;
      live = hold(next);
      retire(old, next);
      return next;
    },
    async close() {
      const h = live;
      retire(h, undefined);
      // Requests still holding the generation get a grace period, then their backends close anyway.
      const grace = setTimeout(() => h.finish?.(), 5_000);
      await h.drained;
      clearTimeout(grace);
    },
  };
}

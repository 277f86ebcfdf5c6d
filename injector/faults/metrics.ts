// Fault metrics on their own prom-client registry, so the gateway can merge them into its own
// (`Registry.merge`) and the sidecar can serve them alone.
import { Counter, Gauge, Registry } from 'prom-client';
import type { Activation } from './activation.ts';

export interface FaultMetrics {
  registry: Registry;
  injections: Counter<'kind' | 'outcome'>;
  activations: Counter<'kind' | 'outcome'>;
}

export function createFaultMetrics(active: () => readonly Activation[]): FaultMetrics {
  const registry = new Registry();
  new Gauge({
    name: 'floodgate_faults_active', help: 'Faults currently active, by kind.', labelNames: ['kind'], registers: [registry],
    collect() {
      this.reset();
      for (const a of active()) this.inc({ kind: a.spec.kind });
    },
  });
  const injections = new Counter({ name: 'floodgate_fault_injections_total', help: 'Per-request fault decisions on matching requests, by kind and outcome (fired, skipped).', labelNames: ['kind', 'outcome'], registers: [registry] });
  const activations = new Counter({ name: 'floodgate_fault_activations_total', help: 'Fault activations started and ended, by kind and outcome (started, refused, expired, lease-lost, stopped, kill-switch, shutdown).', labelNames: ['kind', 'outcome'], registers: [registry] });
  return { registry, injections, activations };
}

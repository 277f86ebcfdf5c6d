// FaultExperiments as Prometheus series, read from the informer cache at scrape time: the phase
// each is in, and when it started and must end. A dashboard draws experiment windows from the
// timestamps; an alert fires on one still Running past its expiresAt (a stuck experiment).
// Labels are experiment_namespace/experiment, not namespace/name: Prometheus sets `namespace` to
// the scraped pod's, which would rename ours to exported_namespace.
import { Gauge, type Registry } from 'prom-client';
import type { KubeObject } from './kube/types.ts';

interface ExperimentStatus {
  phase?: string;
  startTime?: string;
  expiresAt?: string;
}

const seconds = (t: string | undefined) => {
  const ms = t === undefined ? NaN : Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms / 1000;
};

/** `experiments` returns undefined while this replica does not lead (its cache is not running). */
export function registerExperimentMetrics(registry: Registry, experiments: () => readonly KubeObject[] | undefined): void {
  const each = (fn: (labels: { experiment_namespace: string; experiment: string }, s: ExperimentStatus) => void) => {
    for (const fx of experiments() ?? []) {
      fn({ experiment_namespace: fx.metadata.namespace ?? '', experiment: fx.metadata.name }, ((fx as { status?: ExperimentStatus }).status ?? {}));
    }
  };
  new Gauge({
    name: 'floodgate_fault_experiment_phase', help: '1 for the phase each FaultExperiment is in (Pending, Running, Completed, Aborted, Failed)',
    labelNames: ['experiment_namespace', 'experiment', 'phase'], registers: [registry],
    collect() {
      this.reset();
      each((l, s) => this.set({ ...l, phase: s.phase ?? 'Pending' }, 1));
    },
  });
  const timestamp = (name: string, help: string, field: 'startTime' | 'expiresAt') => new Gauge({
    name, help, labelNames: ['experiment_namespace', 'experiment'], registers: [registry],
    collect() {
      this.reset();
      each((l, s) => {
        const v = seconds(s[field]);
        if (v !== undefined) this.set(l, v);
      });
    },
  });
  timestamp('floodgate_fault_experiment_start_timestamp_seconds', 'When the FaultExperiment first injected (status.startTime), Unix seconds', 'startTime');
  timestamp('floodgate_fault_experiment_expires_timestamp_seconds', 'The absolute expiry of its activations (status.expiresAt), Unix seconds', 'expiresAt');
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { registerExperimentMetrics } from './experiment-metrics.ts';
import type { KubeObject } from './kube/types.ts';

const fx = (name: string, status: object): KubeObject => ({ apiVersion: 'floodgate.dev/v1alpha1', kind: 'FaultExperiment', metadata: { name, namespace: 'apps' }, status } as KubeObject);

test('each experiment exports its phase and, once known, its start and expiry as Unix seconds', async () => {
  const registry = new Registry();
  let list: KubeObject[] | undefined = [
    fx('slow', { phase: 'Running', startTime: '2026-01-01T00:00:00Z', expiresAt: '2026-01-01T00:05:00Z' }),
    fx('new', {}),
  ];
  registerExperimentMetrics(registry, () => list);
  const text = await registry.metrics();
  assert.match(text, /floodgate_fault_experiment_phase\{experiment_namespace="apps",experiment="slow",phase="Running"\} 1/);
  assert.match(text, /floodgate_fault_experiment_phase\{experiment_namespace="apps",experiment="new",phase="Pending"\} 1/);
  assert.match(text, /floodgate_fault_experiment_expires_timestamp_seconds\{experiment_namespace="apps",experiment="slow"\} 1767225900/);
  assert.doesNotMatch(text, /start_timestamp_seconds\{experiment_namespace="apps",experiment="new"\}/);
  list = undefined; // a standby replica has no cache: no series rather than stale ones
  assert.doesNotMatch(await registry.metrics(), /experiment="slow"/);
});

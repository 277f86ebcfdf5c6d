import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Informer } from '../kube/informer.ts';
import type { KubeObject } from '../kube/types.ts';
import { experimentChanged, onPod, podChanged } from './wiring.ts';

const fx = (over: Partial<KubeObject['metadata']> = {}, status: object = {}): KubeObject => ({ metadata: { name: 'fx', namespace: 'apps', generation: 1, ...over }, status });

test('an experiment is enqueued on spec, deletion, finalizer and abort changes — not on its own status writes', () => {
  const base = fx();
  assert.ok(experimentChanged(base, undefined));
  assert.ok(!experimentChanged({ ...base, status: { phase: 'Running' } }, base), 'status only');
  assert.ok(experimentChanged(fx({ generation: 2 }), base));
  assert.ok(experimentChanged(fx({ deletionTimestamp: '2026-01-01T00:00:00Z' }), base));
  assert.ok(experimentChanged(fx({ finalizers: ['floodgate.dev/revert-faults'] }), base));
  assert.ok(experimentChanged(fx({ annotations: { 'floodgate.io/abort': 'true' } }), base));
  assert.ok(!experimentChanged(fx({ annotations: { other: 'x' } }), base));
});

test('a pod change that matters enqueues the unfinished experiments of its namespace only', () => {
  const pod = (phase: string, ip?: string): KubeObject => ({ metadata: { name: 'p', namespace: 'apps', labels: { app: 'web' } }, status: { phase, podIP: ip } });
  assert.ok(podChanged(pod('Running', '10.0.0.1'), pod('Pending')));
  assert.ok(!podChanged(pod('Running', '10.0.0.1'), pod('Running', '10.0.0.1')));
  const list = [fx({ name: 'running' }, { phase: 'Running' }), fx({ name: 'done' }, { phase: 'Completed' }), fx({ name: 'new' })];
  const informer = { list: (ns?: string) => (ns === 'apps' ? list : []) } as unknown as Informer;
  const added: string[] = [];
  onPod((k) => added.push(k), informer, pod('Running', '10.0.0.1'), pod('Pending'));
  assert.deepEqual(added, ['apps/running', 'apps/new']);
});

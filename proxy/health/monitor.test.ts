import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { createHealthMonitor, type BackendHealth } from './monitor.ts';
import { registerBackendMetrics } from './metrics.ts';

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('passive failures mark a backend down only after the threshold; successes reset the count', () => {
  const m = createHealthMonitor({ failureThreshold: 3, recoveryThreshold: 2 });
  m.setBackends([{ name: 'a', probe: async () => {} }]);
  m.reportFailure('a', new Error('x'));
  m.reportFailure('a', new Error('x'));
  m.reportSuccess('a', 5);
  m.reportFailure('a', new Error('x'));
  m.reportFailure('a', new Error('x'));
  assert.equal(m.healthy('a'), true);
  m.reportFailure('a', Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
  assert.equal(m.healthy('a'), false);
  assert.equal(m.get('a')!.lastError, 'ECONNREFUSED: refused');
  assert.equal(m.get('a')!.failures, 5);
  m.reportSuccess('a');
  assert.equal(m.healthy('a'), false, 'one success does not bring it back');
  m.reportSuccess('a');
  assert.equal(m.healthy('a'), true);
  assert.equal(m.healthy('unknown'), true);
});

test('active probes against a real server: down when it stops answering, up again after it returns', async () => {
  let server: Server | undefined;
  const start = async (port = 0) => {
    server = createServer((_req, res) => res.writeHead(200).end());
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
    return (server.address() as AddressInfo).port;
  };
  const port = await start();
  const m = createHealthMonitor({ intervalMs: 40, recoveryIntervalMs: 40, failureThreshold: 2, recoveryThreshold: 2, probeTimeoutMs: 1000 });
  const changes: BackendHealth['state'][] = [];
  m.onChange((h) => changes.push(h.state));
  m.setBackends([{
    name: 'real',
    probe: async (signal) => {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal });
      if (!res.ok) throw new Error(`status ${res.status}`);
    },
  }]);
  m.start();
  try {
    await until(() => m.get('real')!.latencyMs !== undefined, 'a first probe');
    assert.equal(m.healthy('real'), true);
    server!.closeAllConnections();
    await new Promise<void>((r) => server!.close(() => r()));
    await until(() => !m.healthy('real'), 'marked down');
    assert.match(m.get('real')!.lastError!, /fetch failed|ECONNREFUSED/);
    await start(port);
    await until(() => m.healthy('real'), 'recovered');
    assert.deepEqual(changes, ['down', 'up']);
  } finally {
    m.stop();
    server?.closeAllConnections();
    server?.close();
  }
});

test('a probe that hangs times out and counts as a failure', async () => {
  const m = createHealthMonitor({ failureThreshold: 1, probeTimeoutMs: 50 });
  m.setBackends([{ name: 'hang', probe: () => new Promise(() => {}) }]);
  await m.probeAll();
  assert.equal(m.healthy('hang'), false);
  assert.match(m.get('hang')!.lastError!, /timed out/);
});

test('setBackends keeps the state of backends that stay and forgets removed ones', () => {
  const m = createHealthMonitor({ failureThreshold: 1 });
  m.setBackends([{ name: 'a', probe: async () => {} }, { name: 'b', probe: async () => {} }]);
  m.reportFailure('a', new Error('x'));
  m.setBackends([{ name: 'a', probe: async () => {} }, { name: 'c', probe: async () => {} }]);
  assert.equal(m.healthy('a'), false);
  assert.deepEqual(m.snapshot().map((h) => h.name).sort(), ['a', 'c']);
});

test('metrics expose state and capacity per backend', async () => {
  const registry = new Registry();
  registerBackendMetrics(registry, async () => ({
    generatedAt: new Date().toISOString(), configGeneration: 1, virtualBuckets: [],
    backends: [
      { name: 'a', kind: 's3', location: 'http://x', state: 'up', since: '', failures: 0, usedBytes: 10, objects: 2, maxSize: 100, freeBytes: 90, weight: 1, labels: {}, latencyMs: 5 },
      { name: 'b', kind: 'fs', location: '/d', state: 'down', since: '', failures: 3, usedBytes: 0, objects: 0, weight: 1, labels: {} },
    ],
  }));
  const text = await registry.metrics();
  assert.match(text, /floodgate_backend_up\{backend="a"\} 1/);
  assert.match(text, /floodgate_backend_up\{backend="b"\} 0/);
  assert.match(text, /floodgate_backend_free_bytes\{backend="a"\} 90/);
  assert.match(text, /floodgate_backend_latency_seconds\{backend="a"\} 0.005/);
  assert.doesNotMatch(text, /floodgate_backend_capacity_bytes\{backend="b"\}/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activate, endReason } from './activation.ts';
import { decide } from './decide.ts';
import { matches, type RequestInfo } from './match.ts';
import { FaultSpec, type FaultSpecInput } from './model.ts';

const opts = { now: 1_000_000, defaultDurationMs: 60_000, maxDurationMs: 3_600_000 };
const act = (s: FaultSpecInput) => activate(FaultSpec.parse(s), opts);
const req = (over: Partial<RequestInfo> = {}): RequestInfo => ({ operation: 'GetObject', method: 'GET', bucket: 'b', key: 'logs/2024/a.txt', headers: {}, requestId: 'r', ...over });

test('firstN fires on the first N matching requests only', () => {
  const a = act({ kind: 'error', code: 'SlowDown', status: 503, trigger: { firstN: 2 } });
  const out = Array.from({ length: 5 }, () => decide([a], req()).terminal?.faultId !== undefined);
  assert.deepEqual(out, [true, true, false, false, false]);
});

test('everyNth fires on the Nth, 2Nth, … matching request', () => {
  const a = act({ kind: 'stall', trigger: { everyNth: 3 } });
  const out = Array.from({ length: 7 }, () => decide([a], req()).fired.length);
  assert.deepEqual(out, [0, 0, 1, 0, 0, 1, 0]);
});

test('probability stays within statistical bounds and the same seed replays the same decisions', () => {
  const run = (seed: number) => {
    const a = act({ kind: 'error', code: 'InternalError', status: 500, trigger: { probability: 0.3, seed } });
    return Array.from({ length: 4000 }, () => decide([a], req()).fired.length);
  };
  const first = run(42);
  const hits = first.reduce((s, x) => s + x, 0);
  // 4000 trials at p=0.3: sd ≈ 29, so ±5 sd is 3855..4145 → 1055..1345 hits.
  assert.ok(hits > 1055 && hits < 1345, `hits=${hits}`);
  assert.deepEqual(run(42), first);
  assert.notDeepEqual(run(43), first);
});

test('latency jitter is drawn from the seed and stays within ms ± jitterMs', () => {
  const delays = (seed: number) => {
    const a = act({ kind: 'latency', ms: 100, jitterMs: 50, trigger: { seed } });
    return Array.from({ length: 200 }, () => decide([a], req()).delayMs);
  };
  const d = delays(1);
  assert.ok(d.every((x) => x >= 50 && x <= 150));
  assert.ok(new Set(d).size > 20);
  assert.deepEqual(delays(1), d);
});

test('afterBytes keeps a fault dormant until enough bytes have passed', () => {
  const a = act({ kind: 'reset', trigger: { afterBytes: '1Ki' } });
  assert.equal(decide([a], req()).fired.length, 0);
  a.state.bytes += 1024;
  assert.equal(decide([a], req()).fired.length, 1);
});

test('the first terminal fault wins; latency adds up; body faults keep their order', () => {
  const faults = [
    act({ kind: 'latency', ms: 10 }), act({ kind: 'truncate', fraction: 0.5 }), act({ kind: 'latency', ms: 5 }),
    act({ kind: 'error', code: 'SlowDown', status: 503 }), act({ kind: 'stall' }), act({ kind: 'corrupt' }),
  ];
  const d = decide(faults, req());
  assert.equal(d.delayMs, 15);
  assert.equal(d.terminal?.spec.kind, 'error');
  assert.deepEqual(d.body.map((f) => f.spec.kind), ['truncate', 'corrupt']);
});

test('match criteria: operation, method, bucket, prefix, glob, header, backend', () => {
  const m = (s: object) => FaultSpec.parse({ kind: 'stall', match: s }).match;
  assert.ok(matches(m({ operations: ['GetObject', 'HeadObject'] }), req()));
  assert.ok(!matches(m({ operations: ['PutObject'] }), req()));
  assert.ok(!matches(m({ methods: ['PUT'] }), req()));
  assert.ok(matches(m({ buckets: ['b'] }), req()));
  assert.ok(!matches(m({ buckets: ['c'] }), req({ bucket: undefined })));
  assert.ok(matches(m({ keyPrefix: 'logs/' }), req()));
  assert.ok(!matches(m({ keyPrefix: 'data/' }), req()));
  assert.ok(matches(m({ keyGlob: 'logs/**/*.txt' }), req()));
  assert.ok(!matches(m({ keyGlob: 'logs/*.txt' }), req()));
  assert.ok(matches(m({ keyGlob: 'logs/202?/a.*' }), req()));
  assert.ok(matches(m({ headers: { 'X-Tenant': 'blue' } }), req({ headers: { 'x-tenant': 'blue' } })));
  assert.ok(!matches(m({ headers: { 'X-Tenant': 'blue' } }), req({ headers: { 'x-tenant': 'red' } })));
  assert.ok(matches(m({ headers: { 'x-tenant': '*' } }), req({ headers: { 'x-tenant': 'red' } })));
  assert.ok(!matches(m({ backends: ['minio-a'] }), req()));
  assert.ok(matches(m({ backends: ['minio-a'] }), req({ backend: 'minio-a' })));
});

test('expiry is absolute and the lease ends an activation whose heartbeats stopped', () => {
  const a = act({ kind: 'stall', duration: '10s', lease: '2s' });
  assert.equal(a.expiresAt, opts.now + 10_000);
  assert.equal(endReason(a, opts.now + 1000), undefined);
  assert.equal(endReason(a, opts.now + 2001), 'lease-lost');
  a.lastHeartbeat = opts.now + 2000;
  assert.equal(endReason(a, opts.now + 3000), undefined);
  assert.equal(endReason(a, opts.now + 10_000), 'expired');
  const capped = activate(FaultSpec.parse({ kind: 'stall', duration: '10h' }), opts);
  assert.equal(capped.expiresAt, opts.now + opts.maxDurationMs);
  const abs = activate(FaultSpec.parse({ kind: 'stall', duration: '10m', expiresAt: new Date(opts.now + 5000).toISOString() }), opts);
  assert.equal(abs.expiresAt, opts.now + 5000);
});

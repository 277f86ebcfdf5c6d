import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FaultExperimentSpec, type FaultExperimentStatus } from '../../crds/faultexperiment.ts';
import { activations, faultId, heartbeatMs, intent, report, seedOf, type Observation, type ResolvedTarget } from './plan.ts';

const now = new Date('2026-01-01T00:01:00Z');
const uid = '0b7c5e2a-1111-2222-3333-444455556666';
const spec = FaultExperimentSpec.parse({
  target: { pods: { selector: { matchLabels: { app: 'web' } }, mode: 'all' } }, duration: '5m', lease: '15s',
  faults: [{ kind: 'error', code: 'SlowDown', status: 503, match: { operations: ['GetObject'] }, trigger: { probability: 0.5 } }, { kind: 'latency', ms: 100, match: {}, trigger: { seed: 7 } }],
});
const ids = [faultId(uid, 0), faultId(uid, 1)];
const running: FaultExperimentStatus = { phase: 'Running', startTime: '2026-01-01T00:00:00Z', expiresAt: '2026-01-01T00:05:00Z', selected: 1,
  targets: [{ kind: 'pod', name: 'web-a', state: 'Injected', reason: 'Confirmed', lastTransitionTime: '2026-01-01T00:00:01Z' }] };
const base = { now, createdAt: new Date('2026-01-01T00:00:00Z'), deleting: false, abortAnnotation: false, killSwitch: false, injectionDeadlineMs: 60_000 };

test('intent: the first cause of an end wins, and a running experiment inside its window keeps running', () => {
  const cases: [string, Partial<typeof base> & { status: FaultExperimentStatus }, string | undefined][] = [
    ['running inside the window', { status: running }, undefined],
    ['deleted while running → Aborted/Deleted', { status: running, deleting: true }, 'Aborted/Deleted'],
    ['abort annotation → Aborted/AbortRequested', { status: running, abortAnnotation: true }, 'Aborted/AbortRequested'],
    ['kill switch → Aborted/KillSwitch', { status: running, killSwitch: true }, 'Aborted/KillSwitch'],
    ['deletion beats the kill switch', { status: running, killSwitch: true, deleting: true }, 'Aborted/Deleted'],
    ['past expiresAt → Completed', { status: running, now: new Date('2026-01-01T00:05:00Z') }, 'Completed/Completed'],
    ['pending past the injection deadline with targets → Failed/InjectionNotConfirmed', { status: { phase: 'Pending', selected: 2, startTime: '2026-01-01T00:00:00Z', expiresAt: '2026-01-01T00:05:00Z' }, now: new Date('2026-01-01T00:01:01Z') }, 'Failed/InjectionNotConfirmed'],
    ['no target found within the deadline → Failed/NoTargets', { status: { phase: 'Pending' }, now: new Date('2026-01-01T00:01:01Z') }, 'Failed/NoTargets'],
    ['pending inside the deadline waits', { status: { phase: 'Pending', selected: 2, startTime: '2026-01-01T00:00:30Z' } }, undefined],
  ];
  for (const [name, input, want] of cases) {
    const e = intent({ ...base, ...input });
    assert.equal(e ? `${e.phase}/${e.reason}` : undefined, want, name);
  }
});

test('activations: stable ids, the absolute expiry, the lease, a seed (derived when not given), narrowed to a BackendBucket', () => {
  const a = activations(spec, uid, '2026-01-01T00:05:00Z', { kind: 'pod' });
  assert.deepEqual(a.map((f) => f.id), ids);
  assert.ok(a.every((f) => f.expiresAt === '2026-01-01T00:05:00Z' && f.lease === '15s'));
  assert.equal(a[0]!.trigger!.seed, seedOf(uid, 0));
  assert.equal(a[1]!.trigger!.seed, 7);
  assert.deepEqual(activations(spec, uid, '2026-01-01T00:05:00Z', { kind: 'pod' }), a, 'the same on every reconcile');
  const bb = activations(FaultExperimentSpec.parse({ ...spec, target: { backendBucket: 'store-a' }, faults: [{ kind: 'backendDown', backend: 'x' }, { kind: 'latency', ms: 5, match: { operations: ['GetObject'] } }] }), uid, '2026-01-01T00:05:00Z', { kind: 'gateway', backendBucket: 'store-a' });
  assert.equal(bb[0]!.kind === 'backendDown' && bb[0]!.backend, 'store-a');
  assert.deepEqual(bb[1]!.match, { operations: ['GetObject'], backends: ['store-a'] });
  assert.equal(heartbeatMs(spec), 5_000);
});

const pod = (name: string, extra: Partial<ResolvedTarget> = {}): ResolvedTarget => ({ kind: 'pod', name, ...extra });
const obs = (faults: Record<string, [Observation & { ok: true }]['0']['faults'][string]>): Observation => ({ ok: true, faults });
const rep = (prev: FaultExperimentStatus, targets: ResolvedTarget[], o: [string, Observation][], extra: Partial<Parameters<typeof report>[0]> = {}) =>
  report({ now, generation: 3, spec, uid, prev, targets, observations: new Map(o), dryRun: false, ...extra });

test('report: a target counts as injected only when its injector lists every fault id', () => {
  const pending: FaultExperimentStatus = { phase: 'Pending', startTime: '2026-01-01T00:00:00Z', expiresAt: '2026-01-01T00:05:00Z' };
  const half = rep(pending, [pod('web-a'), pod('web-b')], [
    ['web-a', obs({ [ids[0]!]: { state: 'active', matched: 0, fired: 0 }, [ids[1]!]: { state: 'active', matched: 0, fired: 0 } })],
    ['web-b', obs({ [ids[0]!]: { state: 'active', matched: 0, fired: 0 }, [ids[1]!]: { state: 'unknown', matched: 0, fired: 0 } })],
  ]);
  assert.equal(half.status.phase, 'Pending');
  assert.deepEqual(half.status.targets!.map((t) => `${t.name}:${t.state}`), ['web-a:Injected', 'web-b:Selected']);
  assert.equal(half.status.injected, 1);
  const all = rep(half.status, [pod('web-a'), pod('web-b')], ['web-a', 'web-b'].map((n) => [n, obs({ [ids[0]!]: { state: 'active', matched: 2, fired: 1 }, [ids[1]!]: { state: 'active', matched: 2, fired: 2 } })]));
  assert.equal(all.status.phase, 'Running');
  assert.equal(all.status.injected, 2);
  assert.ok(all.events.some((e) => e.reason === 'Running'));
  assert.equal(all.status.conditions!.find((c) => c.type === 'Ready')!.status, 'True');
  assert.equal(all.status.conditions!.find((c) => c.type === 'Effective')!.status, 'True');
  assert.ok(all.status.conditions!.every((c) => c.observedGeneration === 3));
});

test('report: a pod without the sidecar is NotInjected/NoSidecar and the experiment is Degraded, the others run', () => {
  const r = rep(running, [pod('web-a'), pod('old', { unavailable: { reason: 'NoSidecar', message: 'no sidecar' } })], [['web-a', obs({ [ids[0]!]: { state: 'active', matched: 0, fired: 0 }, [ids[1]!]: { state: 'active', matched: 0, fired: 0 } })]]);
  assert.deepEqual(r.status.targets!.map((t) => `${t.name}:${t.state}:${t.reason}`), ['web-a:Injected:Confirmed', 'old:NotInjected:NoSidecar']);
  assert.equal(r.status.phase, 'Running');
  const deg = r.status.conditions!.find((c) => c.type === 'Degraded')!;
  assert.equal(deg.status, 'True');
  assert.equal(deg.reason, 'NoSidecar');
});

test('report: at the end the counts are the verdict; faults that matched nothing end Effective=False/NoEffect', () => {
  const ended = (m: number, f: number) => obs({ [ids[0]!]: { state: 'ended', reason: 'stopped', matched: m, fired: f }, [ids[1]!]: { state: 'ended', reason: 'expired', matched: m, fired: m } });
  const done = rep(running, [pod('web-a')], [['web-a', ended(10, 4)]], { end: { phase: 'Completed', reason: 'Completed', message: 'time is up' } });
  assert.equal(done.status.phase, 'Completed');
  assert.equal(done.status.endTime, '2026-01-01T00:01:00Z');
  assert.deepEqual([done.status.matched, done.status.faulted, done.status.recovered, done.status.injected], [20, 14, 1, 0]);
  assert.deepEqual(done.status.targets!.map((t) => [t.state, t.matched, t.faulted]), [['Recovered', 20, 14]]);
  assert.deepEqual(done.status.faults!.map((f) => [f.id, f.seed, f.matched, f.faulted]), [[ids[0], seedOf(uid, 0), 10, 4], [ids[1], 7, 10, 10]]);
  assert.equal(done.status.conditions!.find((c) => c.type === 'Effective')!.status, 'True');
  assert.ok(done.settled);

  const none = rep(running, [pod('web-a')], [['web-a', ended(0, 0)]], { end: { phase: 'Completed', reason: 'Completed', message: 'time is up' } });
  const eff = none.status.conditions!.find((c) => c.type === 'Effective')!;
  assert.deepEqual([eff.status, eff.reason], ['False', 'NoEffect']);
  assert.ok(none.events.some((e) => e.reason === 'NoEffect' && e.type === 'Warning'));
});

test('report: a fault still active after the stop keeps the finalizer; an unreachable injector is Lost, not held forever', () => {
  const stuck = rep(running, [pod('web-a')], [['web-a', obs({ [ids[0]!]: { state: 'active', matched: 0, fired: 0 }, [ids[1]!]: { state: 'ended', reason: 'stopped', matched: 0, fired: 0 } })]], { end: { phase: 'Aborted', reason: 'Deleted', message: 'deleted' } });
  assert.equal(stuck.settled, false);
  const gone = rep(running, [pod('web-a')], [['web-a', { ok: false, error: 'connect ECONNREFUSED' }]], { end: { phase: 'Aborted', reason: 'Deleted', message: 'deleted' } });
  assert.deepEqual(gone.status.targets!.map((t) => `${t.state}:${t.reason}`), ['Lost:Unreachable']);
  assert.ok(gone.settled);
});

test('report: a lease lost while the operator was away is recorded as Lost/LeaseLost', () => {
  const r = rep(running, [pod('web-a')], [['web-a', obs({ [ids[0]!]: { state: 'ended', reason: 'lease-lost', matched: 3, fired: 1 }, [ids[1]!]: { state: 'ended', reason: 'lease-lost', matched: 3, fired: 3 } })]]);
  assert.deepEqual(r.status.targets!.map((t) => `${t.state}:${t.reason}`), ['Lost:LeaseLost']);
  assert.equal(r.status.conditions!.find((c) => c.type === 'Degraded')!.reason, 'TargetsLost');
});

test('report: dryRun selects and reports, injects nothing, and completes', () => {
  const r = rep({}, [pod('web-a'), pod('web-b')], [], { dryRun: true });
  assert.equal(r.status.phase, 'Completed');
  assert.equal(r.status.selected, 2);
  assert.deepEqual(r.status.targets!.map((t) => `${t.state}:${t.reason}`), ['NotInjected:DryRun', 'NotInjected:DryRun']);
  assert.equal(r.status.conditions!.find((c) => c.type === 'Ready')!.reason, 'DryRun');
});

test('report: the creator and the admission SubjectAccessReview result are recorded in status', () => {
  const pending: FaultExperimentStatus = { phase: 'Pending', startTime: '2026-01-01T00:00:00Z', expiresAt: '2026-01-01T00:05:00Z' };
  const creator = { user: 'alice', mayDeleteTargets: 'true' as const };
  assert.deepEqual(rep(pending, [pod('web-a')], [], { creator }).status.creator, creator);
  assert.equal(rep(pending, [pod('web-a')], []).status.creator, undefined, 'absent when the webhook did not see the experiment');
});

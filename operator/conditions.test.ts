import { test } from 'node:test';
import assert from 'node:assert/strict';
import { outcome, setConditions, transitioned } from './conditions.ts';

const t0 = new Date('2026-01-01T00:00:00.123Z');
const t1 = new Date('2026-01-01T00:05:00Z');

test('a new condition gets the time now, without fractions (metav1.Time)', () => {
  const cs = setConditions([], outcome('ready', 'ProbeSucceeded', 'ok'), 3, t0);
  assert.equal(cs.length, 3);
  assert.deepEqual(cs[0], { type: 'Ready', status: 'True', reason: 'ProbeSucceeded', message: 'ok', observedGeneration: 3, lastTransitionTime: '2026-01-01T00:00:00Z' });
});

test('lastTransitionTime stays when the status stays, even if the reason and generation change', () => {
  const a = setConditions([], outcome('degraded', 'SecretNotFound', 'no secret'), 1, t0);
  const b = setConditions(a, outcome('degraded', 'EndpointUnreachable', 'refused'), 2, t1);
  const ready = b.find((c) => c.type === 'Ready')!;
  assert.equal(ready.lastTransitionTime, '2026-01-01T00:00:00Z');
  assert.equal(ready.reason, 'EndpointUnreachable');
  assert.equal(ready.observedGeneration, 2);
});

test('a flip moves lastTransitionTime and counts as a transition; an identical write does not', () => {
  const a = setConditions([], outcome('degraded', 'SecretNotFound', 'x'), 1, t0);
  const b = setConditions(a, outcome('ready', 'ProbeSucceeded', 'y'), 1, t1);
  assert.equal(b.find((c) => c.type === 'Ready')!.lastTransitionTime, '2026-01-01T00:05:00Z');
  assert.ok(transitioned(a, b));
  assert.ok(!transitioned(b, setConditions(b, outcome('ready', 'ProbeSucceeded', 'other message'), 1, t1)));
  assert.ok(transitioned(undefined, a));
});

test('other condition types are kept', () => {
  const custom = [{ type: 'Ready', status: 'True' as const, reason: 'X', message: '', lastTransitionTime: 'T' }, { type: 'Available', status: 'True' as const, reason: 'Y', message: '', lastTransitionTime: 'T' }];
  const out = setConditions(custom, outcome('progressing', 'Rendering', 'r'), 1, t1);
  assert.ok(out.some((c) => c.type === 'Available'));
  assert.equal(out.length, 4);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../kube/types.ts';
import { choose, countFor, matchesSelector, selectPods } from './select.ts';

const pod = (name: string, labels: Record<string, string>, phase = 'Running'): KubeObject => ({ metadata: { name, namespace: 'apps', labels }, status: { phase } });
const pods = Array.from({ length: 10 }, (_v, i) => pod(`web-${i}`, { app: 'web', tier: i < 5 ? 'front' : 'back' })).concat([pod('db-0', { app: 'db' }), pod('web-pending', { app: 'web' }, 'Pending')]);

test('label selectors: matchLabels and every matchExpressions operator', () => {
  const l = { app: 'web', tier: 'front' };
  assert.ok(matchesSelector({}, l), 'an empty selector matches everything');
  assert.ok(matchesSelector({ matchLabels: { app: 'web' } }, l));
  assert.ok(!matchesSelector({ matchLabels: { app: 'db' } }, l));
  assert.ok(matchesSelector({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'x'] }] }, l));
  assert.ok(!matchesSelector({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, l));
  assert.ok(matchesSelector({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, l), 'NotIn holds when the label is absent');
  assert.ok(matchesSelector({ matchExpressions: [{ key: 'app', operator: 'Exists' }] }, l));
  assert.ok(!matchesSelector({ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, l));
  assert.ok(!matchesSelector({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['back'] }] }, l), 'both must hold');
});

test('modes: one, all, fixed (capped at what there is), percent (rounded down, at least one)', () => {
  const cases: [Parameters<typeof countFor>, number][] = [
    [['one', undefined, 10], 1], [['all', undefined, 10], 10], [['fixed', 3, 10], 3], [['fixed', 30, 10], 10],
    [['percent', 50, 10], 5], [['percent', 25, 10], 2], [['percent', 1, 10], 1], [['percent', 100, 3], 3], [['one', undefined, 0], 0],
  ];
  for (const [args, want] of cases) assert.equal(countFor(...args), want, JSON.stringify(args));
});

test('the choice is deterministic for a seed, differs between seeds, and only takes running matching pods', () => {
  const sel = { matchLabels: { app: 'web' } };
  const a = selectPods(pods, sel, 'fixed', 3, 'uid-1');
  assert.deepEqual(selectPods([...pods].reverse(), sel, 'fixed', 3, 'uid-1'), a, 'order of the cache does not matter');
  assert.equal(a.length, 3);
  assert.ok(a.every((n) => n.startsWith('web-') && n !== 'web-pending'));
  const others = new Set(['uid-2', 'uid-3', 'uid-4', 'uid-5'].map((s) => selectPods(pods, sel, 'fixed', 3, s).join(',')));
  assert.ok(others.size > 1, 'other seeds choose other pods');
  assert.deepEqual(selectPods(pods, sel, 'all', undefined, 'x').length, 10);
  assert.deepEqual(choose(['a', 'b', 'c'], 2, 's'), choose(['c', 'a', 'b'], 2, 's'));
});

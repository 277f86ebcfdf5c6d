import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { MATCH_REQUIRED } from '../../crds/faultexperiment.ts';
import { DEFAULT_SIDECAR, protectedNamespaces, type AdmissionSettings } from './settings.ts';
import { matches, refusals, selectedCount, type ExperimentFacts } from './validate.ts';

const S: AdmissionSettings = { operatorNamespace: 'floodgate-system', protectedNamespaces: protectedNamespaces('floodgate-system', ['payments']), maxPodPercent: 50, sidecar: { image: 'i', ...DEFAULT_SIDECAR } };
const slowDown = { kind: 'error', code: 'SlowDown', status: 503, match: { operations: ['GetObject'] }, trigger: { probability: 0.5 } };
const spec = (faults: unknown[] = [slowDown], pods: unknown = { selector: { matchLabels: { app: 'web' } }, mode: 'all' }) => ({ target: { pods }, faults, duration: '20s' });
const ok = (extra: Partial<ExperimentFacts> = {}): ExperimentFacts => ({ namespace: 'apps', spec: spec(), pods: { total: 10, matching: 2 }, access: { allowed: true, user: 'user "alice"', asked: 'delete pods' }, ...extra });

describe('refusals', () => {
  const cases: [string, ExperimentFacts, RegExp | undefined][] = [
    ['an ordinary experiment is admitted', ok(), undefined],
    ['kube-system is refused', ok({ namespace: 'kube-system' }), /namespace "kube-system" is protected: FaultExperiments may not run in kube-system, kube-public, kube-node-lease, floodgate-system, payments/],
    ['kube-node-lease is refused', ok({ namespace: 'kube-node-lease' }), /protected/],
    ['the operator\'s namespace is refused', ok({ namespace: 'floodgate-system' }), /protected/],
    ['a configured namespace is refused', ok({ namespace: 'payments' }), /"payments" is protected/],
    ['over the pod share is refused', ok({ pods: { total: 10, matching: 6 } }), /selects 6 of the 10 pods in namespace "apps" \(60 %\); one experiment may hit at most 50 %/],
    ['percent mode counts what it would select', ok({ spec: spec([slowDown], { selector: {}, mode: 'percent', value: 40 }), pods: { total: 10, matching: 10 } }), undefined],
    ['a 64Gi memory fault is over the cap', ok({ spec: spec([{ kind: 'memory', bytes: '64Gi' }]) }), /spec\.faults\[0\]\.bytes: 64Gi is over the cap of 3Gi for memory faults/],
    ['a cpu fault over the cap', ok({ spec: spec([{ kind: 'cpu', cores: 16 }]) }), /spec\.faults\[0\]\.cores: 16 is over the cap of 4 cores/],
    ['a disk fault over the cap', ok({ spec: spec([{ kind: 'disk', path: '/scratch', bytes: '100Gi' }]) }), /spec\.faults\[0\]\.bytes: 100Gi is over the cap of 20Gi for disk faults/],
    ['a malformed fault names its field', ok({ spec: spec([{ kind: 'error', code: 'SlowDown', status: 999, match: {} }]) }), /spec\.faults\[0\]\.status: /],
    ['an unknown fault kind', ok({ spec: spec([{ kind: 'meteor' }]) }), /spec\.faults\[0\]\.kind/],
    ['a request fault without match (a pruned `mach:`) is refused with the CRD\'s message', ok({ spec: spec([{ kind: 'latency', ms: 100 }]) }), new RegExp(`spec\\.faults\\[0\\]: ${MATCH_REQUIRED.replace(/[().:]/g, '\\$&')}`)],
    ['a creator who may not delete the pods is refused', ok({ access: { allowed: false, user: 'user "bob"', asked: 'delete pods' } }), /user "bob" may not delete pods in namespace "apps": an experiment may only target what its creator could delete/],
  ];
  for (const [name, facts, want] of cases) {
    test(name, () => {
      const r = refusals(facts, S);
      if (want) assert.match(r.join('\n'), want);
      else assert.deepEqual(r, []);
    });
  }
});

test('selectedCount follows the modes', () => {
  assert.deepEqual([selectedCount('one', undefined, 5), selectedCount('one', undefined, 0), selectedCount('all', undefined, 5), selectedCount('fixed', 2, 5), selectedCount('fixed', 9, 5), selectedCount('percent', 50, 5)], [1, 0, 5, 2, 5, 3]);
});

test('label selectors: matchLabels and every expression operator', () => {
  const l = { app: 'web', tier: 'front' };
  assert.ok(matches({}, l));
  assert.ok(matches({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'back'] }, { key: 'canary', operator: 'DoesNotExist' }] }, l));
  assert.ok(!matches({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, l));
  assert.ok(!matches({ matchExpressions: [{ key: 'canary', operator: 'Exists' }] }, l));
  assert.ok(!matches({ matchLabels: { app: 'api' } }, l));
});

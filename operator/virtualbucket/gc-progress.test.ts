// status.gc from the gateway's runs: summed, the earliest start and the latest end, the state of
// the whole, and a block the CRD's schema accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GcProgress } from '../../crds/virtualbucket.ts';
import type { GcStatus } from '../../proxy/health/status.ts';
import { gcProgress } from './gc-progress.ts';

const run = (backend: string, o: Partial<GcStatus>): GcStatus => ({
  backend, state: 'done', phase: 'records', startedAt: '2026-12-02T10:00:00.000Z', finishedAt: '2026-12-02T10:01:00.000Z',
  scanned: 10, orphans: 2, removed: 2, removedBytes: 20, young: 1, records: 5, missing: 0, missingKeys: [], errors: 0, lastErrors: [], ...o,
});

test('no run yet: no block', () => {
  assert.equal(gcProgress(undefined), undefined);
  assert.equal(gcProgress([]), undefined);
});

test('finished runs: counts summed, from the earliest start to the latest end', () => {
  const g = gcProgress([
    run('a', { startedAt: '2026-12-02T10:00:05.000Z', finishedAt: '2026-12-02T10:03:00.000Z', missing: 1, missingKeys: ['k'] }),
    run('b', { orphans: 3, removed: 1, removedBytes: 7, errors: 2, lastErrors: [{ key: 'x', error: 'AccessDenied' }, { key: 'y', error: 'SlowDown' }] }),
  ]);
  assert.deepEqual(g, {
    state: 'Done', startedAt: '2026-12-02T10:00:00.000Z', finishedAt: '2026-12-02T10:03:00.000Z', backends: 2,
    orphansFound: 5, orphansRemoved: 3, removedBytes: 27, youngObjects: 2, missingCopies: 1, errors: 2, lastError: 'y: SlowDown',
  });
  assert.deepEqual(GcProgress.parse(g), g, 'the CRD schema accepts it');
});

test('one backend still running: Running, no end; a cancelled one: Cancelled', () => {
  const running = gcProgress([run('a', {}), run('b', { state: 'running', finishedAt: undefined })])!;
  assert.deepEqual([running.state, running.finishedAt], ['Running', undefined]);
  assert.equal(gcProgress([run('a', {}), run('b', { state: 'cancelled' })])!.state, 'Cancelled');
});

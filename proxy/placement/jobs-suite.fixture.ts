// Behaviour of the job queue and of multi-copy records, run against each index kind
// (sqlite.test.ts, postgres.test.ts).
import assert from 'node:assert/strict';
import type { PlacedObject, PlacementIndex } from './types.ts';
import { test } from 'node:test';
import type { JobSpec, SingleKind } from './jobs.ts';
import { indexTests } from './suite.fixture.ts';

const rec = (extra: Partial<PlacedObject> = {}): PlacedObject =>
  ({ bucket: 'vb', key: 'k', backend: 'a', size: 10, etag: 'e1', lastModified: new Date(1_700_000_000_000), checksums: {}, userMeta: {}, ...extra });

const copyJob = (key: string, backend = 'b'): JobSpec => ({ kind: 'copy', bucket: 'vb', key, backend, location: `.floodgate/w/vb/00/${key}`, etag: 'e1' });

const move = (kind: SingleKind, backend = '', bucket = 'vb'): JobSpec & { kind: SingleKind } => ({ kind, bucket, key: '', backend });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function jobsSuite(name: string, open: () => Promise<PlacementIndex>): void {
  const withIndex = indexTests(name, open);

  withIndex('a record keeps its other copies; usage counts only the copies written', async (ix) => {
    const copies = [{ backend: 'b', location: '.floodgate/w/vb/01/k' }, { backend: 'c', location: '.floodgate/w/vb/02/k', pending: true }];
    await ix.put(rec({ copies }));
    assert.deepEqual((await ix.get('vb', 'k'))?.copies, copies);
    const u = await ix.usage();
    assert.deepEqual([u.get('a'), u.get('b'), u.get('c')?.objects ?? 0], [{ bytes: 10, objects: 1 }, { bytes: 10, objects: 1 }, 0]);
    // The pending copy written: counted from then on.
    const done = copies.map((c) => ({ backend: c.backend, location: c.location }));
    assert.deepEqual((await ix.updateCopies('vb', 'k', { backend: 'a', etag: 'e1' }, () => done))?.copies, done);
    assert.deepEqual((await ix.usage()).get('c'), { bytes: 10, objects: 1 });
    // Only while the record is that version.
    assert.equal(await ix.updateCopies('vb', 'k', { backend: 'a', etag: 'other' }, () => []), undefined);
    assert.equal(await ix.updateCopies('vb', 'gone', { backend: 'a', etag: 'e1' }, () => []), undefined);
    assert.equal((await ix.get('vb', 'k'))?.copies?.length, 2);
    // find() counts every recorded copy.
    await ix.put(rec({ key: 'single' }));
    const found = async (q: { minReplicas?: number; maxReplicas?: number }) =>
      (await ix.find({ bucket: 'vb', prefix: '', after: '', meta: [], limit: 10, ...q })).map((f) => [f.key, f.replicas]);
    assert.deepEqual(await found({ minReplicas: 2 }), [['k', 3]]);
    assert.deepEqual(await found({ maxReplicas: 1 }), [['single', 1]]);
    assert.deepEqual(await found({ minReplicas: 4 }), []);
    await ix.delete('vb', 'single');
    await ix.delete('vb', 'k');
    for (const b of ['a', 'b', 'c']) assert.deepEqual((await ix.usage()).get(b), { bytes: 0, objects: 0 });
  });

  withIndex('jobs: two workers claiming at once never get the same job', async (ix) => {
    const ids = await ix.jobs.enqueue(Array.from({ length: 30 }, (_, i) => copyJob(`k${i}`)));
    assert.equal(new Set(ids).size, 30);
    const [x, y] = await Promise.all([ix.jobs.claim('x', 20, 60_000), ix.jobs.claim('y', 20, 60_000)]);
    assert.equal(x.length + y.length, 30);
    assert.equal(new Set([...x, ...y].map((j) => j.id)).size, 30);
    assert.ok(x.every((j) => j.leaseOwner === 'x') && y.every((j) => j.leaseOwner === 'y'));
    // Leased jobs are not handed out again.
    assert.deepEqual(await ix.jobs.claim('z', 50, 60_000), []);
    const j = x[0] ?? y[0]!;
    assert.deepEqual({ kind: j.kind, bucket: j.bucket, backend: j.backend, etag: j.etag, attempts: j.attempts }, { kind: 'copy', bucket: 'vb', backend: 'b', etag: 'e1', attempts: 0 });
    assert.match(j.location!, /^\.floodgate\/w\/vb\/00\/k\d+$/);
  });

  withIndex('jobs: a lease that runs out (its worker died) makes the job claimable again', async (ix) => {
    const [id] = await ix.jobs.enqueue([copyJob('k')]);
    assert.equal((await ix.jobs.claim('dead', 10, 150)).length, 1);
    assert.deepEqual(await ix.jobs.claim('live', 10, 60_000), []);
    await sleep(250);
    const again = await ix.jobs.claim('live', 10, 60_000);
    assert.deepEqual(again.map((j) => j.id), [id]);
    // The dead worker's late completion does not count; the live one's does.
    assert.equal(await ix.jobs.complete(id!, 'dead'), false);
    assert.equal(await ix.jobs.complete(id!, 'live'), true);
    assert.equal(await ix.jobs.get(id!), undefined);
  });

  withIndex('jobs: the queued jobs of one key, by kind, leased or not', async (ix) => {
    const remove = (key: string, backend: string, location?: string): JobSpec => ({ kind: 'remove', bucket: 'vb', key, backend, ...(location ? { location } : {}) });
    const [r1, , r3] = await ix.jobs.enqueue([remove('k', 'a'), copyJob('k'), remove('k', 'b', '.floodgate/w/vb/01/k'), remove('other', 'a')]);
    await ix.jobs.enqueue([remove('k/', 'c')], { owner: 'w', leaseMs: 60_000 });
    const of = async (kind: 'remove' | 'copy', key: string) => (await ix.jobs.ofKey(kind, 'vb', key)).map((j) => [j.backend, j.location ?? null]);
    assert.deepEqual(await of('remove', 'k'), [['a', null], ['b', '.floodgate/w/vb/01/k']]);
    assert.deepEqual(await of('copy', 'k'), [['b', '.floodgate/w/vb/00/k']]);
    assert.deepEqual(await of('remove', 'k/'), [['c', null]]);
    assert.deepEqual(await of('remove', 'none'), []);
    assert.equal((await ix.jobs.ofKey('remove', 'vb', 'k'))[0]?.id, r1);
    assert.equal((await ix.jobs.ofKey('remove', 'vb', 'k'))[1]?.id, r3);
  });

  withIndex('jobs: a failure is recorded per job and retried no earlier than asked', async (ix) => {
    const [id] = await ix.jobs.enqueue([copyJob('k')]);
    await ix.jobs.claim('w', 10, 60_000);
    await ix.jobs.release(id!, 'w', { notBefore: new Date(Date.now() + 300), error: 'backend b: connection refused' });
    assert.deepEqual(await ix.jobs.claim('w', 10, 60_000), []);
    const s = await ix.jobs.summary();
    assert.deepEqual(s.kinds.copy, { queued: 1, failing: 1 });
    assert.deepEqual(s.pendingCopies, { vb: 1 });
    assert.deepEqual(s.errors.map((e) => [e.id, e.attempts, e.lastError]), [[id, 1, 'backend b: connection refused']]);
    await sleep(400);
    const [j] = await ix.jobs.claim('w', 10, 60_000);
    assert.equal(j?.attempts, 1);
    // A backend coming back makes its waiting jobs due at once.
    await ix.jobs.release(id!, 'w', { notBefore: new Date(Date.now() + 60_000), error: 'down' });
    assert.deepEqual(await ix.jobs.claim('w', 10, 60_000), []);
    assert.equal(await ix.jobs.wake('other'), 0);
    assert.equal(await ix.jobs.wake('b'), 1);
    const [w] = await ix.jobs.claim('w', 10, 60_000);
    assert.equal(w?.attempts, 2);
    // Progress without an error is no attempt.
    await ix.jobs.release(id!, 'w', { notBefore: new Date(), progress: '{"after":"x"}' });
    const [k] = await ix.jobs.claim('w', 10, 60_000);
    assert.deepEqual([k?.attempts, k?.progress], [2, '{"after":"x"}']);
  });

  withIndex('relocate moves the first copy only while the record is that version, and moves the usage counters', async (ix) => {
    const copies = [{ backend: 'b', location: '.floodgate/w/vb/01/k' }];
    await ix.put(rec({ copies }));
    const to = { backend: 'c', location: '.floodgate/w/vb/02/k' };
    // Another version, another first copy, another name: nothing changes.
    assert.equal(await ix.relocate('vb', 'k', { backend: 'a', etag: 'other' }, to), undefined);
    assert.equal(await ix.relocate('vb', 'k', { backend: 'b', etag: 'e1' }, to), undefined);
    assert.equal(await ix.relocate('vb', 'k', { backend: 'a', etag: 'e1', location: 'elsewhere' }, to), undefined);
    assert.equal(await ix.relocate('vb', 'gone', { backend: 'a', etag: 'e1' }, to), undefined);
    assert.deepEqual(await ix.get('vb', 'k'), rec({ copies }));
    const moved = await ix.relocate('vb', 'k', { backend: 'a', etag: 'e1' }, to);
    assert.deepEqual(moved, rec({ ...to, copies }));
    assert.deepEqual(await ix.get('vb', 'k'), moved);
    const u = await ix.usage();
    assert.deepEqual([u.get('a'), u.get('b'), u.get('c')], [{ bytes: 0, objects: 0 }, { bytes: 10, objects: 1 }, { bytes: 10, objects: 1 }]);
    // Search sees the new first copy.
    assert.deepEqual((await ix.find({ bucket: 'vb', prefix: '', after: '', meta: [], backend: 'c', limit: 10 })).map((f) => f.key), ['k']);
    assert.deepEqual(await ix.find({ bucket: 'vb', prefix: '', after: '', meta: [], backend: 'a', limit: 10 }), []);
    // Moving on from an own name.
    assert.equal((await ix.relocate('vb', 'k', { backend: 'c', etag: 'e1', location: to.location }, { backend: 'a', location: 'x' }))?.backend, 'a');
  });

  withIndex('jobs: listed in id order by page and kind; cancelled whether leased or not', async (ix) => {
    const ids = await ix.jobs.enqueue([copyJob('k1'), { kind: 'drain', bucket: 'vb', key: '', backend: 'b' }, copyJob('k2'), { kind: 'rebalance', bucket: 'vb', key: '', backend: '' }]);
    assert.deepEqual((await ix.jobs.list({ after: 0, limit: 10 })).map((j) => j.id), ids);
    assert.deepEqual((await ix.jobs.list({ after: 0, limit: 2 })).map((j) => j.id), ids.slice(0, 2));
    assert.deepEqual((await ix.jobs.list({ after: ids[1]!, limit: 10 })).map((j) => j.id), ids.slice(2));
    assert.deepEqual((await ix.jobs.list({ after: 0, limit: 10, kind: 'copy' })).map((j) => j.key), ['k1', 'k2']);
    const s = await ix.jobs.summary();
    assert.deepEqual([s.kinds.drain, s.kinds.rebalance], [{ queued: 1, failing: 0 }, { queued: 1, failing: 0 }]);
    assert.deepEqual(s.moves.map((m) => [m.id, m.kind, m.backend]), [[ids[1], 'drain', 'b'], [ids[3], 'rebalance', '']]);
    // A leased job cancelled: its worker's completion and release find nothing.
    const claimed = await ix.jobs.claim('w', 1, 60_000);
    assert.equal(claimed[0]?.id, ids[0]);
    assert.equal(await ix.jobs.cancel(ids[0]!), true);
    assert.equal(await ix.jobs.cancel(ids[0]!), false);
    assert.equal(await ix.jobs.complete(ids[0]!, 'w'), false);
    await ix.jobs.release(ids[0]!, 'w', { notBefore: new Date(), progress: '{}' });
    assert.equal(await ix.jobs.get(ids[0]!), undefined);
    assert.equal(await ix.jobs.cancel(ids[1]!), true);
    assert.deepEqual((await ix.jobs.list({ after: 0, limit: 10 })).map((j) => j.id), [ids[2], ids[3]]);
    assert.deepEqual((await ix.jobs.summary()).moves.map((m) => m.kind), ['rebalance']);
  });

  withIndex('jobs: enqueued already leased, a job is not handed to another worker', async (ix) => {
    const [id] = await ix.jobs.enqueue([copyJob('k')], { owner: 'me', leaseMs: 60_000 });
    assert.deepEqual(await ix.jobs.claim('other', 10, 60_000), []);
    assert.equal(await ix.jobs.complete(id!, 'me'), true);
    assert.deepEqual((await ix.jobs.summary()).kinds.copy, { queued: 0, failing: 0 });
  });

  withIndex('locations: the copies copy and remove jobs name on a backend; reclaim: the leases of other processes of one replica', async (ix) => {
    await ix.jobs.enqueue([copyJob('x'), copyJob('y', 'c'), { kind: 'remove', bucket: 'vb', key: 'usual', backend: 'b' }, { kind: 'repair', bucket: 'vb', key: '', backend: 'b' }, { ...copyJob('z'), bucket: 'other' }]);
    const at = (await ix.jobs.locations('vb', 'b')).sort((a, b) => (a.key < b.key ? -1 : 1));
    assert.deepEqual(at, [{ key: 'usual' }, { key: 'x', location: '.floodgate/w/vb/00/x' }]);
    const [mine, theirs, dead] = await Promise.all(['gw/1/aa', 'other/1/bb', 'gw/2/cc'].map((owner) => ix.jobs.enqueue([copyJob(`held-${owner}`)], { owner, leaseMs: 3_600_000 })));
    // A replica named like a prefix of another ("gw" and "gw-2") is not the same replica.
    const cousin = await ix.jobs.enqueue([copyJob('held-cousin')], { owner: 'gw-2/3/dd', leaseMs: 3_600_000 });
    assert.equal(await ix.jobs.reclaim('gw', 'gw/1/aa'), 1);
    const lease = async (id: number) => (await ix.jobs.get(id))?.leaseOwner;
    assert.deepEqual(await Promise.all([mine![0]!, theirs![0]!, dead![0]!, cousin[0]!].map(lease)), ['gw/1/aa', 'other/1/bb', undefined, 'gw-2/3/dd']);
  });

  withIndex('jobs: a drain or rebalance is queued once per bucket and backend, however many ask at once; again once it is done', async (ix) => {
    const asks = (await Promise.all(Array.from({ length: 8 }, () => ix.jobs.enqueueSingle(move('rebalance'))))).map((a) => ({ id: a.job.id, created: a.created }));
    assert.equal(asks.filter((a) => a.created).length, 1);
    const [first] = asks;
    assert.ok(asks.every((a) => a.id === first!.id), JSON.stringify(asks));
    // Another bucket, another backend, another kind: each its own.
    const [other, b1, c, b2] = await Promise.all([move('rebalance', '', 'other'), move('drain', 'b'), move('drain', 'c'), move('drain', 'b')].map(async (m) => {
      const { job, created } = await ix.jobs.enqueueSingle(m);
      assert.deepEqual([job.kind, job.bucket, job.backend], [m.kind, m.bucket, m.backend]);
      return { id: job.id, created };
    }));
    assert.deepEqual([other!.created, c!.created, b1!.created !== b2!.created, b1!.id === b2!.id], [true, true, true, true]);
    assert.equal(new Set([first!.id, other!.id, b1!.id, c!.id]).size, 4);
    // Running (leased) counts as queued.
    const claimed = await ix.jobs.claim('w', 10, 60_000);
    const running = await ix.jobs.enqueueSingle(move('rebalance'));
    assert.deepEqual([running.job.id, running.job.leaseOwner, running.created], [first!.id, 'w', false]);
    // Other kinds are not single: the same copy twice is two jobs.
    assert.equal(new Set(await ix.jobs.enqueue([copyJob('k'), copyJob('k')])).size, 2);
    assert.equal(await ix.jobs.complete(first!.id, 'w'), true);
    assert.ok(claimed.some((j) => j.id === first!.id));
    const again = await ix.jobs.enqueueSingle(move('rebalance'));
    assert.equal(again.created, true);
    assert.notEqual(again.job.id, first!.id);
  });
}

/** For makeOld: queues every drain and rebalance of the jobs table `t` again, as an older gateway could. */
export const duplicateMovesSql = (t: string): string => {
  const cols = 'kind, bucket, key, backend, lease_until, not_before, created';
  return `INSERT INTO ${t} (${cols}) SELECT ${cols} FROM ${t} WHERE kind IN ('drain', 'rebalance')`;
};

/**
 * An index made before drains and rebalances were single (`makeOld`: the unique index dropped,
 * each drain and rebalance row queued again; how many) keeps the oldest of each on opening, then queues no second.
 */
export function singleJobsBackfillSuite(name: string, open: () => Promise<PlacementIndex>, makeOld: () => Promise<number>): void {
  test(`${name}: drains and rebalances an older gateway queued twice are one each once the index is opened`, async () => {
    const ix = await open();
    const ids = await ix.jobs.enqueue([move('rebalance'), move('drain', 'b'), copyJob('k')]);
    await ix.close();
    assert.equal(await makeOld(), 2);
    const again = await open();
    try {
      assert.deepEqual((await again.jobs.list({ after: 0, limit: 10 })).map((j) => j.id), ids);
      const drain = await again.jobs.enqueueSingle(move('drain', 'b'));
      assert.deepEqual([drain.job.id, drain.created], [ids[1], false]);
    } finally {
      await again.close();
    }
  });
}

// The "is the index older than its backends?" check: the decision table, then the whole start
// over real embedded-store backends — a lost index, a foreign index, an old copy of the index,
// and a current one that needs no rebuild.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { S3Error } from '../s3/errors.ts';
import { compareMarker, judge, markerKey } from './index-marker.ts';
import { openVirtualStore, parseBalancingConfig, type VirtualStore } from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'floodgate-marker-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('compareMarker: missing, foreign, newer and current', () => {
  assert.deepEqual(compareMarker(undefined, 'a', 3), { state: 'missing' });
  assert.deepEqual(compareMarker({ index: 'b', session: 3 }, 'a', 3), { state: 'foreign', index: 'b' });
  assert.deepEqual(compareMarker({ index: 'a', session: 4 }, 'a', 3), { state: 'newer', session: 4 });
  assert.deepEqual(compareMarker({ index: 'a', session: 3 }, 'a', 3), { state: 'current' });
  // A start that bumped the count but died before writing markers leaves older markers: still current.
  assert.deepEqual(compareMarker({ index: 'a', session: 2 }, 'a', 3), { state: 'current' });
});

test('judge: any stale backend or a new index means rebuild; an unreachable one only blocks completing it', () => {
  const cur = { state: 'current' } as const;
  assert.deepEqual(judge([{ bucket: 'p', backend: 'a', check: cur }], false), { reindex: false, reasons: [], unreachable: [] });
  assert.equal(judge([{ bucket: 'p', backend: 'a', check: cur }], true).reindex, true);
  const v = judge([
    { bucket: 'p', backend: 'a', check: { state: 'foreign', index: 'x' } },
    { bucket: 'p', backend: 'b', check: { state: 'unreachable', error: 'ECONNREFUSED' } },
  ], false);
  assert.equal(v.reindex, true);
  assert.deepEqual(v.unreachable, ['b']);
  assert.match(v.reasons[0]!, /backend a, bucket p: written by index x/);
  // Unreachable alone does not call for a rebuild: the index is trusted where it was current.
  assert.equal(judge([{ bucket: 'p', backend: 'b', check: { state: 'unreachable', error: 'x' } }], false).reindex, false);
});

let run = 0;
function configOf(name: string, backendDirs: string[], indexPath: string) {
  return parseBalancingConfig({
    backends: backendDirs.map((path, i) => ({ name: `b${i}`, kind: 'fs', path })),
    virtualBuckets: [{ name, backends: backendDirs.map((_, i) => `b${i}`) }],
    index: { kind: 'sqlite', path: indexPath },
    replica: name,
  });
}

async function put(s: VirtualStore, bucket: string, key: string): Promise<void> {
  const b = Buffer.from(key);
  await s.putObject(bucket, key, { body: Readable.from([b]), size: b.length, headers: { userMeta: {} }, checksums: {} });
}

const keys = async (s: VirtualStore, bucket: string) => (await s.scan(bucket, { prefix: '', after: '', limit: 1000 })).map((o) => o.key);

test('a start rebuilds a lost, foreign or old index before serving, and skips a current one', async () => {
  const bucket = `vb${run++}`;
  const backends = [join(dir, 'back-a'), join(dir, 'back-b')];
  const indexPath = join(dir, 'index.db');
  const open = (path = indexPath) => openVirtualStore(configOf(bucket, backends, path));

  // First start: an empty index over empty backends is rebuilt (trivially) and claims them.
  let s = await open();
  const first = await s.ensureIndexCurrent();
  assert.equal(first?.current, true);
  assert.match(first!.verdict.reasons[0]!, /created at this start/);
  for (const k of ['a', 'b', 'c', 'd']) await put(s, bucket, k);
  // The markers sit outside the bucket's namespace: no listing shows them.
  assert.deepEqual(await keys(s, bucket), ['a', 'b', 'c', 'd']);
  await s.close();
  // An old copy of this index, taken now.
  copyFileSync(indexPath, join(dir, 'old.db'));

  // Restart with the index intact: current, no rebuild.
  s = await open();
  const again = await s.ensureIndexCurrent();
  assert.equal(again?.report, undefined, 'no rebuild of a current index');
  await put(s, bucket, 'e');
  await s.close();

  // The index file is lost: rebuilt from the backends, every object listed again.
  for (const f of ['', '-wal', '-shm']) rmSync(indexPath + f, { force: true });
  s = await open();
  const lost = await s.ensureIndexCurrent();
  assert.equal(lost?.report?.added, 5);
  assert.deepEqual(await keys(s, bucket), ['a', 'b', 'c', 'd', 'e']);
  await s.close();

  // Another index (a second gateway given its own file) writes to the same backends; ours, when it
  // starts again, finds its markers replaced and picks up what the other one wrote.
  const other = await open(join(dir, 'other.db'));
  await other.ensureIndexCurrent();
  await put(other, bucket, 'f');
  await other.close();
  s = await open();
  const foreign = await s.ensureIndexCurrent();
  assert.match(foreign!.verdict.reasons.join('\n'), /written by index/);
  assert.deepEqual(await keys(s, bucket), ['a', 'b', 'c', 'd', 'e', 'f']);
  await s.close();

  // The old copy of the first index comes back (a restored backup): its markers were rewritten
  // by later starts, so it is older than its backends.
  s = await open(join(dir, 'old.db'));
  const old = await s.ensureIndexCurrent();
  assert.ok(old!.report, `rebuilt: ${old!.verdict.reasons.join('; ')}`);
  assert.deepEqual(await keys(s, bucket), ['a', 'b', 'c', 'd', 'e', 'f']);
  await s.close();
});

test('while the index is rebuilt, S3 calls answer 503 ServiceUnavailable', async () => {
  const bucket = `vb${run++}`;
  const s = await openVirtualStore(configOf(bucket, [join(dir, 'gate-a')], join(dir, 'gate.db')));
  try {
    const check = s.ensureIndexCurrent();
    assert.equal(s.indexReady, false);
    await assert.rejects(keys(s, bucket), (e: unknown) => e instanceof S3Error && e.code === 'ServiceUnavailable');
    await check;
    assert.equal(s.indexReady, true);
    assert.deepEqual(await keys(s, bucket), []);
    // The marker object itself is where the docs say.
    assert.equal(markerKey(bucket), `.floodgate/index-marker/${bucket}`);
  } finally {
    await s.close();
  }
});

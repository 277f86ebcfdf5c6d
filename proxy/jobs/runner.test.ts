// The job runner over real indexes: a kill -9 mid-job loses nothing, two runners sharing a
// PostgreSQL index never run one job twice, failures are recorded per job, the rate limit paces.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openSqliteIndex } from '../placement/sqlite.ts';
import { openPostgresIndex } from '../placement/postgres.ts';
import { startPostgres, type PostgresServer } from '../placement/postgres.fixture.ts';
import type { JobSpec } from '../placement/jobs.ts';
import { createJobRunner, everyKind, type JobHandler, type JobRunnerOptions } from './runner.ts';

const dir = mkdtempSync(join(tmpdir(), 'floodgate-jobs-'));
let pgServer: PostgresServer;
before(async () => { pgServer = await startPostgres(); });
after(async () => {
  await pgServer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const specs = (n: number): JobSpec[] => Array.from({ length: n }, (_, i) => ({ kind: 'copy', bucket: 'vb', key: `k${i}`, backend: 'b', location: `l${i}`, etag: 'e' }));
const opts = (o: Partial<JobRunnerOptions> = {}): JobRunnerOptions => ({ replica: 't', leaseMs: 60_000, concurrency: 2, jobsPerSecond: 0, bytesPerSecond: 0, pollMs: 50, ...o });
const all = everyKind;

/** Runs the jobs in a child until it holds the 4th, then kills it (-9); the ids and those it ran. */
async function killedMidJob(path: string, leaseMs: number): Promise<{ ids: number[]; ran: number[] }> {
  const ix = openSqliteIndex(path);
  const ids = await ix.jobs.enqueue(specs(6));
  await ix.close();
  const child = spawn(process.execPath, [join(import.meta.dirname, 'crash-runner.fixture.ts'), path, String(ids[3]), String(leaseMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  const ran: number[] = [];
  await new Promise<void>((resolve) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [what, id] = line.split(' ');
      if (what === 'ran') ran.push(Number(id));
      if (what === 'hold') resolve();
    });
  });
  child.kill('SIGKILL');
  await exited;
  return { ids, ran };
}

test('kill -9 of the process running a job: after its lease runs out the job runs again, and every job ran', async () => {
  const path = join(dir, 'crash.db');
  const { ids, ran } = await killedMidJob(path, 400);
  assert.deepEqual(ran, ids.slice(0, 3));
  const again = openSqliteIndex(path);
  const seen: number[] = [];
  const runner = createJobRunner(again.jobs, all(async (j) => { seen.push(j.id); return { outcome: 'done' }; }), opts());
  runner.start();
  try {
    await runner.idle(20_000);
    // The held job (lease ran out) and the ones never started; none the child finished.
    assert.deepEqual(seen.sort((a, b) => a - b), ids.slice(3));
    assert.deepEqual(runner.stats().done.copy, 3);
  } finally {
    await runner.stop();
    await again.close();
  }
});

test('kill -9, then the same replica restarted: it takes the dead process\'s leases back at once (no waiting out a 10 min lease)', async () => {
  const path = join(dir, 'reclaim.db');
  const { ids } = await killedMidJob(path, 600_000);
  const again = openSqliteIndex(path);
  const seen: number[] = [];
  const runner = createJobRunner(again.jobs, all(async (j) => { seen.push(j.id); return { outcome: 'done' }; }), opts({ replica: 'child' }));
  const other = createJobRunner(again.jobs, all(async (j) => { seen.push(-j.id); return { outcome: 'done' }; }), opts({ replica: 'not-the-child' }));
  other.start();
  try {
    for (let i = 0; i < 400 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    // Another replica must wait for the lease: it ran the two never started, not the held one.
    assert.deepEqual(seen.sort((a, b) => a - b), [-ids[5]!, -ids[4]!]);
    await other.stop();
    runner.start();
    await runner.idle(20_000);
    assert.deepEqual(seen.filter((id) => id > 0), [ids[3]]);
  } finally {
    await other.stop();
    await runner.stop();
    await again.close();
  }
});

test('two runners sharing a PostgreSQL index: each job runs exactly once', async () => {
  const a = await openPostgresIndex(pgServer.url, { schema: 'runners' });
  const b = await openPostgresIndex(pgServer.url, { schema: 'runners' });
  const runs = new Map<number, number>();
  let overlap = 0;
  const running = new Set<number>();
  const handler: JobHandler = async (j) => {
    if (running.has(j.id)) overlap++;
    running.add(j.id);
    runs.set(j.id, (runs.get(j.id) ?? 0) + 1);
    await new Promise((r) => setTimeout(r, 5));
    running.delete(j.id);
    return { outcome: 'done' };
  };
  const ids = await a.jobs.enqueue(specs(60));
  const ra = createJobRunner(a.jobs, all(handler), opts({ replica: 'a', concurrency: 4 }));
  const rb = createJobRunner(b.jobs, all(handler), opts({ replica: 'b', concurrency: 4 }));
  ra.start();
  rb.start();
  try {
    await ra.idle(30_000);
    await rb.idle(30_000);
    assert.equal(overlap, 0);
    assert.deepEqual([...runs.keys()].sort((x, y) => x - y), ids);
    assert.ok([...runs.values()].every((n) => n === 1), JSON.stringify([...runs]));
    assert.ok(ra.stats().done.copy > 0 && rb.stats().done.copy > 0, 'both runners took part');
  } finally {
    await ra.stop();
    await rb.stop();
    await a.close();
    await b.close();
  }
});

test('a failing job keeps its error and attempts until it succeeds; the rate limit spaces job starts', async () => {
  const ix = openSqliteIndex(join(dir, 'fail.db'));
  const [bad] = await ix.jobs.enqueue(specs(1));
  let tries = 0;
  const starts: number[] = [];
  const runner = createJobRunner(ix.jobs, all(async (j) => {
    if (j.id === bad) {
      if (++tries < 3) throw new Error(`try ${tries} failed`);
      return { outcome: 'done' };
    }
    starts.push(Date.now());
    return { outcome: 'done' };
  }), opts({ concurrency: 1, jobsPerSecond: 20 }));
  runner.start();
  try {
    // Its first failure is on record while it waits for the next try.
    for (let i = 0; ; i++) {
      const s = await runner.refreshSummary();
      if (s.errors.length) {
        assert.deepEqual([s.errors[0]!.id, s.errors[0]!.lastError], [bad, 'try 1 failed']);
        assert.deepEqual(s.kinds.copy, { queued: 1, failing: 1 });
        break;
      }
      assert.ok(i < 200, 'no error recorded');
      await new Promise((r) => setTimeout(r, 25));
    }
    await runner.idle(20_000);
    assert.equal(tries, 3);
    assert.equal(runner.stats().failed.copy, 2);
    assert.equal((await ix.jobs.get(bad!)), undefined);
    // 20 jobs/s: starts at least 50 ms apart (a loaded machine only spaces them more).
    await ix.jobs.enqueue(specs(8));
    runner.kick();
    await runner.idle(20_000);
    assert.equal(starts.length, 8);
    for (let i = 1; i < starts.length; i++) assert.ok(starts[i]! - starts[i - 1]! >= 45, `starts ${starts.join(', ')}`);
  } finally {
    await runner.stop();
    await ix.close();
  }
});

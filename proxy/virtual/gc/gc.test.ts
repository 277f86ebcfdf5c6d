// Garbage collection over real MinIO backends, through the admin API, on sqlite and PostgreSQL
// indexes: an orphan put straight onto a backend (under the bucket's names and under a name of
// its own) is deleted once it is older than gc.minAge and kept while younger; an object a write
// intent or a queued copy job names (a write in flight: on its backend, its record not committed)
// and an object outside the bucket's names are never deleted; a record whose copy vanished is
// reported.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { startMinio, type Minio } from '../../backends/s3/minio.fixture.ts';
import { openS3Store, type S3Store } from '../../backends/s3/store.ts';
import { startPostgres, type PostgresServer } from '../../placement/postgres.fixture.ts';
import { startFront } from '../../front.ts';
import { createLogger } from '../../observability/log.ts';
import type { GcStatus } from '../../health/status.ts';
import { openVirtualStore, parseBalancingConfig } from '../index.ts';
import { freshGc, gcStateName } from './collect.ts';
import { freshRun, stateName } from '../origin/migrate.ts';
import { tempDir } from '../../../e2e/lib/gateway.ts';

const ADMIN = 'gc-admin-token-for-tests';
let minio: Minio;
let pg: PostgresServer;
let direct: S3Store;
let dir: string;

before(async () => {
  [minio, pg] = await Promise.all([startMinio(), startPostgres()]);
  direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  dir = tempDir('floodgate-gc-');
});

after(async () => {
  await direct?.close();
  await minio?.close();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const body = (s: string) => ({ body: Readable.from([Buffer.from(s)]), size: Buffer.byteLength(s), headers: { userMeta: {} }, checksums: {} });
const names = async (bucket: string) => (await direct.scan(bucket, { prefix: '', after: '', limit: 1000 })).map((m) => m.key).sort();

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`gc (${kind} index)`, () => {
    const [a, b] = [`gc-${kind}-a`, `gc-${kind}-b`];
    const config = (minAge: string, more: object[] = []) => parseBalancingConfig({
      backends: [a, b].map((n) => ({ name: n, endpoint: minio.endpoint, bucket: n, credentials: minio.credentials })),
      virtualBuckets: [{ name: 'tidy', backends: [a, b], strategy: 'round-robin' }, ...more],
      ...(kind === 'postgres' ? { index: { kind: 'postgres', url: pg.url, schema: 'gc_test' } } : {}),
      gc: { minAge },
      replica: `gc-${kind}`,
    });

    before(async () => { for (const n of [a, b, `${a}-origin`]) await direct.createBucket(n); });

    test('orphans go once older than minAge; in-flight writes, foreign objects and records stay; a missing copy is reported', async () => {
      const store = await openVirtualStore(config('1h'), { dataDir: join(dir, kind) });
      const gw = await startFront({
        store, virtual: store, adminToken: ADMIN, keys: () => undefined,
        host: '127.0.0.1', port: 0, domains: ['localhost'], region: 'us-east-1', idleTimeoutMs: 10_000, logger: createLogger('error'),
      });
      const admin = async (method: string, query = 'bucket=tidy') => {
        const r = await fetch(`${gw.url}/_floodgate/admin/gc?${query}`, { method, headers: { authorization: `Bearer ${ADMIN}` } });
        return { status: r.status, json: await r.json() as { queued?: string[]; runs: GcStatus[]; error?: string } };
      };
      const run = async () => {
        const started = await admin('POST');
        assert.equal(started.status, 200, JSON.stringify(started.json));
        assert.deepEqual(started.json.queued, [a, b]);
        assert.deepEqual((await admin('POST')).json.queued, [], 'a run going on is not queued twice');
        // Not jobs.idle(): the copy job held below stays queued.
        for (let i = 0; i < 600; i++) {
          const now = await admin('GET');
          if (now.json.runs.length === 2 && now.json.runs.every((r) => r.state === 'done')) return Object.fromEntries(now.json.runs.map((r) => [r.backend, r]));
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error('the gc runs did not finish');
      };
      try {
        const keys = Array.from({ length: 6 }, (_, i) => `k${i}`);
        for (const k of keys) await store.putObject('tidy', k, body(`value of ${k}`));
        const lost = (await store.index.get('tidy', 'k2'))!;
        await direct.deleteObject(lost.backend, 'tidy/k2');
        const orphans = ['tidy/orphan', '.floodgate/w/tidy/0123abcd/own-orphan'];
        for (const n of orphans) await direct.putObject(a, n, body('nobody knows me'));
        // Not one of the bucket's names (another bucket's data): never collected.
        await direct.putObject(a, 'other/keep', body('not ours'));
        await direct.putObject(a, '.floodgate/w/tidy/not-a-token!/x', body('not a name we make'));
        // A write in flight: on its backend, its intent recorded (by another replica), not committed.
        await store.index.beginIntent({ owner: 'another-replica', bucket: 'tidy', key: 'inflight', backend: a, op: 'put' });
        await direct.putObject(a, 'tidy/inflight', body('streaming'));
        // A copy being written by a copy job (held by another replica), its record not committed yet.
        const copying = '.floodgate/w/tidy/feedbeef/copying';
        await store.index.jobs.enqueue([{ kind: 'copy', bucket: 'tidy', key: 'copying', backend: a, location: copying, etag: 'e' }], { owner: 'another-replica/1/x', leaseMs: 3_600_000 });
        await direct.putObject(a, copying, body('half a copy'));

        assert.equal((await admin('POST', 'bucket=nope')).status, 404);
        assert.equal((await admin('POST', 'bucket=tidy&backend=nope')).status, 404);
        assert.equal((await fetch(`${gw.url}/_floodgate/admin/gc?bucket=tidy`, { method: 'POST' })).status, 401);

        // minAge 1h: every unreferenced object is young, nothing goes.
        const first = await run();
        assert.deepEqual([first[a]!.orphans, first[a]!.removed, first[a]!.young, first[b]!.orphans, first[b]!.young], [0, 0, 4, 0, 0]);
        assert.deepEqual([first[lost.backend]!.missing, first[lost.backend]!.missingKeys], [1, ['k2']], 'the vanished copy is reported');
        assert.equal(first[a]!.records + first[b]!.records, 12, 'each backend\'s run checks every record');
        assert.deepEqual((await names(a)).filter((n) => orphans.includes(n)), [...orphans].sort(), 'kept while young');

        // minAge 1s, and every object older than that: the orphans go, nothing else.
        await store.reload(config('1s'));
        await new Promise((r) => setTimeout(r, 1_500));
        const second = await run();
        assert.deepEqual([second[a]!.orphans, second[a]!.removed, second[a]!.young, second[a]!.errors, second[b]!.orphans], [2, 2, 0, 0, 0]);
        assert.equal(second[a]!.removedBytes, 2 * Buffer.byteLength('nobody knows me'));
        const left = await names(a);
        for (const n of orphans) assert.ok(!left.includes(n), `${n} collected`);
        for (const n of ['other/keep', '.floodgate/w/tidy/not-a-token!/x', 'tidy/inflight', copying]) assert.ok(left.includes(n), `${n} kept`);
        for (const k of keys.filter((x) => x !== 'k2')) {
          const r = await store.getObject('tidy', k, {});
          const chunks: Buffer[] = [];
          for await (const c of r.body!) chunks.push(c as Buffer);
          assert.equal(Buffer.concat(chunks).toString(), `value of ${k}`);
        }
        const metrics = await (await fetch(`${gw.url}/metrics`)).text();
        assert.match(metrics, new RegExp(`floodgate_gc_removed_objects\\{bucket="tidy",backend="${a}"\\} 2`));
        assert.match(metrics, new RegExp(`floodgate_gc_missing_copies\\{bucket="tidy",backend="${lost.backend}"\\} 1`));
        assert.match(metrics, new RegExp(`floodgate_gc_orphan_objects\\{bucket="tidy",backend="${a}"\\} 2`));
        const at = (name: string) => Number(new RegExp(`${name}\\{bucket="tidy",backend="${a}"\\} (\\S+)`).exec(metrics)?.[1]);
        assert.equal(at('floodgate_gc_last_started_timestamp_seconds'), Date.parse(second[a]!.startedAt) / 1000);
        assert.equal(at('floodgate_gc_last_finished_timestamp_seconds'), Date.parse(second[a]!.finishedAt!) / 1000);
        const st = store.status().virtualBuckets.find((v) => v.name === 'tidy')!;
        assert.equal(st.gc?.find((g) => g.backend === a)?.removed, 2, '/status shows the run');
      } finally {
        await gw.close();
        await store.close();
      }
    });

    test('gc.interval: runs start on their own, again once the last finished longer ago than the interval', async () => {
      const store = await openVirtualStore({ ...config('1s'), gc: { interval: 1_500, minAge: 1_000 } }, { dataDir: join(dir, kind) });
      try {
        const before = store.gc.status('tidy').find((g) => g.backend === b)?.startedAt ?? '';
        await direct.putObject(b, 'tidy/late-orphan', body('left behind'));
        const runOf = async (pred: (g: GcStatus) => boolean) => {
          for (let i = 0; i < 600; i++) {
            await store.gc.refresh();
            const g = store.gc.status('tidy').find((x) => x.backend === b);
            if (g && pred(g)) return g;
            await new Promise((r) => setTimeout(r, 100));
          }
          throw new Error(`no such gc run: ${JSON.stringify(store.gc.status('tidy'))}`);
        };
        // The orphan is younger than minAge at first: a later run collects it.
        const collected = await runOf((g) => g.state === 'done' && g.startedAt > before && g.removed === 1);
        assert.deepEqual((await names(b)).filter((n) => n.includes('late-orphan')), []);
        const later = await runOf((g) => g.state === 'done' && g.startedAt > collected.startedAt);
        assert.equal(later.removed, 0, 'nothing left to collect');
      } finally {
        await store.close();
      }
    });

    test('a gc run and a migration whose jobs are cancelled through DELETE /_floodgate/admin/jobs end cancelled, not running', async () => {
      // Both runs as another replica holds them: their states saved running, their jobs leased there.
      const moved = { name: 'moved', backends: [a, b], origin: { endpoint: minio.endpoint, bucket: `${a}-origin`, credentials: minio.credentials } };
      const store = await openVirtualStore(config('1h', [moved]), { dataDir: join(dir, kind) });
      const gw = await startFront({
        store, virtual: store, adminToken: ADMIN, keys: () => undefined,
        host: '127.0.0.1', port: 0, domains: ['localhost'], region: 'us-east-1', idleTimeoutMs: 10_000, logger: createLogger('error'),
      });
      const admin = async (method: string, path: string) => {
        const r = await fetch(`${gw.url}/_floodgate/admin/${path}`, { method, headers: { authorization: `Bearer ${ADMIN}` } });
        return { status: r.status, json: await r.json() as Record<string, unknown> };
      };
      const elsewhere = { owner: 'another-replica/1/x', leaseMs: 3_600_000 };
      try {
        const gcRun = freshGc('tidy', a);
        await store.index.setMeta(gcStateName('tidy', a), JSON.stringify(gcRun));
        const [gcId] = await store.index.jobs.enqueue([{ kind: 'gc', bucket: 'tidy', key: '', backend: a, progress: JSON.stringify(gcRun) }], elsewhere);
        const run = { ...freshRun(undefined, 'another-replica'), run: 7 };
        await store.index.setMeta(stateName('moved'), JSON.stringify(run));
        const [migrateId] = await store.index.jobs.enqueue([{ kind: 'migrate', bucket: 'moved', key: '', backend: '', progress: JSON.stringify(run) }], elsewhere);
        const gcOfA = async () => ((await admin('GET', 'gc?bucket=tidy')).json.runs as GcStatus[]).find((g) => g.backend === a)!;
        assert.equal((await gcOfA()).state, 'running');
        assert.equal((await admin('GET', 'migrations?bucket=moved')).json.state, 'counting');
        assert.deepEqual((await admin('POST', `gc?bucket=tidy&backend=${a}`)).json.queued, [], 'a run going on is not replaced');

        const gcCancel = await admin('DELETE', `jobs?id=${gcId}`);
        assert.equal(gcCancel.status, 200, JSON.stringify(gcCancel.json));
        const ended = await gcOfA();
        assert.deepEqual([ended.state, ended.startedAt, typeof ended.finishedAt], ['cancelled', gcRun.startedAt, 'string']);
        assert.equal(store.status().virtualBuckets.find((v) => v.name === 'tidy')!.gc!.find((g) => g.backend === a)!.state, 'cancelled', '/status shows it');
        const metrics = await (await fetch(`${gw.url}/metrics`)).text();
        assert.match(metrics, new RegExp(`floodgate_gc_running\\{bucket="tidy",backend="${a}"\\} 0`));
        assert.match(metrics, new RegExp(`floodgate_gc_cancelled\\{bucket="tidy",backend="${a}"\\} 1`));

        const migrateCancel = await admin('DELETE', `jobs?id=${migrateId}`);
        assert.equal(migrateCancel.status, 200, JSON.stringify(migrateCancel.json));
        const m = (await admin('GET', 'migrations?bucket=moved')).json;
        assert.deepEqual([m.run, m.state, typeof m.finishedAt], [7, 'cancelled', 'string']);
        assert.equal((await admin('DELETE', 'migrations?bucket=moved')).status, 404, 'nothing left running to cancel');
        assert.equal((await admin('DELETE', `jobs?id=${gcId}`)).status, 404);

        // A new gc run starts at once, and runs to its end here.
        assert.deepEqual((await admin('POST', `gc?bucket=tidy&backend=${a}`)).json.queued, [a]);
        for (let i = 0; i < 600 && (await gcOfA()).state !== 'done'; i++) await new Promise((r) => setTimeout(r, 100));
        assert.equal((await gcOfA()).state, 'done');
      } finally {
        await gw.close();
        await store.close();
      }
    });
  });
}

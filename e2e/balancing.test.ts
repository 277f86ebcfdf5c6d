// Balancing under failure, against real MinIO servers on 127.0.0.1:
//  - one backend is killed during a bounded mixed load: no acknowledged write is lost, writes
//    keep succeeding, reads of that backend's objects fail cleanly with 503 and succeed again
//    once it is back;
//  - the process holding the index is killed with SIGKILL mid-load: after a restart the index
//    and the backends agree, and every acknowledged write is there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { stringify } from 'yaml';
import { startMinios, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import type { S3Store } from '../proxy/backends/s3/store.ts';
import { S3Error } from '../proxy/s3/errors.ts';
import { openVirtualStore, openVirtualStoreFromFile, parseBalancingConfig, type VirtualStore } from '../proxy/virtual/index.ts';
import { OWN_NAMES, keyOfOwnName } from '../proxy/virtual/location.ts';

const ROOT = resolve(import.meta.dirname, '..');
let minios: Minio[] = [];
let direct: S3Store[] = [];
let dir: string;

before(async () => {
  ({ minios, direct } = await startMinios(3));
  dir = mkdtempSync(join(tmpdir(), 'floodgate-balancing-'));
});

after(async () => {
  for (const d of direct) await d.close();
  for (const m of minios) await m.close();
  rmSync(dir, { recursive: true, force: true });
});

function rawConfig(bucket: string, vb: string, extra: object = {}) {
  return {
    backends: minios.map((m, i) => ({ name: `minio-${i}`, endpoint: m.endpoint, bucket, credentials: m.credentials })),
    virtualBuckets: [{ name: vb, backends: minios.map((_, i) => `minio-${i}`), strategy: 'round-robin' }],
    health: { interval: '200ms', recoveryInterval: '100ms', failureThreshold: 2, recoveryThreshold: 2, probeTimeout: '1s' },
    timeouts: { connect: '1s', firstByte: '5s', idle: '5s' },
    ...extra,
  };
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

async function readAll(r: { body?: Readable }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r.body!) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Like an SDK: a 503 or a dropped connection is retried a few times with backoff. */
async function withRetries<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const retryable = e instanceof S3Error && (e.status >= 500 || e.code === 'RequestTimeout');
      if (!retryable || attempt >= 3) throw e;
      await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    }
  }
}

async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a backend killed during a mixed load: no acknowledged write lost, writes continue, its reads 503 then recover', async () => {
  const bucket = 'failover';
  for (const d of direct) await d.createBucket(bucket);
  const store = await openVirtualStore(parseBalancingConfig({ ...rawConfig(bucket, 'load'), index: { kind: 'sqlite', path: join(dir, 'failover.db') } }));
  try {
    const acked = new Map<string, string>();
    const put = async (key: string) => {
      const body = randomBytes(1 + Math.floor(Math.random() * 256 * 1024));
      await withRetries(() => store.putObject('load', key, { body: Readable.from([body]), size: body.length, headers: { userMeta: {} }, checksums: {} }));
      acked.set(key, md5(body));
    };
    for (let i = 0; i < 30; i++) await put(`pre/${i}`);
    const victim = 1;
    const placed = await Promise.all([...acked.keys()].map(async (k) => [k, (await store.index.get('load', k))!.backend] as const));
    const victimKeys = placed.filter(([, b]) => b === `minio-${victim}`).map(([k]) => k);
    assert.equal(victimKeys.length, 10);

    let ops = 0;
    let killed = false;
    const outcomes = { writes: 0, writeFailures: [] as string[], reads503: 0, readsOk: 0, readOther: [] as string[] };
    const deadline = Date.now() + 60_000;
    const worker = async (w: number) => {
      for (let i = 0; ops < 400 && Date.now() < deadline; i++) {
        const n = ops++;
        if (n === 120) { await minios[victim]!.stop('SIGKILL'); killed = true; }
        if (n % 3 === 0) {
          const k = victimKeys[n % victimKeys.length]!;
          try {
            const got = await store.getObject('load', k, {});
            assert.equal(md5(await readAll(got)), acked.get(k));
            outcomes.readsOk++;
          } catch (e) {
            if (e instanceof S3Error && e.status === 503 && /minio-1/.test(e.message) && killed) outcomes.reads503++;
            else outcomes.readOther.push(String(e));
          }
        } else {
          try {
            await put(`w${w}/${i}`);
            outcomes.writes++;
          } catch (e) {
            outcomes.writeFailures.push(`${(e as Error).message}`);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
    assert.deepEqual(outcomes.writeFailures, [], 'every write succeeded (with client retries)');
    assert.deepEqual(outcomes.readOther, [], 'reads either succeeded or failed with 503 naming the backend');
    assert.ok(outcomes.reads503 > 0, 'reads of the dead backend\'s objects answered 503');
    assert.equal(store.health.healthy(`minio-${victim}`), false);
    assert.equal(store.status().backends[victim]!.state, 'down');
    // Writes after the kill landed on the survivors only.
    const afterKill = [...acked.keys()].filter((k) => k.startsWith('w'));
    assert.ok(afterKill.length > 100);

    await minios[victim]!.start();
    await until(() => store.health.healthy(`minio-${victim}`), 'the backend marked up again');
    for (const [k, etag] of acked) {
      const got = await store.getObject('load', k, {});
      assert.equal(md5(await readAll(got)), etag, `acknowledged ${k} intact`);
    }
  } finally {
    await store.close();
  }
});

interface Listed { backend: string; etag: string; size: number }

/** Index and backends agree: every record has its copy; every copy is recorded; no key twice. */
async function assertAgree(store: VirtualStore, bucket: string, vb: string): Promise<Map<string, Listed>> {
  const onBackends = new Map<string, Listed>();
  for (let i = 0; i < direct.length; i++) {
    // A copy is at <vb>/<key>, or under a name of its own when that one was busy (virtual/location.ts).
    const copies = [
      ...(await direct[i]!.scan(bucket, { prefix: `${vb}/`, after: '', limit: 100_000 })).map((o) => ({ ...o, key: o.key.slice(vb.length + 1) })),
      ...(await direct[i]!.scan(bucket, { prefix: `${OWN_NAMES}${vb}/`, after: '', limit: 100_000 })).map((o) => ({ ...o, key: keyOfOwnName(vb, o.key)! })),
    ];
    for (const o of copies) {
      assert.ok(!onBackends.has(o.key), `${o.key} on two backends, or twice on one`);
      onBackends.set(o.key, { backend: `minio-${i}`, etag: o.etag, size: o.size });
    }
  }
  const records = await store.index.scan(vb, { prefix: '', after: '', limit: 100_000 });
  assert.deepEqual(
    records.map((r) => [r.key, r.backend, r.etag, r.size]),
    [...onBackends.entries()].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b))).map(([k, l]) => [k, l.backend, l.etag, l.size]),
  );
  return onBackends;
}

test('kill -9 of the process holding the index mid-load: after restart index and backends agree and acknowledged writes are there', async () => {
  const bucket = 'crashes';
  for (const d of direct) await d.createBucket(bucket);
  const configPath = join(dir, 'crash.yaml');
  writeFileSync(configPath, stringify({ ...rawConfig(bucket, 'crash'), replica: 'crash', index: { kind: 'sqlite', path: join(dir, 'crash.db') } }));
  for (let round = 0; round < 2; round++) {
    const child = spawn(process.execPath, [join(ROOT, 'proxy/virtual/crash-writer.fixture.ts'), configPath, dir, '3000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d; });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const state = new Map<string, { acked?: string | null; inflight?: string | null }>();
    let acks = 0;
    await new Promise<void>((resolveKill, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const m = JSON.parse(line) as { start?: string; ack?: string; key?: string; etag?: string; error?: string };
        if (m.error) reject(new Error(m.error));
        if (!m.key) return;
        const s = state.get(m.key) ?? {};
        const result = m.etag ?? null;
        if (m.start) s.inflight = result;
        if (m.ack) { s.acked = result; s.inflight = undefined; acks++; }
        state.set(m.key, s);
        if (acks === 150 + round * 100) { child.kill('SIGKILL'); resolveKill(); }
      });
      void exited.then(() => reject(new Error(`writer exited early: ${stderr}`)));
    }).catch((e: Error) => { if (!/exited early/.test(e.message) || acks < 150) throw e; });
    await exited;
    const store = await openVirtualStoreFromFile(configPath, { dataDir: dir });
    try {
      const records = await store.index.scan('crash', { prefix: '', after: '', limit: 100_000 });
      const byKey = new Map(records.map((r) => [r.key, r.etag]));
      for (const [key, s] of state) {
        const now = byKey.get(key) ?? null;
        const allowed = [s.acked === undefined ? null : s.acked, ...(s.inflight !== undefined ? [s.inflight] : [])];
        assert.ok(allowed.includes(now), `${key}: ${now} is neither the acknowledged state nor the interrupted write (${JSON.stringify(s)})`);
      }
      await assertAgree(store, bucket, 'crash');
      // What may still be pending: the removal of an interrupted write's own-named copy, deleted
      // again until its grace is over in case a late body lands (virtual/removals.ts).
      for (const i of await store.index.intents('crash')) assert.ok(i.op === 'put' && i.location, `only interrupted writes' removals pend: ${JSON.stringify(i)}`);
      for (let t = 0; (await store.index.intents('crash')).length && t < 600; t++) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(await store.index.intents('crash'), []);
      await assertAgree(store, bucket, 'crash');
      const usage = store.status().backends.reduce((t, b) => t + b.objects, 0);
      assert.equal(usage, records.length, 'usage counters match the records');
    } finally {
      await store.close();
    }
  }
});

// One of three real MinIO backends paused with SIGSTOP (its sockets accept and buffer, nothing is
// answered) behind a balancing gateway, driven by the AWS SDK through the gateway:
//  - requests that touch only the two healthy backends all succeed, however many: GETs while the
//    paused one is still believed up, and once it is down a mixed load of GETs, new PUTs and
//    overwrites from 4 workers, counted (every one answered within the client timeout);
//  - overwrites and deletes of objects whose copy is on the paused backend, in that same load,
//    are acknowledged within a client timeout far below the backend timeout, and the old copies
//    are gone from it after SIGCONT;
//  - PUTs caught by the pause and answered with an error never appear afterwards: not in a
//    listing, not to a GET, not after a reindex, and their late copies are removed from the backend.
// Everything is counted; background effects are awaited by polling, never by a fixed sleep.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startMinios, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import type { S3Store } from '../proxy/backends/s3/store.ts';
import { openVirtualStore, parseBalancingConfig, type VirtualStore } from '../proxy/virtual/index.ts';
import { startTestGateway, tempDir, until, type TestGateway } from './lib/gateway.ts';
import { bytes } from './lib/s3.ts';

const BUCKET = 'outage';
const VB = 'vbo';
/** Far below the backend timeouts (firstByte 20s): an answer that waits on the paused backend misses it. */
const CLIENT_TIMEOUT_MS = 4000;

let minios: Minio[] = [];
let direct: S3Store[] = [];
let dir: string;
let store: VirtualStore;
let gw: TestGateway;

function quick(): S3Client {
  return gw.client({ maxAttempts: 1, requestHandler: { requestTimeout: CLIENT_TIMEOUT_MS, throwOnRequestTimeout: true } });
}

const stateOf = (name: string) => store.status().backends.find((b) => b.name === name)?.state;

/** Backend-side names under the virtual bucket on backend i (any naming the gateway uses). */
async function namesOn(i: number): Promise<string[]> {
  const out: string[] = [];
  for (let after = ''; ;) {
    const page = await direct[i]!.scan(BUCKET, { prefix: '', after, limit: 1000 });
    out.push(...page.map((o) => o.key).filter((k) => !k.startsWith('.floodgate/index-marker/')));
    if (page.length < 1000) return out;
    after = page.at(-1)!.key;
  }
}

/** Whether some backend-side name on backend i belongs to `key`. */
const holds = (names: string[], key: string) => names.some((n) => n === `${VB}/${key}` || n.endsWith(`/${key}`) && n.includes(`/${VB}/`));

before(async () => {
  ({ minios, direct } = await startMinios(3));
  for (const d of direct) await d.createBucket(BUCKET);
  dir = tempDir('floodgate-outage-');
  store = await openVirtualStore(parseBalancingConfig({
    backends: minios.map((m, i) => ({ name: `m${i}`, endpoint: m.endpoint, bucket: BUCKET, credentials: m.credentials })),
    virtualBuckets: [{ name: VB, backends: ['m0', 'm1', 'm2'], strategy: 'round-robin' }],
    index: { kind: 'sqlite', path: join(dir, 'index.db') },
    health: { interval: '200ms', recoveryInterval: '200ms', failureThreshold: 2, recoveryThreshold: 2, probeTimeout: '500ms' },
    timeouts: { connect: '1s', firstByte: '20s', idle: '20s' },
  }));
  gw = await startTestGateway({ store });
});

after(async () => {
  for (const m of minios) m.resume();
  await gw?.close();
  for (const d of direct) await d.close();
  for (const m of minios) await m.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a paused backend: GETs of the healthy ones all succeed; overwrites and deletes of its objects are acknowledged and its old copies go after SIGCONT', { timeout: 240_000 }, async () => {
  const c = gw.client();
  const keys = Array.from({ length: 45 }, (_, i) => `g/${i}`);
  for (const k of keys) await c.send(new PutObjectCommand({ Bucket: VB, Key: k, Body: `v1 ${k}` }));
  const where = new Map<string, string>();
  for (const k of keys) where.set(k, (await store.locate(VB, k))!);
  const onPaused = keys.filter((k) => where.get(k) === 'm2');
  const onHealthy = keys.filter((k) => where.get(k) !== 'm2');
  assert.ok(onPaused.length >= 10 && onHealthy.length >= 20, 'round-robin spread the keys over the three backends');

  minios[2]!.pause();
  try {
    // Reads of the healthy backends while the paused one is still believed up, and after it is
    // down, with two writers overwriting some of those keys meanwhile (their answers do not count:
    // round-robin sends some of them to the paused backend).
    const q = quick();
    let ok = 0;
    const N = 200;
    const failures: string[] = [];
    let reading = true;
    const hot = onHealthy.slice(0, 4);
    const writers = Array.from({ length: 2 }, async (_, w) => {
      for (let i = 0; reading; i++) {
        const k = hot[(w + i) % hot.length]!;
        await q.send(new PutObjectCommand({ Bucket: VB, Key: k, Body: `v${100 + i} ${k}` })).catch(() => {});
      }
    });
    await Promise.all(Array.from({ length: 4 }, async (_, w) => {
      for (let i = w; i < N; i += 4) {
        const k = onHealthy[i % onHealthy.length]!;
        try {
          const body = (await bytes((await q.send(new GetObjectCommand({ Bucket: VB, Key: k }))).Body)).toString();
          if (new RegExp(`^v\\d+ ${k}$`).test(body)) ok++;
          else failures.push(`${k}: wrong body ${body}`);
        } catch (e) {
          failures.push(`${k}: ${(e as Error).name} ${(e as Error).message}`);
        }
      }
    }));
    reading = false;
    await writers;
    assert.deepEqual(failures.slice(0, 5), []);
    assert.equal(ok, N, 'every GET of an object on a healthy backend succeeded');

    await until('the paused backend marked down', () => stateOf('m2') === 'down');
    // With it down, one bounded mixed load from 4 workers: overwrites (half) and deletes (half) of
    // the objects whose copy is on the paused backend, among GETs of objects on the healthy ones,
    // PUTs of new keys and overwrites of keys on the healthy ones. Every one must be answered,
    // within the client timeout: none of them needs the paused backend (old copies there are
    // removed in the background).
    const overwritten = onPaused.filter((_, i) => i % 2 === 0);
    const deleted = onPaused.filter((_, i) => i % 2 === 1);
    const fresh = Array.from({ length: 40 }, (_, i) => `n/${i}`);
    const kinds = { paused: 0, healthy: 0 };
    const refused: string[] = [];
    const op = (what: string, onPausedCopy: boolean, run: () => Promise<void>) => async () => {
      try { await run(); kinds[onPausedCopy ? 'paused' : 'healthy']++; } catch (e) { refused.push(`${what}: ${(e as Error).name} ${(e as Error).message}`); }
    };
    const getBody = async (k: string) => (await bytes((await q.send(new GetObjectCommand({ Bucket: VB, Key: k }))).Body)).toString();
    const queue = [
      ...overwritten.map((k) => op(`put ${k}`, true, async () => { await q.send(new PutObjectCommand({ Bucket: VB, Key: k, Body: `v2 ${k}` })); })),
      ...deleted.map((k) => op(`delete ${k}`, true, async () => { await q.send(new DeleteObjectCommand({ Bucket: VB, Key: k })); })),
      ...fresh.map((k) => op(`put ${k}`, false, async () => { await q.send(new PutObjectCommand({ Bucket: VB, Key: k, Body: `new ${k}` })); })),
      ...hot.map((k) => op(`overwrite ${k}`, false, async () => { await q.send(new PutObjectCommand({ Bucket: VB, Key: k, Body: `v3 ${k}` })); })),
      ...Array.from({ length: 80 }, (_, i) => onHealthy.filter((k) => !hot.includes(k))[i % (onHealthy.length - hot.length)]!).map((k) => op(`get ${k}`, false, async () => {
        assert.match(await getBody(k), new RegExp(`^v\\d+ ${k}$`));
      })),
    ];
    // Interleaved (a fixed stride, prime to the length, through the list): each kind among the others.
    const stride = [7, 11, 13].find((n) => queue.length % n !== 0)!;
    const order = queue.map((_, i) => queue[(i * stride) % queue.length]!);
    assert.equal(new Set(order).size, queue.length);
    const started = Date.now();
    await Promise.all(Array.from({ length: 4 }, async () => { for (let f = order.shift(); f; f = order.shift()) await f(); }));
    const seconds = (Date.now() - started) / 1000;
    console.log(`with m2 down: ${queue.length} requests from 4 workers in ${seconds.toFixed(1)} s (${(queue.length / seconds).toFixed(0)}/s), ${onPaused.length} of them on objects with a copy on m2`);
    assert.deepEqual(refused, []);
    assert.deepEqual(kinds, { paused: onPaused.length, healthy: queue.length - onPaused.length }, 'every request was answered within the client timeout');
    for (const k of fresh) {
      assert.notEqual(await store.locate(VB, k), 'm2', `${k} placed on a healthy backend`);
      assert.equal(await getBody(k), `new ${k}`);
    }
    for (const k of hot) assert.equal(await getBody(k), `v3 ${k}`);
    for (const k of overwritten) assert.equal((await bytes((await q.send(new GetObjectCommand({ Bucket: VB, Key: k }))).Body)).toString(), `v2 ${k}`);
    for (const k of deleted) await assert.rejects(q.send(new GetObjectCommand({ Bucket: VB, Key: k })), (e: Error) => e.name === 'NoSuchKey');
    const listed = ((await q.send(new ListObjectsV2Command({ Bucket: VB, Prefix: 'g/' }))).Contents ?? []).map((o) => o.Key);
    assert.deepEqual(listed.filter((k) => deleted.includes(k!)), []);
  } finally {
    minios[2]!.resume();
  }
  await until('the paused backend up again', () => stateOf('m2') === 'up');
  // Whether or not the sweeper has got to them yet, read repair never brings a deleted object back.
  for (const k of onPaused.filter((_, i) => i % 2 === 1)) await assert.rejects(c.send(new GetObjectCommand({ Bucket: VB, Key: k })), (e: Error) => e.name === 'NoSuchKey', `deleted ${k} stays deleted`);
  await until('the old copies removed from the backend that was paused', async () => {
    const names = await namesOn(2);
    return onPaused.every((k) => !holds(names, k)) || undefined;
  }, 90_000);
  for (const k of onPaused.filter((_, i) => i % 2 === 0)) {
    assert.equal((await bytes((await c.send(new GetObjectCommand({ Bucket: VB, Key: k }))).Body)).toString(), `v2 ${k}`);
  }
});

test('PUTs caught by a paused backend and answered with an error never appear: not listed, not served, not after a reindex', { timeout: 240_000 }, async () => {
  // No client timeout: each error is the gateway's own answer (its backend timed out), not a guess.
  const q = gw.client({ maxAttempts: 1 });
  const answered = new Map<string, 'ok' | 'error'>();
  let stop = false;
  const writers = Array.from({ length: 4 }, async (_, w) => {
    for (let i = 0; !stop && i < 400; i++) {
      const k = `p/${w}/${i}`;
      try {
        await q.send(new PutObjectCommand({ Bucket: VB, Key: k, Body: `body of ${k}` }));
        answered.set(k, 'ok');
      } catch {
        answered.set(k, 'error');
      }
    }
  });
  await until('some PUTs acknowledged', () => answered.size >= 12);
  minios[1]!.pause();
  try {
    await until('PUTs answered with an error while paused', () => [...answered.values()].filter((v) => v === 'error').length >= 3, 120_000);
    await until('the paused backend marked down', () => stateOf('m1') === 'down');
    const at = answered.size;
    await until('PUTs acknowledged with it down', () => answered.size >= at + 12);
  } finally {
    minios[1]!.resume();
    stop = true;
  }
  await Promise.all(writers);
  await until('the paused backend up again', () => stateOf('m1') === 'up');
  const errors = [...answered].filter(([, v]) => v === 'error').map(([k]) => k);
  const oks = [...answered].filter(([, v]) => v === 'ok').map(([k]) => k);
  assert.ok(errors.length >= 3 && oks.length >= 24, `${errors.length} refused, ${oks.length} acknowledged`);

  const c = gw.client();
  const check = async (when: string) => {
    const listed = new Set<string>();
    let token: string | undefined;
    do {
      const r = await c.send(new ListObjectsV2Command({ Bucket: VB, Prefix: 'p/', ContinuationToken: token }));
      for (const o of r.Contents ?? []) listed.add(o.Key!);
      token = r.NextContinuationToken;
    } while (token);
    assert.deepEqual(errors.filter((k) => listed.has(k)), [], `${when}: no refused PUT is listed`);
    assert.deepEqual(oks.filter((k) => !listed.has(k)), [], `${when}: every acknowledged PUT is listed`);
    for (const k of errors) await assert.rejects(c.send(new GetObjectCommand({ Bucket: VB, Key: k })), (e: Error) => e.name === 'NoSuchKey', `${when}: GET ${k}`);
  };
  // The late copies that MinIO stored after SIGCONT are removed from it in the background.
  await until('no copy of a refused PUT on any backend', async () => {
    const names = (await Promise.all([0, 1, 2].map(namesOn))).flat();
    return errors.every((k) => !holds(names, k)) || undefined;
  }, 120_000);
  await check('after recovery');
  const report = await store.reindex();
  assert.deepEqual(report.unreachable, []);
  await check('after a reindex');
});

test('a refused PUT whose copy lands late, after a first removal and across a gateway restart, is never adopted: not by read repair, not by recovery, not by a reindex', { timeout: 240_000 }, async () => {
  const soloBucket = 'outage-solo';
  await direct[0]!.createBucket(soloBucket);
  const config = parseBalancingConfig({
    backends: [{ name: 'solo', endpoint: minios[0]!.endpoint, bucket: soloBucket, credentials: minios[0]!.credentials }],
    virtualBuckets: [{ name: 'vbs1', backends: ['solo'] }],
    index: { kind: 'sqlite', path: join(dir, 'solo.db') },
    health: { interval: '200ms', recoveryInterval: '200ms', failureThreshold: 2, recoveryThreshold: 2, probeTimeout: '500ms' },
    timeouts: { connect: '1s', firstByte: '1500ms', idle: '2s' },
  });
  let solo = await openVirtualStore(config);
  let g = await startTestGateway({ store: solo });
  const late = async () => {
    try { await direct[0]!.getObject(soloBucket, 'vbs1/late', { head: true }); return true; } catch { return false; }
  };
  try {
    minios[0]!.pause();
    try {
      const err = await g.client({ maxAttempts: 1 }).send(new PutObjectCommand({ Bucket: 'vbs1', Key: 'late', Body: 'refused body' })).then(() => undefined, (e: { $metadata?: { httpStatusCode?: number } }) => e);
      assert.equal(err?.$metadata?.httpStatusCode, 503, 'the PUT is answered 503 by the gateway');
    } finally {
      minios[0]!.resume();
    }
    await until('the backend up again', () => solo.status().backends[0]?.state === 'up');
    await until('a first removal of the refused copy', async () => !(await late()));
    // MinIO finishing a body it had buffered while paused, after that first removal.
    await direct[0]!.putObject(soloBucket, 'vbs1/late', { body: Readable.from([Buffer.from('refused body')]), size: 12, headers: { userMeta: {} }, checksums: {} });
    const c = g.client();
    await assert.rejects(c.send(new GetObjectCommand({ Bucket: 'vbs1', Key: 'late' })), (e: Error) => e.name === 'NoSuchKey', 'read repair does not adopt it');
    await g.close();
    solo = await openVirtualStore(config);
    g = await startTestGateway({ store: solo });
    await assert.rejects(g.client().send(new GetObjectCommand({ Bucket: 'vbs1', Key: 'late' })), (e: Error) => e.name === 'NoSuchKey', 'nor after a restart');
    const report = await solo.reindex();
    assert.equal(report.added, 0, 'nor by a reindex');
    assert.deepEqual((await g.client().send(new ListObjectsV2Command({ Bucket: 'vbs1' }))).Contents ?? [], []);
    await until('the late copy removed', async () => !(await late()), 90_000);
    await assert.rejects(g.client().send(new GetObjectCommand({ Bucket: 'vbs1', Key: 'late' })), (e: Error) => e.name === 'NoSuchKey');
  } finally {
    await g.close();
  }
});

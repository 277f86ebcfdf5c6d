// The virtual store over real MinIO buckets (one MinIO, one bucket per backend), checked by
// looking at what the backends really hold.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { S3Error } from '../s3/errors.ts';
import type { PutInput } from '../store/types.ts';
import { startMinio, freePort, type Minio } from '../backends/s3/minio.fixture.ts';
import { openS3Store, type S3Store } from '../backends/s3/store.ts';
import { openVirtualStore, parseBalancingConfig, type VirtualStore } from './index.ts';
import type { BalancingConfigInput } from './config.ts';
import { decodeUploadId } from './upload-id.ts';

let minio: Minio;
let direct: S3Store;
let dir: string;
let n = 0;
const stores: VirtualStore[] = [];

before(async () => {
  minio = await startMinio();
  direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  dir = mkdtempSync(join(tmpdir(), 'floodgate-virtual-'));
});

after(async () => {
  for (const s of stores) await s.close();
  await direct?.close();
  await minio?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Fresh backend buckets and a virtual store over them. */
async function setup(names: string[], vbs: BalancingConfigInput['virtualBuckets'], extra: Partial<BalancingConfigInput> = {}, backendExtra: Record<string, object> = {}) {
  const run = n++;
  const bucketOf = (name: string) => `t${run}-${name}`;
  for (const name of names) await direct.createBucket(bucketOf(name));
  const raw: BalancingConfigInput = {
    backends: names.map((name) => ({
      name, endpoint: minio.endpoint, bucket: bucketOf(name), credentials: minio.credentials, ...backendExtra[name],
    })),
    virtualBuckets: vbs,
    index: { kind: 'sqlite', path: join(dir, `index-${run}.db`) },
    replica: `test-${run}`,
    health: { interval: '100ms', recoveryInterval: '50ms', failureThreshold: 2, recoveryThreshold: 1, probeTimeout: '2s' },
    ...extra,
  };
  const config = parseBalancingConfig(raw);
  const store = await openVirtualStore(config);
  stores.push(store);
  return { store, config, raw, bucketOf, async held(name: string, prefix = '') { return (await direct.scan(bucketOf(name), { prefix, after: '', limit: 10_000 })).map((o) => o.key); } };
}

function input(data: Buffer | string, extra: Partial<PutInput> = {}): PutInput {
  const b = Buffer.from(data);
  return { body: Readable.from([b]), size: b.length, headers: { userMeta: {} }, checksums: {}, ...extra };
}

async function text(r: { body?: Readable }): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of r.body!) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

async function code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  assert.ok(e instanceof S3Error, `expected an S3Error, got ${String(e)}`);
  return e.code;
}

test('objects round-trip under namespaced backend keys; two virtual buckets sharing backends never collide', async () => {
  const { store, held } = await setup(['a', 'b'], [{ name: 'photos', backends: ['a', 'b'] }, { name: 'videos', backends: ['a', 'b'] }]);
  const r = await store.putObject('photos', 'x/1.txt', input('photo', { headers: { contentType: 'text/plain', userMeta: { who: 'ü' } }, checksums: { crc32: 'AAAAAA==' } }));
  assert.equal(r.etag, createHash('md5').update('photo').digest('hex'));
  await store.putObject('videos', 'x/1.txt', input('video'));
  const g = await store.getObject('photos', 'x/1.txt', {});
  assert.equal(await text(g), 'photo');
  assert.equal(g.meta.contentType, 'text/plain');
  assert.deepEqual(g.meta.userMeta, { who: 'ü' });
  assert.deepEqual(g.meta.checksums, { crc32: 'AAAAAA==' });
  assert.equal(await text(await store.getObject('videos', 'x/1.txt', {})), 'video');
  assert.deepEqual([...await held('a'), ...await held('b')].sort(), ['photos/x/1.txt', 'videos/x/1.txt']);
  assert.deepEqual((await store.scan('photos', { prefix: '', after: '', limit: 10 })).map((o) => o.key), ['x/1.txt']);
  await store.deleteObject('photos', 'x/1.txt');
  assert.equal(await code(store.getObject('photos', 'x/1.txt', {})), 'NoSuchKey');
  // The backend's DELETE runs after the answer; its remove job is done with it.
  await store.jobs.idle(20_000);
  assert.deepEqual([...await held('a'), ...await held('b')], ['videos/x/1.txt']);
  assert.equal(await code(store.getObject('nope', 'k', {})), 'NoSuchBucket');
  assert.equal(await code(store.putObject('nope', 'k', input('x'))), 'NoSuchBucket');
});

test('buckets come from the configuration: listed, HEADed; not created or deleted through S3', async () => {
  const { store } = await setup(['a'], [{ name: 'one', backends: ['a'] }, { name: 'two', backends: ['a'] }]);
  assert.deepEqual((await store.listBuckets()).map((b) => b.name), ['one', 'two']);
  assert.equal((await store.headBucket('one')).name, 'one');
  assert.equal(await code(store.headBucket('three')), 'NoSuchBucket');
  assert.equal(await code(store.createBucket('one')), 'BucketAlreadyOwnedByYou');
  assert.equal(await code(store.createBucket('three')), 'AccessDenied');
  await store.putObject('one', 'k', input('v'));
  assert.equal(await code(store.deleteBucket('one')), 'BucketNotEmpty');
  assert.equal(await code(store.deleteBucket('two')), 'AccessDenied');
});

test('round-robin spreads objects evenly; an overwrite landing elsewhere removes the old copy', async () => {
  const { store, held } = await setup(['a', 'b', 'c'], [{ name: 'rrb', backends: ['a', 'b', 'c'], strategy: 'round-robin' }]);
  for (let i = 0; i < 30; i++) await store.putObject('rrb', `k${i}`, input(`v${i}`));
  assert.deepEqual([(await held('a')).length, (await held('b')).length, (await held('c')).length], [10, 10, 10]);
  // k0 is on a; the next write goes to a, then b: overwrite k0 twice.
  await store.putObject('rrb', 'k0', input('again'));
  await store.putObject('rrb', 'k0', input('and again'));
  const where = ['a', 'b', 'c'];
  assert.equal(await text(await store.getObject('rrb', 'k0', {})), 'and again');
  const s = store.status();
  assert.equal(s.backends.reduce((t, b) => t + b.objects, 0), 30);
  // The replaced copies are removed in the background: bounded wait until the backends hold
  // what the index counts.
  const look = async () => {
    const names = await Promise.all(where.map((w) => held(w)));
    return { holders: where.filter((_, i) => names[i]!.includes('rrb/k0')), counts: names.map((n) => n.length) };
  };
  const want = where.map((w) => s.backends.find((b) => b.name === w)!.objects);
  let seen = await look();
  for (let i = 0; i < 100 && (seen.holders.length !== 1 || seen.counts.join() !== want.join()); i++) {
    await new Promise((r) => setTimeout(r, 100));
    seen = await look();
  }
  assert.equal(seen.holders.length, 1, `one copy, found on ${seen.holders}`);
  assert.deepEqual(seen.counts, want, 'the usage of each backend follows its objects');
});

test('rendezvous keeps a key on one backend across overwrites; weighted follows weights; most-free-space fills the emptier', async () => {
  const { store, held } = await setup(['a', 'b', 'c'], [
    { name: 'hash', backends: ['a', 'b', 'c'], strategy: 'rendezvous' },
    { name: 'weights', backends: ['a', 'b'], strategy: 'weighted' },
    { name: 'space', backends: ['b', 'c'], strategy: 'most-free-space' },
  ], {}, { a: { weight: 3 }, b: { weight: 1, maxSize: '1Mi' }, c: { maxSize: '1Mi' } });
  for (let i = 0; i < 5; i++) await store.putObject('hash', 'same-key', input(`v${i}`));
  // An overwrite may take a name of its own (.floodgate/w/…) while the replaced copy is removed in the background.
  const copiesOf = async () => {
    const out: string[] = [];
    for (const w of ['a', 'b', 'c']) for (const p of ['hash/', '.floodgate/w/hash/']) out.push(...(await held(w, p)).map((k) => `${w}:${k}`));
    return out;
  };
  for (let i = 0; (await copiesOf()).length !== 1 && i < 200; i++) await new Promise((r) => setTimeout(r, 50));
  const copies = await copiesOf();
  assert.equal(copies.length, 1, copies.join(', '));
  assert.equal(await text(await store.getObject('hash', 'same-key', {})), 'v4');
  for (let i = 0; i < 40; i++) await store.putObject('weights', `w${i}`, input('x'));
  assert.deepEqual([(await held('a', 'weights/')).length, (await held('b', 'weights/')).length], [30, 10]);
  // b already holds 10 objects from "weights"; c is empty: c fills until they are even.
  for (let i = 0; i < 10; i++) await store.putObject('space', `s${i}`, input('y'));
  assert.deepEqual([(await held('b', 'space/')).length, (await held('c', 'space/')).length], [0, 10]);
});

test('capacity: a full backend takes no writes; with every backend full the write is refused with 503', async () => {
  const { store, held } = await setup(['a', 'b'], [{ name: 'cap', backends: ['a', 'b'] }], {}, { a: { maxSize: 100 }, b: { maxSize: 1000 } });
  await store.putObject('cap', 'big', input(Buffer.alloc(500)));
  assert.deepEqual(await held('b'), ['cap/big']);
  await store.putObject('cap', 'small', input(Buffer.alloc(60)));
  await store.putObject('cap', 'small2', input(Buffer.alloc(60)));
  assert.deepEqual(await held('a'), ['cap/small']);
  assert.deepEqual((await held('b')).sort(), ['cap/big', 'cap/small2']);
  const e = await store.putObject('cap', 'huge', input(Buffer.alloc(600))).catch((err: S3Error) => err);
  assert.ok(e instanceof S3Error && e.code === 'ServiceUnavailable');
  assert.match(e.message, /a: full.*b: full/);
  // Deletes give the space back.
  await store.deleteObject('cap', 'big');
  await store.putObject('cap', 'huge', input(Buffer.alloc(600)));
  assert.deepEqual(store.status().backends.map((b) => [b.name, b.usedBytes, b.freeBytes]), [['a', 60, 40], ['b', 660, 340]]);
});

test('write conditions are judged on the index', async () => {
  const { store } = await setup(['a', 'b'], [{ name: 'cond', backends: ['a', 'b'] }]);
  const r = await store.putObject('cond', 'k', input('1', { conditions: { ifNoneMatch: '*' } }));
  assert.equal(await code(store.putObject('cond', 'k', input('2', { conditions: { ifNoneMatch: '*' } }))), 'PreconditionFailed');
  assert.equal(await code(store.putObject('cond', 'k', input('2', { conditions: { ifMatch: 'nope' } }))), 'PreconditionFailed');
  assert.equal(await code(store.putObject('cond', 'missing', input('2', { conditions: { ifMatch: r.etag } }))), 'NoSuchKey');
  await store.putObject('cond', 'k', input('2', { conditions: { ifMatch: r.etag } }));
  assert.equal(await code(store.getObject('cond', 'k', { conditions: { ifNoneMatch: `"${createHash('md5').update('2').digest('hex')}"` } })), 'NotModified');
  const ranged = await store.getObject('cond', 'k', { range: { start: 0, end: 0 } });
  assert.deepEqual(ranged.range, { start: 0, end: 0 });
  assert.equal(await text(ranged), '2');
});

test('a read that misses the index finds the object on a backend and repairs the index; a stale record is corrected', async () => {
  const { store, bucketOf } = await setup(['a', 'b'], [{ name: 'rep', backends: ['a', 'b'] }]);
  // Written straight to backend b, as if the index had lost it.
  await direct.putObject(bucketOf('b'), 'rep/lost', input('found me', { headers: { contentType: 'text/x-lost', userMeta: { m: '1' } } }));
  assert.equal(await store.index.get('rep', 'lost'), undefined);
  const g = await store.getObject('rep', 'lost', {});
  assert.equal(await text(g), 'found me');
  assert.equal(g.meta.contentType, 'text/x-lost');
  const rec = await store.index.get('rep', 'lost');
  assert.equal(rec?.backend, 'b');
  assert.deepEqual(rec?.userMeta, { m: '1' });
  assert.deepEqual((await store.scan('rep', { prefix: '', after: '', limit: 10 })).map((o) => o.key), ['lost']);
  // Changed behind the gateway's back: served as it is now, index corrected.
  await direct.putObject(bucketOf('b'), 'rep/lost', input('changed'));
  assert.equal(await text(await store.getObject('rep', 'lost', {})), 'changed');
  assert.equal((await store.index.get('rep', 'lost'))?.etag, createHash('md5').update('changed').digest('hex'));
  // Deleted behind its back: NoSuchKey, and the record goes.
  await direct.deleteObject(bucketOf('b'), 'rep/lost');
  assert.equal(await code(store.getObject('rep', 'lost', {})), 'NoSuchKey');
  assert.equal(await store.index.get('rep', 'lost'), undefined);
  assert.deepEqual(store.status().backends.map((b) => b.objects), [0, 0]);
});

test('multipart: pinned to one backend, id names it, parts checksums kept, abandoned uploads swept', async () => {
  const { store, held, bucketOf } = await setup(['a', 'b'], [{ name: 'mpu', backends: ['a', 'b'] }], { uploads: { maxAge: '1h', sweepInterval: '1h' } });
  const id = await store.createMultipartUpload('mpu', 'big', { contentType: 'video/x', userMeta: { k: 'v' } }, 'crc32');
  const where = decodeUploadId(id)!;
  assert.equal(where.backend, 'a');
  const p1 = randomBytes(5 * 1024 * 1024);
  const r1 = await store.uploadPart('mpu', 'big', id, 1, input(p1, { checksums: { crc32: 'AAAAAQ==' } }));
  const r2 = await store.uploadPart('mpu', 'big', id, 2, input('tail', { checksums: { crc32: 'AAAAAg==' } }));
  assert.equal(await code(store.uploadPart('mpu', 'other-key', id, 1, input('x'))), 'NoSuchUpload');
  assert.equal(await code(store.uploadPart('mpu', 'big', 'bogus', 1, input('x'))), 'NoSuchUpload');
  const listed = await store.listParts('mpu', 'big', id, 0, 100);
  assert.deepEqual(listed.parts.map((p) => [p.partNumber, p.checksums.crc32]), [[1, 'AAAAAQ=='], [2, 'AAAAAg==']]);
  assert.equal(listed.upload.checksumAlgorithm, 'crc32');
  assert.deepEqual((await store.listMultipartUploads('mpu', { prefix: '', keyMarker: '', uploadIdMarker: '', limit: 10 })).map((u) => u.uploadId), [id]);
  assert.equal(await code(store.completeMultipartUpload('mpu', 'big', id, [
    { partNumber: 1, etag: r1.etag, checksums: { crc32: 'AAAAAw==' } }, { partNumber: 2, etag: r2.etag, checksums: {} },
  ])), 'InvalidPart');
  const meta = await store.completeMultipartUpload('mpu', 'big', id, [
    { partNumber: 1, etag: r1.etag, checksums: { crc32: 'AAAAAQ==' } }, { partNumber: 2, etag: r2.etag, checksums: { crc32: 'AAAAAg==' } },
  ]);
  assert.match(meta.etag, /-2$/);
  assert.equal(meta.size, p1.length + 4);
  assert.equal(meta.checksumType, 'COMPOSITE');
  assert.match(meta.checksums.crc32!, /-2$/);
  assert.deepEqual(await held('a'), ['mpu/big']);
  const g = await store.getObject('mpu', 'big', { head: true });
  assert.equal(g.meta.contentType, 'video/x');
  assert.deepEqual(g.meta.userMeta, { k: 'v' });
  assert.equal(g.meta.partsCount, 2);
  // GetObject/HeadObject by partNumber go to the backend, which knows the part boundaries.
  const part2 = await store.getObject('mpu', 'big', { partNumber: 2 });
  assert.deepEqual(part2.range, { start: p1.length, end: p1.length + 3 });
  assert.equal(await text(part2), 'tail');
  assert.deepEqual((await store.getObject('mpu', 'big', { partNumber: 1, head: true })).range, { start: 0, end: p1.length - 1 });
  assert.deepEqual(await store.listMultipartUploads('mpu', { prefix: '', keyMarker: '', uploadIdMarker: '', limit: 10 }), []);
  // An abandoned upload is aborted on its backend by the sweep.
  const old = await store.createMultipartUpload('mpu', 'abandoned', { userMeta: {} });
  const u = decodeUploadId(old)!;
  await store.uploadPart('mpu', 'abandoned', old, 1, input('part'));
  const rec = (await store.index.getUpload(old))!;
  await store.index.putUpload({ ...rec, initiated: new Date(Date.now() - 2 * 3_600_000) });
  assert.equal(await store.sweepUploads(), 1);
  assert.equal(await code(direct.listParts(bucketOf(u.backend), 'mpu/abandoned', u.backendUploadId, 0, 10)), 'NoSuchUpload');
  assert.equal(await code(store.listParts('mpu', 'abandoned', old, 0, 10)), 'NoSuchUpload');
  const third = await store.createMultipartUpload('mpu', 'aborted', { userMeta: {} });
  await store.abortMultipartUpload('mpu', 'aborted', third);
  assert.equal(await code(store.abortMultipartUpload('mpu', 'aborted', third)), 'NoSuchUpload');
});

test('redirect mode hands out presigned backend URLs; proxy-mode buckets get none', async () => {
  const { store } = await setup(['a'], [{ name: 'redir', backends: ['a'], mode: 'redirect', redirectExpiry: '30s' }, { name: 'prox', backends: ['a'] }]);
  await store.putObject('redir', 'file name.txt', input('redirected', { headers: { contentType: 'text/plain', userMeta: {} } }));
  await store.putObject('prox', 'k', input('x'));
  assert.equal(store.isRedirectBucket('redir'), true);
  const url = await store.redirectUrl('redir', 'file name.txt', { query: [['response-content-disposition', 'attachment'], ['other', 'dropped']] });
  assert.ok(url);
  assert.equal(url.searchParams.get('X-Amz-Expires'), '30');
  assert.equal(url.searchParams.get('other'), null);
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'redirected');
  assert.equal(res.headers.get('content-disposition'), 'attachment');
  assert.equal(await store.redirectUrl('prox', 'k'), undefined);
  assert.equal(await code(store.redirectUrl('redir', 'missing')), 'NoSuchKey');
});

test('reindex rebuilds a lost index from the backends, with metadata, and reports strays', async () => {
  const first = await setup(['a', 'b'], [{ name: 'rix', backends: ['a', 'b'] }, { name: 'rixx', backends: ['b'] }]);
  for (let i = 0; i < 25; i++) await first.store.putObject('rix', `k/${String(i).padStart(2, '0')}`, input(`v${i}`, { headers: { contentType: `t/${i}`, userMeta: { i: String(i) } } }));
  await first.store.putObject('rixx', 'only', input('o'));
  // A stray: the same key on the other backend, older.
  const onA = (await first.store.index.get('rix', 'k/00'))!.backend === 'a';
  await direct.putObject(first.bucketOf(onA ? 'b' : 'a'), 'rix/k/00', input('stray'));
  await first.store.close();
  // A fresh, empty index over the same backends.
  const raw = { ...first.raw, index: { kind: 'sqlite' as const, path: join(dir, `reindexed-${n}.db`) } };
  const store = await openVirtualStore(parseBalancingConfig(raw));
  stores.push(store);
  assert.deepEqual(await store.scan('rix', { prefix: '', after: '', limit: 100 }), []);
  const report = await store.reindex();
  assert.equal(report.added, 26);
  assert.equal(report.removed, 0);
  assert.deepEqual(report.strays.map((s) => [s.bucket, s.key]), [['rix', 'k/00']]);
  const listed = await store.scan('rix', { prefix: '', after: '', limit: 100 });
  assert.equal(listed.length, 25);
  assert.equal(listed[7]!.contentType, 't/7');
  assert.deepEqual(listed[7]!.userMeta, { i: '7' });
  assert.equal(await text(await store.getObject('rix', 'k/00', {})), 'stray');
  assert.equal((await store.index.get('rixx', 'only'))?.backend, 'b');
  // Run again: nothing to do; with removeStrays the extra copy goes.
  const again = await store.reindex({ removeStrays: true });
  assert.equal(again.added + again.updated + again.removed, 0);
  assert.equal(again.strays[0]?.removed, true);
  assert.deepEqual(store.status().backends.map((b) => b.objects).reduce((a, b) => a + b), 26);
});

test('a backend that refuses connections: writes go elsewhere, it is marked down, its objects get 503 naming it', async () => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  const { store, held } = await setup(['a', 'b'], [{ name: 'fov', backends: ['a', 'b'] }], {}, { b: { endpoint: dead } });
  for (let i = 0; i < 6; i++) await store.putObject('fov', `k${i}`, input(`v${i}`));
  assert.equal((await held('a')).length, 6, 'every write landed on the live backend');
  assert.equal(store.health.healthy('b'), false);
  // An object the index places on b.
  await store.index.put({ bucket: 'fov', key: 'on-b', backend: 'b', size: 1, etag: 'e', lastModified: new Date(), checksums: {}, userMeta: {} });
  const e = await store.getObject('fov', 'on-b', {}).catch((err: S3Error) => err);
  assert.ok(e instanceof S3Error);
  assert.equal(e.code, 'ServiceUnavailable');
  assert.equal(e.status, 503);
  assert.match(e.message, /Backend b is unavailable/);
  assert.equal(store.status().backends.find((x) => x.name === 'b')!.state, 'down');
});

test('reload: new strategy and backends apply to new requests; a read in flight finishes on the old generation', async () => {
  const { store, raw, held } = await setup(['a', 'b', 'c'], [{ name: 'rld', backends: ['a'] }]);
  const big = randomBytes(4 * 1024 * 1024);
  await store.putObject('rld', 'big', input(big));
  const reading = await store.getObject('rld', 'big', {});
  const gen = store.generation;
  await store.reload(parseBalancingConfig({ ...raw, virtualBuckets: [{ name: 'rld', backends: ['b', 'c'], strategy: 'round-robin' }, { name: 'new', backends: ['c'] }] }));
  assert.equal(store.generation, gen + 1);
  const chunks: Buffer[] = [];
  for await (const c of reading.body!) chunks.push(c as Buffer);
  assert.ok(Buffer.concat(chunks).equals(big), 'the in-flight read completed');
  for (let i = 0; i < 4; i++) await store.putObject('rld', `n${i}`, input('x'));
  assert.deepEqual([(await held('b', 'rld/n')).length, (await held('c', 'rld/n')).length], [2, 2]);
  await store.putObject('new', 'k', input('x'));
  assert.deepEqual(await held('c', 'new/'), ['new/k']);
  // Objects on a backend still configured (a) stay readable although no bucket writes there now.
  const head = await store.getObject('rld', 'big', { range: { start: 0, end: 3 } });
  const bytes: Buffer[] = [];
  for await (const c of head.body!) bytes.push(c as Buffer);
  assert.deepEqual(Buffer.concat(bytes), big.subarray(0, 4));
  assert.deepEqual(store.status().virtualBuckets.map((v) => [v.name, v.backends]), [['rld', ['b', 'c']], ['new', ['c']]]);
});

test('recovery at start settles what a crash left: uncommitted copies are adopted or removed so index and backends agree', async () => {
  const first = await setup(['a', 'b'], [{ name: 'crs', backends: ['a', 'b'] }]);
  await first.store.putObject('crs', 'kept', input('committed'));
  const where = (await first.store.index.get('crs', 'kept'))!.backend;
  const other = where === 'a' ? 'b' : 'a';
  // As if a crash hit after an overwrite reached the other backend but before the commit:
  await direct.putObject(first.bucketOf(other), 'crs/kept', input('uncommitted overwrite'));
  await first.store.index.beginIntent({ owner: first.config.replica, bucket: 'crs', key: 'kept', backend: other, op: 'put' });
  // …and after a new key reached a backend but before the commit:
  await direct.putObject(first.bucketOf('a'), 'crs/new', input('new'));
  await first.store.index.beginIntent({ owner: first.config.replica, bucket: 'crs', key: 'new', backend: 'a', op: 'put' });
  // …and during a delete that removed the backend copy but not yet the record:
  await first.store.putObject('crs', 'deleting', input('d'));
  const del = (await first.store.index.get('crs', 'deleting'))!;
  await direct.deleteObject(first.bucketOf(del.backend), 'crs/deleting');
  await first.store.index.beginIntent({ owner: first.config.replica, bucket: 'crs', key: 'deleting', backend: del.backend, op: 'delete' });
  await first.store.close();
  const store = await openVirtualStore(first.config);
  stores.push(store);
  assert.deepEqual(await store.index.intents(first.config.replica), []);
  assert.equal(await text(await store.getObject('crs', 'kept', {})), 'committed');
  assert.deepEqual(await first.held(other), other === 'a' ? ['crs/new'] : []);
  assert.equal((await store.index.get('crs', 'new'))?.backend, 'a');
  assert.equal(await store.index.get('crs', 'deleting'), undefined);
  const listed = (await store.scan('crs', { prefix: '', after: '', limit: 10 })).map((o) => o.key);
  assert.deepEqual(listed, ['kept', 'new']);
  assert.equal(store.status().backends.reduce((t, b) => t + b.objects, 0), 2);
});

test('writers of one key do not wait on each other: a PUT whose body trickles does not hold up a second one; the last commit wins and no copy is left behind', { timeout: 60_000 }, async () => {
  const { store, held } = await setup(['a', 'b'], [{ name: 'one', backends: ['a'] }, { name: 'two', backends: ['a', 'b'], strategy: 'round-robin' }]);
  const copiesOf = async (bucket: string, key: string) => {
    const names = [...(await held('a')), ...(await held('b'))];
    return names.filter((n) => n === `${bucket}/${key}` || (n.startsWith(`.floodgate/w/${bucket}/`) && n.endsWith(`/${key}`)));
  };
  for (const bucket of ['one', 'two']) {
    await store.putObject(bucket, 'k', input('old'));
    const slow = new PassThrough();
    const slowBody = Buffer.alloc(200_000, 's');
    slow.write(slowBody.subarray(0, 1000));
    let slowSettled = false;
    const first = store.putObject(bucket, 'k', { body: slow, size: slowBody.length, headers: { userMeta: {} }, checksums: {} }).finally(() => { slowSettled = true; });
    // The second writer completes while the first one's body is still open.
    const second = await store.putObject(bucket, 'k', input('fast'));
    assert.equal(slowSettled, false, `${bucket}: the second PUT finished while the first was still streaming`);
    assert.equal(second.etag, createHash('md5').update('fast').digest('hex'));
    assert.equal(await text(await store.getObject(bucket, 'k', {})), 'fast');
    slow.end(slowBody.subarray(1000));
    const r = await first;
    assert.equal(r.etag, createHash('md5').update(slowBody).digest('hex'));
    // The first body committed last: it wins, whole.
    assert.equal(await text(await store.getObject(bucket, 'k', {})), slowBody.toString());
    for (let i = 0; (await copiesOf(bucket, 'k')).length !== 1 && i < 200; i++) await new Promise((res) => setTimeout(res, 50));
    assert.equal((await copiesOf(bucket, 'k')).length, 1, `${bucket}: one copy on the backends: ${(await copiesOf(bucket, 'k')).join(', ')}`);
    assert.deepEqual((await store.scan(bucket, { prefix: '', after: '', limit: 10 })).map((o) => [o.key, o.size]), [['k', slowBody.length]]);
  }
  // A reindex keeps objects under names of their own.
  const report = await store.reindex();
  assert.equal(report.removed, 0);
  assert.equal(await text(await store.getObject('one', 'k', {})), 's'.repeat(200_000));
});

test('reindex: a copy whose removal is queued is not adopted, but one the index points at again is kept', async () => {
  const { store, config } = await setup(['a'], [{ name: 'rqueue', backends: ['a'] }]);
  await store.putObject('rqueue', 'kept', input('kept'));
  await direct.putObject(`t${n - 1}-a`, 'rqueue/gone', input('late copy'));
  // Both usual names have a removal queued (a delete, a refused write); only "kept" is indexed.
  for (const key of ['kept', 'gone']) await store.index.beginIntent({ owner: config.replica, bucket: 'rqueue', key, backend: 'a', op: key === 'gone' ? 'refused' : 'remove' });
  const report = await store.reindex();
  assert.deepEqual([report.added, report.removed], [0, 0]);
  assert.deepEqual((await store.scan('rqueue', { prefix: '', after: '', limit: 10 })).map((o) => o.key), ['kept']);
  assert.equal(await text(await store.getObject('rqueue', 'kept', {})), 'kept');
});

test('a PUT while a multipart upload of its key is open streams to a name of its own, never onto the name the upload completes to', async () => {
  const { store } = await setup(['a'], [{ name: 'mpput', backends: ['a'] }]);
  const id = await store.createMultipartUpload('mpput', 'k', { userMeta: {} });
  const part = await store.uploadPart('mpput', 'k', id, 1, input('from the upload'));
  await store.putObject('mpput', 'k', input('from a put'));
  assert.match((await store.index.get('mpput', 'k'))?.location ?? '', /^\.floodgate\/w\/mpput\/[0-9a-f]+\/k$/);
  await store.completeMultipartUpload('mpput', 'k', id, [{ partNumber: 1, etag: part.etag, checksums: {} }]);
  assert.equal(await text(await store.getObject('mpput', 'k', {})), 'from the upload');
  assert.equal((await store.index.get('mpput', 'k'))?.location, undefined);
  // Without an open upload, the next PUT may take the usual name again once the replaced copy is gone.
  await store.putObject('mpput', 'other', input('x'));
  assert.equal((await store.index.get('mpput', 'other'))?.location, undefined);
});

test('If-None-Match: * is checked again at the commit: a slow conditional PUT that lost the race is refused and its copy removed', { timeout: 60_000 }, async () => {
  const { store, held } = await setup(['a'], [{ name: 'inm', backends: ['a'] }]);
  const slow = new PassThrough();
  slow.write('slow ');
  const first = store.putObject('inm', 'k', { body: slow, size: 9, headers: { userMeta: {} }, checksums: {}, conditions: { ifNoneMatch: '*' } });
  for (let i = 0; !(await store.index.intents(`test-${n - 1}`)).some((x) => x.op === 'put') && i < 200; i++) await new Promise((r) => setTimeout(r, 25));
  await store.putObject('inm', 'k', input('fast', { conditions: { ifNoneMatch: '*' } }));
  slow.end('body');
  assert.equal(await code(first), 'PreconditionFailed');
  assert.equal(await text(await store.getObject('inm', 'k', {})), 'fast');
  const names = async () => [...await held('a', 'inm/'), ...await held('a', '.floodgate/w/inm/')];
  for (let i = 0; (await names()).length !== 1 && i < 200; i++) await new Promise((r) => setTimeout(r, 50));
  const rec = await store.index.get('inm', 'k');
  assert.deepEqual(await names(), [rec?.location ?? 'inm/k'], 'only the copy of the winner is left');
});

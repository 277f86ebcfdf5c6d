// The embedded store on a real temp directory: atomic replacement, readers that outlive an
// overwrite, conditional writes, multipart rules and the start-up sweep of orphaned blobs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { S3Error } from '../../s3/errors.ts';
import type { ObjectStore, PutInput } from '../types.ts';
import { openFsStore } from './index.ts';
import { MIN_PART_SIZE } from './multipart.ts';

const input = (b: Buffer, extra: Partial<PutInput> = {}): PutInput => ({ body: Readable.from([b]), size: b.length, headers: { userMeta: {} }, checksums: {}, ...extra });
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

async function read(store: ObjectStore, bucket: string, key: string): Promise<Buffer> {
  const r = await store.getObject(bucket, key, {});
  const chunks: Buffer[] = [];
  for await (const c of r.body!) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof S3Error, String(e));
    return e.code;
  }
  assert.fail('expected an S3 error');
}

function blobFiles(dir: string): string[] {
  const root = join(dir, '.floodgate', 'store', 'blobs');
  return readdirSync(root).flatMap((s) => readdirSync(join(root, s)));
}

/** Replaced blobs are unlinked just after the commit, without being awaited: wait (bounded) for the count. */
async function blobCount(dir: string, want: number, what = 'blob count'): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (blobFiles(dir).length !== want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(blobFiles(dir).length, want, what);
}

async function withStore(fn: (store: ObjectStore, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fg-fs-'));
  const store = await openFsStore(dir, { fsync: false });
  try {
    await fn(store, dir);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('put, overwrite and delete leave exactly one blob per live object', () => withStore(async (store, dir) => {
  await store.createBucket('b');
  const a = randomBytes(1000);
  const r = await store.putObject('b', 'k', input(a));
  assert.equal(r.etag, md5(a));
  await store.putObject('b', 'k', input(randomBytes(10)));
  await store.putObject('b', 'k2', input(a));
  await blobCount(dir, 2);
  await store.deleteObject('b', 'k');
  await store.deleteObject('b', 'k');
  await blobCount(dir, 1);
  assert.deepEqual(await read(store, 'b', 'k2'), a);
  assert.equal(await code(store.getObject('b', 'k', {})), 'NoSuchKey');
  assert.equal(await code(store.getObject('nope', 'k', {})), 'NoSuchBucket');
  assert.equal(await code(store.deleteBucket('b')), 'BucketNotEmpty');
}));

test('a reader keeps its bytes while the object is overwritten', () => withStore(async (store) => {
  await store.createBucket('b');
  const old = randomBytes(4 * 1024 * 1024);
  await store.putObject('b', 'k', input(old));
  const r = await store.getObject('b', 'k', {});
  await store.putObject('b', 'k', input(Buffer.from('new')));
  const chunks: Buffer[] = [];
  for await (const c of r.body!) chunks.push(c as Buffer);
  assert.deepEqual(Buffer.concat(chunks), old);
  assert.equal((await read(store, 'b', 'k')).toString(), 'new');
}));

test('a body that fails or comes up short commits nothing and keeps the old object', () => withStore(async (store, dir) => {
  await store.createBucket('b');
  await store.putObject('b', 'k', input(Buffer.from('keep')));
  const failing = new Readable({ read() { this.destroy(new S3Error('BadDigest')); } });
  assert.equal(await code(store.putObject('b', 'k', { ...input(Buffer.alloc(0)), body: failing, size: 10 })), 'BadDigest');
  assert.equal(await code(store.putObject('b', 'k', { ...input(Buffer.from('abc')), size: 5 })), 'IncompleteBody');
  assert.equal((await read(store, 'b', 'k')).toString(), 'keep');
  assert.equal(blobFiles(dir).length, 1);
}));

test('conditional writes and reads', () => withStore(async (store) => {
  await store.createBucket('b');
  const first = await store.putObject('b', 'k', input(Buffer.from('1'), { conditions: { ifNoneMatch: '*' } }));
  assert.equal(await code(store.putObject('b', 'k', input(Buffer.from('2'), { conditions: { ifNoneMatch: '*' } }))), 'PreconditionFailed');
  assert.equal(await code(store.putObject('b', 'k', input(Buffer.from('2'), { conditions: { ifMatch: 'bad' } }))), 'PreconditionFailed');
  assert.equal(await code(store.putObject('b', 'other', input(Buffer.from('2'), { conditions: { ifMatch: first.etag } }))), 'NoSuchKey');
  await store.putObject('b', 'k', input(Buffer.from('2'), { conditions: { ifMatch: first.etag } }));
  assert.equal(await code(store.getObject('b', 'k', { conditions: { ifMatch: `"${first.etag}"` } })), 'PreconditionFailed');
  assert.equal(await code(store.getObject('b', 'k', { conditions: { ifModifiedSince: new Date(Date.now() + 60_000) } })), 'NotModified');
  assert.equal(await code(store.getObject('b', 'k', { range: { start: 5 } })), 'InvalidRange');
}));

test('upload ids never start with "-" (the AWS CLI would read `--upload-id -…` as a flag)', () => withStore(async (store) => {
  await store.createBucket('b');
  for (let i = 0; i < 200; i++) assert.match(await store.createMultipartUpload('b', `u${i}`, { userMeta: {} }), /^[0-9a-f]{48}$/);
}));

test('multipart: part rules, md5-of-md5s ETag, composite checksum, ranges across parts', () => withStore(async (store, dir) => {
  await store.createBucket('b');
  const id = await store.createMultipartUpload('b', 'm', { userMeta: { a: '1' }, contentType: 'text/x' }, 'sha256');
  const p1 = randomBytes(MIN_PART_SIZE);
  const p2 = randomBytes(100);
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('base64');
  const e1 = await store.uploadPart('b', 'm', id, 1, input(p1, { checksums: { sha256: sha(p1) } }));
  const small = await store.uploadPart('b', 'm', id, 2, input(p2, { checksums: { sha256: sha(p2) } }));
  const e3 = await store.uploadPart('b', 'm', id, 3, input(p2, { checksums: { sha256: sha(p2) } }));
  assert.equal(await code(store.completeMultipartUpload('b', 'm', id, [
    { partNumber: 2, etag: small.etag, checksums: {} }, { partNumber: 1, etag: e1.etag, checksums: {} }])), 'InvalidPartOrder');
  assert.equal(await code(store.completeMultipartUpload('b', 'm', id, [{ partNumber: 1, etag: 'f'.repeat(32), checksums: {} }])), 'InvalidPart');
  assert.equal(await code(store.completeMultipartUpload('b', 'm', id, [
    { partNumber: 1, etag: e1.etag, checksums: {} }, { partNumber: 2, etag: small.etag, checksums: {} }, { partNumber: 3, etag: e3.etag, checksums: {} }])), 'EntityTooSmall');
  const meta = await store.completeMultipartUpload('b', 'm', id, [
    { partNumber: 1, etag: e1.etag, checksums: { sha256: sha(p1) } }, { partNumber: 3, etag: e3.etag, checksums: {} }]);
  const whole = Buffer.concat([p1, p2]);
  const expectEtag = createHash('md5').update(Buffer.concat([Buffer.from(e1.etag, 'hex'), Buffer.from(e3.etag, 'hex')])).digest('hex') + '-2';
  assert.equal(meta.etag, expectEtag);
  const composite = createHash('sha256').update(Buffer.concat([Buffer.from(sha(p1), 'base64'), Buffer.from(sha(p2), 'base64')])).digest('base64');
  assert.equal(meta.checksums.sha256, `${composite}-2`);
  assert.deepEqual(await read(store, 'b', 'm'), whole);
  const r = await store.getObject('b', 'm', { range: { start: MIN_PART_SIZE - 3, end: MIN_PART_SIZE + 2 } });
  const chunks: Buffer[] = [];
  for await (const c of r.body!) chunks.push(c as Buffer);
  assert.deepEqual(Buffer.concat(chunks), whole.subarray(MIN_PART_SIZE - 3, MIN_PART_SIZE + 3));
  assert.equal((await store.getObject('b', 'm', { head: true })).meta.contentType, 'text/x');
  assert.equal(await code(store.listParts('b', 'm', id, 0, 10)), 'NoSuchUpload');
  await blobCount(dir, 2, 'the unused part 2 is removed on completion');
}));

test('orphaned blobs from a crashed process are swept at the next start; committed ones stay', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-fs-'));
  try {
    let store = await openFsStore(dir, { fsync: false });
    await store.createBucket('b');
    await store.putObject('b', 'k', input(Buffer.from('committed')));
    await store.close();
    const orphan = join(dir, '.floodgate', 'store', 'blobs', 'ab', 'ab' + '0'.repeat(30));
    writeFileSync(orphan, 'half an upload');
    let swept = -1;
    store = await openFsStore(dir, { fsync: false, onSwept: (n) => { swept = n; } });
    await store.close();
    assert.equal(swept, 1);
    assert.equal(blobFiles(dir).length, 1);
    store = await openFsStore(dir, { fsync: false });
    assert.equal((await read(store, 'b', 'k')).toString(), 'committed');
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a GET of a 12-part object streams every part through one stream without piling listeners on it', () => withStore(async (store) => {
  await store.createBucket('b');
  const id = await store.createMultipartUpload('b', 'many', { userMeta: {} });
  const part = randomBytes(MIN_PART_SIZE);
  const parts = [];
  for (let n = 1; n <= 12; n++) parts.push({ partNumber: n, etag: (await store.uploadPart('b', 'many', id, n, input(n === 12 ? part.subarray(0, 10) : part))).etag, checksums: {} });
  await store.completeMultipartUpload('b', 'many', id, parts);
  const warnings: Error[] = [];
  const onWarning = (w: Error) => { warnings.push(w); };
  process.on('warning', onWarning);
  try {
    const r = await store.getObject('b', 'many', {});
    const hash = createHash('md5');
    let size = 0;
    for await (const c of r.body!) { hash.update(c as Buffer); size += (c as Buffer).length; }
    assert.equal(size, 11 * MIN_PART_SIZE + 10);
    const expected = createHash('md5');
    for (let n = 1; n <= 11; n++) expected.update(part);
    expected.update(part.subarray(0, 10));
    assert.equal(hash.digest('hex'), expected.digest('hex'));
    // A reader that stops half-way releases the stream.
    const partial = await store.getObject('b', 'many', { range: { start: MIN_PART_SIZE - 5, end: 9 * MIN_PART_SIZE } });
    for await (const _ of partial.body!) break;
    assert.ok(partial.body!.destroyed);
    await new Promise((r2) => setImmediate(r2));
    assert.deepEqual(warnings.map((w) => w.name), []);
  } finally {
    process.off('warning', onWarning);
  }
}));

test('a store made before uploads had a checksum type opens with the column added; its uploads stay COMPOSITE', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fg-fs-old-'));
  try {
    const root = join(dir, '.floodgate', 'store');
    mkdirSync(root, { recursive: true });
    const { DatabaseSync } = await import('node:sqlite');
    const db = new DatabaseSync(join(root, 'meta.db'));
    db.exec(`CREATE TABLE buckets (name TEXT PRIMARY KEY, created INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE uploads (upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, initiated INTEGER NOT NULL,
        headers TEXT NOT NULL, checksum_algorithm TEXT) WITHOUT ROWID;
      INSERT INTO buckets VALUES ('b', 1);
      INSERT INTO uploads VALUES ('old', 'b', 'k', ${Date.now()}, '{"userMeta":{}}', 'crc32');`);
    db.close();
    const store = await openFsStore(dir, { fsync: false });
    try {
      const { upload } = await store.listParts('b', 'k', 'old', 0, 10);
      assert.deepEqual([upload.checksumAlgorithm, upload.checksumType], ['crc32', 'COMPOSITE']);
      const id = await store.createMultipartUpload('b', 'k', { userMeta: {} }, 'crc32', 'FULL_OBJECT');
      assert.equal((await store.listParts('b', 'k', id, 0, 10)).upload.checksumType, 'FULL_OBJECT');
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

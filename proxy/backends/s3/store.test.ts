// The remote S3 backend against a real MinIO on 127.0.0.1, plus small real HTTP servers for the
// failures MinIO will not produce on demand (resets, stalls, 200-with-error).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable, Transform } from 'node:stream';
import { crc32 } from 'node:zlib';
import { S3Error } from '../../s3/errors.ts';
import type { PutInput } from '../../store/types.ts';
import { startMinio, type Minio } from './minio.fixture.ts';
import { openS3Store, type S3Store } from './store.ts';
import { isBackendFault } from './errors.ts';
import { compositeChecksum } from '../../auth/checksums.ts';

let minio: Minio;
let store: S3Store;
const BUCKET = 'backend-one';

before(async () => {
  minio = await startMinio();
  store = openS3Store({ name: 'minio-a', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  await store.createBucket(BUCKET);
});

after(async () => {
  await store?.close();
  await minio?.close();
});

function input(data: Buffer, extra: Partial<PutInput> = {}): PutInput {
  return { body: Readable.from([data.subarray(0, data.length >> 1), data.subarray(data.length >> 1)]), size: data.length, headers: { userMeta: {} }, checksums: {}, ...extra };
}

async function readAll(r: Readable | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r!) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<S3Error> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  assert.ok(e instanceof S3Error, `expected S3Error ${code}, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  return e;
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

test('put streams the body and returns the backend ETag; get and head return bytes and metadata', async () => {
  const data = randomBytes(1024 * 1024 + 7);
  const r = await store.putObject(BUCKET, 'dir/obj one.bin', input(data, {
    headers: { contentType: 'application/x-test', cacheControl: 'no-cache', contentDisposition: 'attachment', userMeta: { colour: 'grün', plain: 'x' } },
  }));
  assert.equal(r.etag, md5(data));
  const g = await store.getObject(BUCKET, 'dir/obj one.bin', {});
  assert.deepEqual(await readAll(g.body), data);
  assert.equal(g.meta.size, data.length);
  assert.equal(g.meta.etag, md5(data));
  assert.equal(g.meta.contentType, 'application/x-test');
  assert.equal(g.meta.cacheControl, 'no-cache');
  assert.equal(g.meta.contentDisposition, 'attachment');
  assert.deepEqual(g.meta.userMeta, { colour: 'grün', plain: 'x' });
  const h = await store.getObject(BUCKET, 'dir/obj one.bin', { head: true });
  assert.equal(h.body, undefined);
  assert.equal(h.meta.size, data.length);
});

test('ranges and conditions are evaluated by the backend', async () => {
  const data = randomBytes(1000);
  const { etag } = await store.putObject(BUCKET, 'ranged', input(data));
  const r = await store.getObject(BUCKET, 'ranged', { range: { start: 10, end: 19 } });
  assert.deepEqual(r.range, { start: 10, end: 19 });
  assert.equal(r.meta.size, 1000);
  assert.deepEqual(await readAll(r.body), data.subarray(10, 20));
  const s = await store.getObject(BUCKET, 'ranged', { range: { suffix: 5 } });
  assert.deepEqual(await readAll(s.body), data.subarray(995));
  await rejectsWith(store.getObject(BUCKET, 'ranged', { range: { start: 5000 } }), 'InvalidRange');
  await rejectsWith(store.getObject(BUCKET, 'ranged', { conditions: { ifNoneMatch: `"${etag}"` } }), 'NotModified');
  await rejectsWith(store.getObject(BUCKET, 'ranged', { conditions: { ifMatch: '"0000"' } }), 'PreconditionFailed');
  await rejectsWith(store.getObject(BUCKET, 'ranged', { head: true, conditions: { ifMatch: '"0000"' } }), 'PreconditionFailed');
});

test('missing keys and buckets are the client errors S3 gives', async () => {
  await rejectsWith(store.getObject(BUCKET, 'nope', {}), 'NoSuchKey');
  await rejectsWith(store.getObject(BUCKET, 'nope', { head: true }), 'NoSuchKey');
  await rejectsWith(store.getObject('no-such-bucket-here', 'k', {}), 'NoSuchBucket');
  await store.deleteObject(BUCKET, 'nope');
  await rejectsWith(store.createBucket(BUCKET), 'BucketAlreadyOwnedByYou');
});

test('a body that fails verification at its end never replaces the stored object', async () => {
  const good = randomBytes(300_000);
  await store.putObject(BUCKET, 'guarded', input(good));
  const bad = randomBytes(300_000);
  // Like the front's verifier: every byte passes, then the digest check fails before 'end'.
  const verifier = new Transform({
    transform(c, _e, done) { done(null, c); },
    flush(done) { done(new S3Error('BadDigest')); },
  });
  Readable.from([bad.subarray(0, 100_000), bad.subarray(100_000)]).pipe(verifier);
  await rejectsWith(store.putObject(BUCKET, 'guarded', { body: verifier, size: bad.length, headers: { userMeta: {} }, checksums: {} }), 'BadDigest');
  const g = await store.getObject(BUCKET, 'guarded', {});
  assert.equal(md5(await readAll(g.body)), md5(good));
});

test('scan lists in UTF-8 byte order with prefix, start-after and continuation past 1000 keys', async () => {
  const keys = ['s/a b', 's/a+b', 's/a%b', 's/é', 's/z', 's/\u{1F600}', 's/ä/x'];
  for (let i = 0; i < 1005; i++) keys.push(`s/n/${String(i).padStart(4, '0')}`);
  const queue = [...keys];
  await Promise.all(Array.from({ length: 32 }, async () => {
    for (let k = queue.pop(); k !== undefined; k = queue.pop()) await store.putObject(BUCKET, k, input(Buffer.from(k)));
  }));
  const all = await store.scan(BUCKET, { prefix: 's/', after: '', limit: 5000 });
  const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  assert.deepEqual(all.map((o) => o.key), sorted);
  const page = await store.scan(BUCKET, { prefix: 's/', after: 's/a+b', limit: 2 });
  assert.deepEqual(page.map((o) => o.key), sorted.slice(sorted.indexOf('s/a+b') + 1, sorted.indexOf('s/a+b') + 3));
  assert.equal(all.find((o) => o.key === 's/z')!.size, 3);
});

test('multipart passes through: backend upload id, part ETags, composite checksum, InvalidPart', async () => {
  const key = 'mp/object';
  const id = await store.createMultipartUpload(BUCKET, key, { contentType: 'text/x-mp', userMeta: { a: '1' } }, 'crc32');
  const p1 = randomBytes(5 * 1024 * 1024);
  const p2 = randomBytes(1234);
  const r1 = await store.uploadPart(BUCKET, key, id, 1, input(p1, { checksums: { crc32: 'AAAAAA==' } }));
  const r2 = await store.uploadPart(BUCKET, key, id, 2, input(p2, { checksums: { crc32: 'AAAAAQ==' } }));
  assert.equal(r1.etag, md5(p1));
  const listed = await store.listParts(BUCKET, key, id, 0, 1000);
  assert.deepEqual(listed.parts.map((p) => [p.partNumber, p.etag, p.size]), [[1, r1.etag, p1.length], [2, r2.etag, p2.length]]);
  const after1 = await store.listParts(BUCKET, key, id, 1, 1000);
  assert.deepEqual(after1.parts.map((p) => p.partNumber), [2]);
  // MinIO lists uploads only for an exact object name (its documented limitation), not a prefix.
  const uploads = await store.listMultipartUploads(BUCKET, { prefix: key, keyMarker: '', uploadIdMarker: '', limit: 100 });
  assert.deepEqual(uploads.map((u) => [u.key, u.uploadId]), [[key, id]]);
  await rejectsWith(store.completeMultipartUpload(BUCKET, key, id, [{ partNumber: 1, etag: r1.etag, checksums: {} }, { partNumber: 2, etag: '00', checksums: {} }]), 'InvalidPart');
  const meta = await store.completeMultipartUpload(BUCKET, key, id, [
    { partNumber: 1, etag: r1.etag, checksums: { crc32: 'AAAAAA==' } }, { partNumber: 2, etag: r2.etag, checksums: { crc32: 'AAAAAQ==' } },
  ]);
  assert.match(meta.etag, /^[0-9a-f]{32}-2$/);
  assert.equal(meta.size, p1.length + p2.length);
  assert.equal(meta.contentType, 'text/x-mp');
  assert.deepEqual(meta.checksums, { crc32: compositeChecksum('crc32', ['AAAAAA==', 'AAAAAQ==']) });
  const g = await store.getObject(BUCKET, key, { range: { start: p1.length - 2, end: p1.length + 1 } });
  assert.deepEqual(await readAll(g.body), Buffer.concat([p1.subarray(-2), p2.subarray(0, 2)]));
  const gone = await store.createMultipartUpload(BUCKET, key, { userMeta: {} });
  await store.abortMultipartUpload(BUCKET, key, gone);
  await rejectsWith(store.listParts(BUCKET, key, gone, 0, 10), 'NoSuchUpload');
});

test('keys with dot segments stay what they are on the backend', async () => {
  for (const key of ['dots/./x', 'dots/a/../b']) {
    const r = await store.putObject(BUCKET, key, input(Buffer.from(key))).then(() => 'stored', (e: S3Error) => e.code);
    if (r !== 'stored') continue; // MinIO refuses some of these: then nothing may land elsewhere
    assert.equal((await readAll((await store.getObject(BUCKET, key, {})).body)).toString(), key);
  }
  const listed = await store.scan(BUCKET, { prefix: '', after: '', limit: 5000 });
  assert.ok(!listed.some((o) => o.key === 'b' || o.key === 'x' || o.key === 'dots/b' || o.key === 'dots/x'));
});

test('presigned GET URLs work without our signer', async () => {
  await store.putObject(BUCKET, 'pre signed/ü', input(Buffer.from('hello')));
  const url = store.presign('GET', BUCKET, 'pre signed/ü', 60);
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'hello');
});

test('refused credentials and a dead endpoint are backend faults (503 naming the backend), not client errors', async () => {
  const wrong = openS3Store({ name: 'minio-wrong', endpoint: minio.endpoint, region: 'us-east-1', credentials: { accessKeyId: minio.credentials.accessKeyId, secretAccessKey: 'x'.repeat(40) }, pathStyle: true });
  const e = await rejectsWith(wrong.getObject(BUCKET, 'ranged', {}), 'ServiceUnavailable');
  assert.ok(isBackendFault(e));
  assert.match(e.message, /minio-wrong/);
  await wrong.close();
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const dead = openS3Store({ name: 'minio-dead', endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: minio.credentials, pathStyle: true, retryBaseMs: 1 });
  const d = await rejectsWith(dead.getObject(BUCKET, 'x', {}), 'ServiceUnavailable');
  assert.ok(isBackendFault(d));
  assert.match(d.message, /minio-dead.*ECONNREFUSED/);
  await dead.close();
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('idempotent requests are retried after a connection reset; streamed uploads are not', async () => {
  let requests = 0;
  const srv = createServer((req, res) => {
    requests++;
    if (requests % 2 === 1) { req.socket.destroy(); return; }
    req.resume();
    req.on('end', () => res.writeHead(200, { etag: '"abc"', 'content-length': '2', 'last-modified': new Date().toUTCString() }).end('ok'));
  });
  const s = openS3Store({ name: 'flaky', endpoint: await listen(srv), region: 'us-east-1', credentials: minio.credentials, pathStyle: true, retryBaseMs: 1 });
  const g = await s.getObject('b', 'k', {});
  assert.equal((await readAll(g.body)).toString(), 'ok');
  assert.equal(requests, 2);
  const e = await rejectsWith(s.putObject('b', 'k', input(Buffer.from('data'))), 'ServiceUnavailable');
  assert.ok(isBackendFault(e));
  assert.equal(requests, 3);
  await s.close();
  srv.close();
});

test('a body that stalls past the idle timeout fails the stream instead of hanging', async () => {
  const srv = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': '100', etag: '"x"' });
    res.write('partial');
  });
  const s = openS3Store({ name: 'stall', endpoint: await listen(srv), region: 'us-east-1', credentials: minio.credentials, pathStyle: true, idleTimeoutMs: 300 });
  const g = await s.getObject('b', 'k', {});
  await assert.rejects(readAll(g.body), (e: Error & { code?: string }) => e.code === 'UND_ERR_BODY_TIMEOUT');
  await s.close();
  srv.closeAllConnections();
  srv.close();
});

test('a CompleteMultipartUpload answered 200 with an <Error> body is an error', async () => {
  let code = 'InternalError';
  const srv = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?>\n\n<Error><Code>${code}</Code><Message>We encountered an internal error.</Message></Error>`));
  });
  const s = openS3Store({ name: 'liar', endpoint: await listen(srv), region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  const parts = [{ partNumber: 1, etag: 'abc', checksums: {} }];
  const e = await rejectsWith(s.completeMultipartUpload('b', 'k', 'id', parts), 'ServiceUnavailable');
  assert.ok(isBackendFault(e));
  code = 'InvalidPart';
  await rejectsWith(s.completeMultipartUpload('b', 'k', 'id', parts), 'InvalidPart');
  await s.close();
  srv.close();
});

test('a backend that never answers hits the first-byte timeout (503), without retries multiplying the wait', async () => {
  let requests = 0;
  const srv = createServer(() => { requests++; });
  const s = openS3Store({ name: 'mute', endpoint: await listen(srv), region: 'us-east-1', credentials: minio.credentials, pathStyle: true, firstByteTimeoutMs: 200 });
  const e = await rejectsWith(s.getObject('b', 'k', {}), 'ServiceUnavailable');
  assert.match(e.message, /first-byte timeout/);
  assert.equal(requests, 1);
  await s.close();
  srv.closeAllConnections();
  srv.close();
});

test('destroying a download aborts the upstream request', async () => {
  let upstreamClosed!: () => void;
  const closed = new Promise<void>((r) => { upstreamClosed = r; });
  const srv = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': String(100 * 1024 * 1024), etag: '"x"' });
    const chunk = Buffer.alloc(64 * 1024);
    const pump = () => { while (res.write(chunk)) { /* until the socket pushes back */ } };
    res.on('drain', pump);
    pump();
    res.on('close', () => upstreamClosed());
  });
  const s = openS3Store({ name: 'big', endpoint: await listen(srv), region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  const g = await s.getObject('b', 'k', {});
  for await (const _ of g.body!) break;
  await closed;
  await s.close();
  srv.close();
});

test('declared digests passed along are verified by the backend too', async () => {
  const data = Buffer.from('integrity matters');
  const md5b64 = createHash('md5').update(data).digest('base64');
  const withIntegrity = (integrity: PutInput['integrity']) => ({ ...input(data), integrity });
  await store.putObject(BUCKET, 'checked', withIntegrity({ contentMd5: md5b64 }));
  await rejectsWith(store.putObject(BUCKET, 'checked', withIntegrity({ contentMd5: createHash('md5').update('other').digest('base64') })), 'BadDigest');
  await rejectsWith(store.putObject(BUCKET, 'checked', withIntegrity({ checksum: { alg: 'crc32', value: 'AAAAAA==' } })), 'BadDigest');
  const g = await store.getObject(BUCKET, 'checked', {});
  assert.equal((await readAll(g.body)).toString(), 'integrity matters');
  // Parts too: a wrong declared digest is refused by the backend, a right one lands.
  const id = await store.createMultipartUpload(BUCKET, 'checked-mp', { userMeta: {} });
  await rejectsWith(store.uploadPart(BUCKET, 'checked-mp', id, 1, withIntegrity({ checksum: { alg: 'crc32', value: 'AAAAAA==' } })), 'BadDigest');
  await store.uploadPart(BUCKET, 'checked-mp', id, 1, withIntegrity({ contentMd5: md5b64 }));
  await store.abortMultipartUpload(BUCKET, 'checked-mp', id);
});

test('a checksum the client sent as a trailer goes upstream as an aws-chunked trailer', async () => {
  const data = randomBytes(200_000);
  const right = Buffer.alloc(4);
  right.writeUInt32BE(crc32(data));
  // As from the front: the verifier fills the checksum in only once the body has ended.
  const trailered = (value: string): PutInput => {
    const checksums: PutInput['checksums'] = {};
    const body = Readable.from([data.subarray(0, 70_000), data.subarray(70_000)]);
    body.once('end', () => { checksums.crc32 = value; });
    return { body, size: data.length, headers: { userMeta: {} }, checksums, integrity: { checksum: { alg: 'crc32' } } };
  };
  await store.putObject(BUCKET, 'trailered', trailered(right.toString('base64')));
  const head = await store.getObject(BUCKET, 'trailered', { head: true });
  assert.equal(head.meta.checksums.crc32, right.toString('base64'), 'the backend stored the trailer checksum');
  assert.deepEqual(await readAll((await store.getObject(BUCKET, 'trailered', {})).body), data);
  const e = await store.putObject(BUCKET, 'trailered', trailered('AAAAAA==')).then(() => undefined, (err: unknown) => err);
  assert.ok(e instanceof S3Error && e.status === 400, `the backend refused a wrong trailer: ${String(e)}`);
  assert.deepEqual(await readAll((await store.getObject(BUCKET, 'trailered', {})).body), data);
});

// BlobBody.relayTo on real sockets: the embedded store's GET body written from reused buffers into
// an HTTP response — whole objects, ranges across multipart parts, a client that stops reading
// (held back, nothing buffered; meanwhile the object is deleted and overwritten), and a client
// that leaves midway or while it is held back (the relay ends, the blob's fd is closed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, get, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ObjectStore, PutInput, RangeSpec } from '../types.ts';
import { openFsStore } from './index.ts';
import { openFdsUnder, until } from './fds.fixture.ts';
import { MIN_PART_SIZE } from './multipart.ts';
import type { BlobBody } from './blob-body.ts';

const MiB = 1024 * 1024;
const input = (b: Buffer): PutInput => ({ body: Readable.from([b]), size: b.length, headers: { userMeta: {} }, checksums: {} });
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

function blobFiles(dir: string): string[] {
  const root = join(dir, 'blobs');
  return readdirSync(root).flatMap((s) => readdirSync(join(root, s)));
}

/** File descriptors of this process open on the store's blob files. */
const openBlobFds = (dir: string) => openFdsUnder(join(dir, 'blobs'));

interface Ctx { store: ObjectStore; dir: string; url: string; relays: Promise<string>[]; responses: ServerResponse[] }

/** An HTTP server answering GET /<key> with the store's body through relayTo; records each response and how its relay ended. */
async function withServer(fn: (ctx: Ctx) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'fg-blob-body-'));
  const store = await openFsStore(dir, { fsync: false });
  await store.createBucket('b');
  const relays: Promise<string>[] = [];
  const responses: ServerResponse[] = [];
  const server = createServer((req, res) => {
    responses.push(res);
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    const spec: RangeSpec | undefined = range ? { start: Number(range[1]), end: Number(range[2]) } : undefined;
    relays.push(store.getObject('b', req.url!.slice(1), { range: spec }).then(async (r) => {
      res.writeHead(200, { 'content-length': r.range ? r.range.end - r.range.start + 1 : r.meta.size });
      await (r.body as BlobBody).relayTo(res);
      return 'done';
    }).catch((e: NodeJS.ErrnoException) => e.code ?? e.message));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn({ store, dir: join(dir, '.floodgate', 'store'), url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, relays, responses });
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function request(url: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => get(url, { headers, agent: false }, resolve).once('error', reject));
}

/**
 * Waits until the server stops handing bytes to the socket of a response whose client stopped
 * reading (the count unchanged for 500 ms); returns the bytes handed over.
 */
async function heldBack(res: ServerResponse): Promise<number> {
  const deadline = Date.now() + 20_000;
  let last = -1;
  let still = 0;
  while (still < 5 && Date.now() < deadline) {
    const now = res.socket?.bytesWritten ?? 0;
    still = now === last ? still + 1 : 0;
    last = now;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}

async function drain(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('whole objects of every size around the relay buffer, and ranges across multipart parts, arrive byte for byte', () => withServer(async ({ store, url, relays }) => {
  for (const size of [1, 1000, MiB - 1, MiB, MiB + 1, 3 * MiB + 12345]) {
    const data = randomBytes(size);
    await store.putObject('b', `k${size}`, input(data));
    const got = await drain(await request(`${url}/k${size}`));
    assert.equal(got.length, size, `size ${size}`);
    assert.equal(md5(got), md5(data), `bytes of ${size}`);
  }
  const parts = [randomBytes(MIN_PART_SIZE), randomBytes(MIN_PART_SIZE), randomBytes(777)];
  const id = await store.createMultipartUpload('b', 'multi', { userMeta: {} });
  const done = [];
  for (const [i, p] of parts.entries()) done.push({ partNumber: i + 1, etag: (await store.uploadPart('b', 'multi', id, i + 1, input(p))).etag, checksums: {} });
  await store.completeMultipartUpload('b', 'multi', id, done);
  const all = Buffer.concat(parts);
  for (const [start, end] of [[MIN_PART_SIZE - 10, MIN_PART_SIZE + 10], [123, all.length - 1], [MIN_PART_SIZE * 2, MIN_PART_SIZE * 2 + 776]] as const) {
    const got = await drain(await request(`${url}/multi`, { range: `bytes=${start}-${end}` }));
    assert.equal(md5(got), md5(all.subarray(start, end + 1)), `range ${start}-${end}`);
  }
  assert.deepEqual(await Promise.all(relays), relays.map(() => 'done'));
}));

test('a client that stops reading gets every byte later, though the object was deleted meanwhile; the blob goes once it is read', () => withServer(async ({ store, dir, url, relays }) => {
  const data = randomBytes(16 * MiB);
  await store.putObject('b', 'k', input(data));
  const res = await request(`${url}/k`);
  res.pause();
  await store.deleteObject('b', 'k');
  await store.putObject('b', 'k', input(Buffer.from('new')));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(blobFiles(dir).length, 2, 'the paused reader pins its blob');
  const got = await drain(res);
  assert.equal(got.length, data.length);
  assert.equal(md5(got), md5(data));
  assert.equal(await relays[0], 'done');
  await until('the old blob is unlinked after its reader finished', () => blobFiles(dir).length === 1);
  assert.equal((await drain(await request(`${url}/k`))).toString(), 'new');
}));

test('a client that stops reading holds the reads back: one relay buffer queued at most, the object not read ahead; later every byte arrives', () => withServer(async ({ store, dir, url, relays, responses }) => {
  const data = randomBytes(64 * MiB);
  await store.putObject('b', 'k', input(data));
  const res = await request(`${url}/k`);
  res.pause();
  const handed = await heldBack(responses[0]!);
  // The socket buffers on both sides of loopback take a few MiB; the rest stays in the file.
  assert.ok(handed < 16 * MiB, `${handed} bytes handed to the socket of a client that reads nothing`);
  assert.ok(responses[0]!.socket!.writableLength <= MiB, `${responses[0]!.socket!.writableLength} bytes queued in the process`);
  assert.equal(openBlobFds(dir), 1);
  const got = await drain(res);
  assert.equal(md5(got), md5(data));
  assert.equal(await relays[0], 'done');
  await until('the blob fd is closed after the relay', () => openBlobFds(dir) === 0);
}));

// Seen as the response's close or as the failed write, whichever comes first (ECANCELED: the
// write was still queued, the client had stopped reading).
const CLIENT_GONE = ['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ECANCELED'];

test('a client that leaves midway fails the relay as the client gone (premature close or reset), closes the blob fd and unpins the blob', () => withServer(async ({ store, dir, url, relays }) => {
  await store.putObject('b', 'k', input(randomBytes(32 * MiB)));
  const res = await request(`${url}/k`);
  await new Promise((r) => res.once('data', r));
  res.destroy();
  assert.ok(CLIENT_GONE.includes(await relays[0]!), await relays[0]);
  await until('the blob fd is closed once its reader is gone', () => openBlobFds(dir) === 0);
  await store.deleteObject('b', 'k');
  await until('the blob is unlinked once its reader is gone', () => blobFiles(dir).length === 0);
}));

test('a client that leaves while it is held back ends the relay the same way: fd closed, blob unpinned', () => withServer(async ({ store, dir, url, relays, responses }) => {
  await store.putObject('b', 'k', input(randomBytes(64 * MiB)));
  const res = await request(`${url}/k`);
  res.pause();
  await heldBack(responses[0]!);
  assert.equal(openBlobFds(dir), 1);
  res.destroy();
  assert.ok(CLIENT_GONE.includes(await relays[0]!), await relays[0]);
  await until('the blob fd is closed once its reader is gone', () => openBlobFds(dir) === 0);
  await store.deleteObject('b', 'k');
  await until('the blob is unlinked once its reader is gone', () => blobFiles(dir).length === 0);
}));

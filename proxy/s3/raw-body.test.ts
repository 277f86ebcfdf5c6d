// Raw PUT bodies (raw-body.ts) and small whole ones (whole-body.ts) end to end over loopback: a
// real client sends a PUT to a front that decodes it (decodeBody) and uploads it through the
// relay pool to a real upstream server, which hashes what it receives. Also the same body read as
// a stream (other stores).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { Socket, type AddressInfo } from 'node:net';
import type { AuthResult } from '../auth/sigv4.ts';
import { createRelayPool, type RelayPool } from '../relay/client.ts';
import { openS3Store } from '../backends/s3/store.ts';
import { decodeBody } from './body.ts';
import { isRawBody } from './raw-body.ts';
import { isWholeBody } from './whole-body.ts';
import { isS3Error } from './errors.ts';

interface Received { length: number; sha: string; complete: boolean }

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer(handler);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const auth = (payloadHash: string) => ({ payloadHash }) as AuthResult;

/** The upstream: hashes each PUT body; `received` resolves when its request ends or is cut. */
async function upstream() {
  const got: Promise<Received>[] = [];
  const srv = await listen((req, res) => {
    got.push(new Promise<Received>((resolve) => {
      const h = createHash('sha256');
      let length = 0;
      req.on('data', (c: Buffer) => { h.update(c); length += c.length; });
      req.on('end', () => { resolve({ length, sha: h.digest('hex'), complete: true }); res.writeHead(200, { etag: '"up"', 'content-length': '0' }).end(); });
      req.on('error', () => resolve({ length, sha: '', complete: false }));
    }));
  });
  return { ...srv, received: async (i: number) => { while (got.length <= i) await new Promise((r) => setTimeout(r, 10)); return got[i]!; } };
}

/** The front: decodes the body and relays it upstream (pump), puts it through a backend store (its putObject), or reads it as a stream. */
async function front(up: string, pool: RelayPool, how: 'relay' | 'store' | 'stream') {
  const store = how === 'store' ? openS3Store({ name: 'up', endpoint: up, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test-secret' }, pathStyle: true }) : undefined;
  const bodies: unknown[] = [];
  /** Stream mode: bytes each request's consumer saw. */
  const streamed: number[] = [];
  const srv = await listen(async (req, res) => {
    try {
      const { body, size } = decodeBody(req, auth(String(req.headers['x-test-hash'] ?? 'UNSIGNED-PAYLOAD')), 10_000);
      bodies.push(body);
      if (how === 'stream') {
        const h = createHash('sha256');
        let n = 0;
        const i = streamed.push(0) - 1;
        for await (const c of body) { h.update(c as Buffer); n += (c as Buffer).length; streamed[i] = n; }
        res.writeHead(200, { 'x-sha': h.digest('hex'), 'x-length': String(n) }).end();
        return;
      }
      if (store) {
        const r = await store.putObject('b', 'k', { body, size, headers: { userMeta: {} }, checksums: {} });
        res.writeHead(200, { etag: `"${r.etag}"` }).end();
        return;
      }
      const r = await pool.request({ method: 'PUT', path: '/b/k', headers: { host: new URL(up).host, 'content-length': String(size) }, body });
      await r.body.dump();
      res.writeHead(r.statusCode, { etag: String(r.headers.etag) }).end();
    } catch (e) {
      if (process.env.FG_DEBUG) console.error('front', e);
      if (!res.headersSent) res.writeHead(isS3Error(e) ? e.status : 500, { 'x-code': isS3Error(e) ? e.code : 'other' }).end();
    }
  });
  return { ...srv, bodies, streamed, close: async () => { await store?.close(); await srv.close(); } };
}

/** PUTs `body` with node:http; `cutAfter`: send only that many bytes, then close. */
function put(url: string, body: Buffer, headers: Record<string, string> = {}, cutAfter?: number): Promise<{ status: number; headers: IncomingMessage['headers'] } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(url + '/b/k', { method: 'PUT', agent: false, headers: { 'content-length': String(body.length), ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers }));
    });
    req.on('error', (e) => resolve({ error: e.message }));
    if (cutAfter === undefined) {
      // In pieces, as a client writes: the body is still arriving when the front takes the socket.
      let off = 0;
      const next = () => {
        while (off < body.length) {
          const piece = body.subarray(off, off + 100_000);
          off += piece.length;
          if (!req.write(piece)) return void req.once('drain', next);
        }
        req.end();
      };
      next();
    } else {
      req.write(body.subarray(0, cutAfter), () => setTimeout(() => req.destroy(), 200));
    }
  });
}

const pools: RelayPool[] = [];
const pool = (url: string) => {
  const p = createRelayPool(url, { connectTimeoutMs: 5_000, headersTimeoutMs: 20_000, bodyTimeoutMs: 20_000 });
  pools.push(p);
  return p;
};
test.after(async () => { await Promise.all(pools.map((p) => p.close())); });

test('a raw body goes from the client socket to the upstream byte for byte; the answer closes the connection', async () => {
  const up = await upstream();
  const fr = await front(up.url, pool(up.url), 'relay');
  try {
    const body = randomBytes(5 * 1024 * 1024 + 7);
    for (const [i, hash] of [['UNSIGNED-PAYLOAD'], [sha(body)]].map((h, i) => [i, h[0]!] as const)) {
      const r = await put(fr.url, body, { 'x-test-hash': hash });
      assert.ok('status' in r, JSON.stringify(r));
      assert.equal(r.status, 200, `${i}: ${JSON.stringify(r.headers)}`);
      assert.equal(r.headers.etag, '"up"');
      assert.equal(r.headers.connection, 'close');
      assert.deepEqual(await up.received(i), { length: body.length, sha: sha(body), complete: true });
      assert.ok(isRawBody(fr.bodies[i]));
    }
  } finally {
    await fr.close();
    await up.close();
  }
});

test('a raw body whose payload hash does not match reaches the upstream short, and the client gets the mismatch', async () => {
  const up = await upstream();
  const fr = await front(up.url, pool(up.url), 'relay');
  try {
    const body = randomBytes(3 * 1024 * 1024);
    const r = await put(fr.url, body, { 'x-test-hash': sha(Buffer.from('something else')) });
    assert.ok('status' in r, JSON.stringify(r));
    assert.equal(r.status, 400);
    assert.equal(r.headers['x-code'], 'XAmzContentSHA256Mismatch');
    const got = await up.received(0);
    assert.equal(got.complete, false);
    assert.ok(got.length < body.length);
  } finally {
    await fr.close();
    await up.close();
  }
});

test('a client that goes away mid-body: the upstream request is cut, not completed', async () => {
  const up = await upstream();
  const fr = await front(up.url, pool(up.url), 'relay');
  try {
    const body = randomBytes(4 * 1024 * 1024);
    await put(fr.url, body, {}, 1024 * 1024);
    const got = await up.received(0);
    assert.equal(got.complete, false);
    assert.ok(got.length < body.length);
    // The front's body failed with IncompleteBody.
    const b = fr.bodies[0] as NodeJS.ReadableStream & { errored: Error | null };
    for (let i = 0; i < 500 && !b.errored; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(isS3Error(b.errored) && b.errored.code === 'IncompleteBody', String(b.errored));
  } finally {
    await fr.close();
    await up.close();
  }
});

test('read as a stream, a raw body is every byte; with a bad checksum its last bytes never come', async () => {
  const fr = await front('http://127.0.0.1:9', pool('http://127.0.0.1:9'), 'stream');
  try {
    const body = randomBytes(2 * 1024 * 1024 + 3);
    const ok = await put(fr.url, body);
    assert.ok('status' in ok, JSON.stringify(ok));
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['x-sha'], sha(body));
    assert.equal(ok.headers['x-length'], String(body.length));
    const md5 = createHash('md5').update(Buffer.from('other')).digest('base64');
    const bad = await put(fr.url, body, { 'content-md5': md5 });
    assert.ok('status' in bad, JSON.stringify(bad));
    assert.equal(bad.status, 400);
    assert.equal(bad.headers['x-code'], 'BadDigest');
    assert.ok(isRawBody(fr.bodies[1]));
    assert.ok(fr.streamed[1]! < body.length, `the consumer saw ${fr.streamed[1]} of ${body.length} bytes`);
  } finally {
    await fr.close();
  }
});

/** Counts the writes (write or writev calls, one syscall each) made on client sockets to `port` until `stop()`. */
function countWritesTo(port: number): { count(): number; stop(): void } {
  const proto = Socket.prototype as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  const { _write: write, _writev: writev } = proto;
  let n = 0;
  const counted = (fn: (...a: unknown[]) => void) => function (this: Socket, ...a: unknown[]) {
    if (this.remotePort === port) n++;
    return fn.apply(this, a);
  };
  proto._write = counted(write);
  proto._writev = counted(writev);
  return { count: () => n, stop: () => { proto._write = write; proto._writev = writev; } };
}

test('a small body is taken whole: a backend store sends it in one write with the request head, byte for byte', async () => {
  const up = await upstream();
  const fr = await front(up.url, pool(up.url), 'store');
  const writes = countWritesTo(Number(new URL(up.url).port));
  try {
    const body = randomBytes(4096);
    for (const [i, hash] of ['UNSIGNED-PAYLOAD', sha(body)].entries()) {
      const before = writes.count();
      const r = await put(fr.url, body, { 'x-test-hash': hash });
      assert.ok('status' in r, JSON.stringify(r));
      assert.equal(r.status, 200, `${i}: ${JSON.stringify(r.headers)}`);
      assert.deepEqual(await up.received(i), { length: body.length, sha: sha(body), complete: true });
      assert.ok(isWholeBody(fr.bodies[i]));
      assert.equal(writes.count() - before, 1, 'head and body in one write');
    }
  } finally {
    writes.stop();
    await fr.close();
    await up.close();
  }
});

test('a small body that fails its checks never reaches the backend: a bad digest, a client gone mid-body', async () => {
  const up = await upstream();
  const fr = await front(up.url, pool(up.url), 'store');
  let requests = 0;
  up.server.on('request', () => { requests++; });
  try {
    const body = randomBytes(48 * 1024);
    const md5 = createHash('md5').update(Buffer.from('other')).digest('base64');
    const bad = await put(fr.url, body, { 'content-md5': md5 });
    assert.ok('status' in bad, JSON.stringify(bad));
    assert.equal(bad.status, 400);
    assert.equal(bad.headers['x-code'], 'BadDigest');
    await put(fr.url, body, {}, 1000);
    const b = fr.bodies[1] as NodeJS.ReadableStream & { errored: Error | null };
    for (let i = 0; i < 500 && !b.errored; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(isS3Error(b.errored) && b.errored.code === 'IncompleteBody', String(b.errored));
    // A good one after them arrives whole: the upstream saw only that one.
    const ok = await put(fr.url, body);
    assert.ok('status' in ok && ok.status === 200, JSON.stringify(ok));
    assert.deepEqual(await up.received(0), { length: body.length, sha: sha(body), complete: true });
    assert.equal(requests, 1);
  } finally {
    await fr.close();
    await up.close();
  }
});

test('read as a stream, a small body is every byte; with a bad checksum none come', async () => {
  const fr = await front('http://127.0.0.1:9', pool('http://127.0.0.1:9'), 'stream');
  try {
    const body = randomBytes(20_000);
    const ok = await put(fr.url, body);
    assert.ok('status' in ok, JSON.stringify(ok));
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['x-sha'], sha(body));
    assert.equal(ok.headers['x-length'], String(body.length));
    const bad = await put(fr.url, body, { 'x-test-hash': sha(Buffer.from('other')) });
    assert.ok('status' in bad, JSON.stringify(bad));
    assert.equal(bad.status, 400);
    assert.equal(bad.headers['x-code'], 'XAmzContentSHA256Mismatch');
    assert.ok(isWholeBody(fr.bodies[1]));
    assert.equal(fr.streamed[1], 0);
  } finally {
    await fr.close();
  }
});

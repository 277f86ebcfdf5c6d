// The relay client against real node:http servers on loopback: an upstream, and a front that
// relays the upstream's body into its own response, read by a real client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { createRelayPool, type RelayPool } from './client.ts';

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string; connections: () => number; close(): Promise<void> }> {
  const server = createServer(handler);
  let connections = 0;
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => { connections++; sockets.add(s); s.once('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server, url, connections: () => connections,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

const host = (url: string) => ({ host: new URL(url).host });
const pools: RelayPool[] = [];
function pool(url: string, o: { headersTimeoutMs?: number; bodyTimeoutMs?: number } = {}): RelayPool {
  const p = createRelayPool(url, { connectTimeoutMs: 5_000, headersTimeoutMs: o.headersTimeoutMs ?? 10_000, bodyTimeoutMs: o.bodyTimeoutMs ?? 10_000 });
  pools.push(p);
  return p;
}
test.after(async () => { await Promise.all(pools.map((p) => p.close())); });

/** GET `url` with node:http: status, body digest and length, or the error that cut it. */
function fetchRaw(url: string): Promise<{ status: number; sha: string; length: number; error?: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      const h = createHash('sha256');
      let length = 0;
      res.on('data', (c: Buffer) => { h.update(c); length += c.length; });
      res.on('end', () => resolve({ status: res.statusCode!, sha: h.digest('hex'), length }));
      res.on('error', (e) => resolve({ status: res.statusCode!, sha: '', length, error: e.message }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('relayTo writes the upstream body into a response byte for byte, and the connection is reused', async () => {
  const body = randomBytes(5 * 1024 * 1024 + 7);
  const up = await listen((_req, res) => {
    res.writeHead(200, { 'content-length': body.length, etag: '"x"' });
    res.end(body);
  });
  const relay = pool(up.url);
  const front = await listen(async (_req, res) => {
    const r = await relay.request({ method: 'GET', path: '/obj?x=1', headers: host(up.url) });
    res.writeHead(r.statusCode, { 'content-length': String(r.headers['content-length']) });
    await r.body.relayTo(res);
  });
  try {
    const want = createHash('sha256').update(body).digest('hex');
    for (let i = 0; i < 3; i++) {
      const got = await fetchRaw(front.url);
      assert.equal(got.status, 200);
      assert.equal(got.length, body.length);
      assert.equal(got.sha, want);
    }
    assert.equal(up.connections(), 1, 'one keep-alive connection served all three');
  } finally {
    await front.close();
    await up.close();
  }
});

test('a client that stops reading stops the upstream (no buffering in between); resumed, every byte arrives', async () => {
  const MiB = 1024 * 1024;
  const total = 96 * MiB;
  const chunk = randomBytes(MiB);
  let accepted = 0;
  let stalledSince = 0;
  const up = await listen((_req, res) => {
    res.writeHead(200, { 'content-length': total });
    const pump = () => {
      while (accepted < total) {
        accepted += MiB;
        if (!res.write(chunk)) { stalledSince = Date.now(); res.once('drain', () => { stalledSince = 0; pump(); }); return; }
      }
      res.end();
    };
    pump();
  });
  const relay = pool(up.url);
  const front = await listen(async (_req, res) => {
    const r = await relay.request({ method: 'GET', path: '/', headers: host(up.url) });
    res.writeHead(200, { 'content-length': total });
    await r.body.relayTo(res).catch(() => {});
  });
  try {
    const res = await new Promise<IncomingMessage>((r) => httpRequest(front.url, { agent: false }, r).end());
    res.pause();
    // Wait until the upstream has been held up for a while with the client still not reading.
    const deadline = Date.now() + 20_000;
    while (!(stalledSince && Date.now() - stalledSince > 500) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(stalledSince, 'the upstream was held back');
    assert.ok(accepted < total, `the upstream could hand over only what the sockets' buffers hold (${accepted / MiB} MiB of ${total / MiB})`);
    let n = 0;
    const h = createHash('sha256');
    res.on('data', (c: Buffer) => { n += c.length; h.update(c); });
    res.resume();
    await new Promise((r) => res.once('end', r));
    assert.equal(n, total);
    const want = createHash('sha256');
    for (let i = 0; i < total / MiB; i++) want.update(chunk);
    assert.equal(h.digest('hex'), want.digest('hex'));
  } finally {
    await front.close();
    await up.close();
  }
});

test('as a stream: bodies are copies, chunked error documents decode, HEAD has no body, and the connection is kept', async () => {
  const body = randomBytes(300_000);
  const up = await listen((req, res) => {
    if (req.url === '/chunked') {
      res.writeHead(404, { 'content-type': 'application/xml' });
      res.write('<Error><Code>NoSuchKey</Code>');
      res.end('<Message>gone</Message></Error>');
      return;
    }
    res.writeHead(200, { 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  const relay = pool(up.url);
  try {
    const a = await relay.request({ method: 'GET', path: '/a', headers: host(up.url) });
    const parts: Buffer[] = [];
    for await (const c of a.body) parts.push(c as Buffer);
    assert.deepEqual(Buffer.concat(parts), body);
    const e = await relay.request({ method: 'GET', path: '/chunked', headers: host(up.url) });
    assert.equal(e.statusCode, 404);
    assert.equal(e.headers['transfer-encoding'], 'chunked');
    assert.equal(await e.body.text(), '<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>');
    const h = await relay.request({ method: 'HEAD', path: '/a', headers: host(up.url) });
    assert.equal(h.headers['content-length'], String(body.length));
    assert.equal(await h.body.text(), '');
    const again = await relay.request({ method: 'GET', path: '/a', headers: host(up.url) });
    assert.deepEqual(Buffer.from(await again.body.text(), 'latin1').length > 0, true);
    assert.equal(up.connections(), 1);
  } finally {
    await up.close();
  }
});

test('an upstream that dies mid-body fails the relay and the client sees a cut response', async () => {
  const up = await listen((_req, res) => {
    res.writeHead(200, { 'content-length': 10 * 1024 * 1024 });
    res.write(randomBytes(1024 * 1024), () => setTimeout(() => res.socket!.destroy(), 50));
  });
  const relay = pool(up.url);
  let relayError: unknown;
  const front = await listen(async (_req, res) => {
    const r = await relay.request({ method: 'GET', path: '/', headers: host(up.url) });
    res.writeHead(200, { 'content-length': 10 * 1024 * 1024 });
    try {
      await r.body.relayTo(res);
    } catch (e) {
      relayError = e;
      res.destroy();
    }
  });
  try {
    const got = await fetchRaw(front.url).catch((e: Error) => ({ status: 0, length: -1, error: e.message }));
    assert.ok(got.error, 'the client sees an error, not a complete body');
    assert.equal((relayError as { code?: string }).code, 'UND_ERR_SOCKET');
  } finally {
    await front.close();
    await up.close();
  }
});

test('a client that goes away mid-body ends the relay and closes the upstream connection', async () => {
  let upstreamClosed!: () => void;
  const closed = new Promise<void>((r) => { upstreamClosed = r; });
  const up = await listen((_req, res) => {
    res.writeHead(200, { 'content-length': 64 * 1024 * 1024 });
    res.socket!.once('close', upstreamClosed);
    const chunk = randomBytes(1024 * 1024);
    const pump = () => { while (res.write(chunk)); res.once('drain', pump); };
    pump();
  });
  const relay = pool(up.url);
  let relayError: unknown;
  const front = await listen(async (_req, res) => {
    const r = await relay.request({ method: 'GET', path: '/', headers: host(up.url) });
    res.writeHead(200, { 'content-length': 64 * 1024 * 1024 });
    await r.body.relayTo(res).catch((e: unknown) => { relayError = e; });
  });
  try {
    await new Promise<void>((resolve) => {
      const req = httpRequest(front.url, { agent: false }, (res) => {
        res.once('data', () => { req.destroy(); resolve(); });
      });
      req.on('error', () => {});
      req.end();
    });
    await closed;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((relayError as { code?: string }).code, 'ERR_STREAM_PREMATURE_CLOSE');
  } finally {
    await front.close();
    await up.close();
  }
});

/** Counts the writes (write or writev calls, one syscall each when the socket takes them) made on each accepted socket. */
function countWrites(server: Server): Map<Socket, number> {
  const counts = new Map<Socket, number>();
  server.on('connection', (s: Socket) => {
    counts.set(s, 0);
    const sock = s as Socket & { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
    const write = sock._write, writev = sock._writev;
    sock._write = function (...a: unknown[]) { counts.set(s, counts.get(s)! + 1); return write.apply(this, a); };
    sock._writev = function (...a: unknown[]) { counts.set(s, counts.get(s)! + 1); return writev.apply(this, a); };
  });
  return counts;
}

test('a small body that arrived whole with its head goes out in one write with every header, and without pipe()', async () => {
  const body = randomBytes(4096);
  const up = await listen((_req, res) => {
    res.writeHead(200, { 'content-length': body.length, etag: '"small"', 'x-amz-meta-colour': 'blue' });
    res.end(body);
  });
  const relay = pool(up.url);
  let piped = 0;
  const front = await listen(async (_req, res) => {
    const r = await relay.request({ method: 'GET', path: '/small', headers: host(up.url) });
    res.on('pipe', () => { piped++; });
    res.setHeader('x-amz-request-id', 'REQ1');
    res.writeHead(r.statusCode, { 'content-length': String(r.headers['content-length']), etag: r.headers.etag!, 'x-amz-meta-colour': String(r.headers['x-amz-meta-colour']) });
    await r.body.relayTo(res);
  });
  const writes = countWrites(front.server);
  try {
    for (let i = 0; i < 3; i++) {
      const got = await new Promise<{ headers: IncomingMessage['headers']; data: Buffer }>((resolve, reject) => {
        const req = httpRequest(front.url, { agent: false }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve({ headers: res.headers, data: Buffer.concat(parts) }));
        });
        req.on('error', reject);
        req.end();
      });
      assert.deepEqual(got.data, body);
      assert.equal(got.headers['content-length'], '4096');
      assert.equal(got.headers.etag, '"small"');
      assert.equal(got.headers['x-amz-meta-colour'], 'blue');
      assert.equal(got.headers['x-amz-request-id'], 'REQ1');
    }
    // Each response, head and body together, was one write on its connection (three connections).
    assert.deepEqual([...writes.values()], [1, 1, 1]);
    assert.equal(piped, 0);
    assert.equal(up.connections(), 1, 'the upstream connection is reused');
  } finally {
    await front.close();
    await up.close();
  }
});

test('a whole body relayed to a client already gone rejects as the client gone; the upstream connection stays reusable', async () => {
  const up = await listen((_req, res) => { res.writeHead(200, { 'content-length': 4096 }); res.end(randomBytes(4096)); });
  const relay = pool(up.url);
  const outcomes: unknown[] = [];
  const bodies: { destroyed: boolean }[] = [];
  const front = await listen(async (_req, res) => {
    const r = await relay.request({ method: 'GET', path: '/', headers: host(up.url) });
    bodies.push(r.body);
    // Relay only once the client has left: the response is closed before its first byte.
    if (!res.destroyed) await new Promise<void>((resolve) => res.once('close', () => resolve()));
    res.writeHead(200, { 'content-length': 4096 });
    await r.body.relayTo(res).then(() => outcomes.push('resolved'), (e: unknown) => outcomes.push((e as { code?: string }).code));
  });
  try {
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve) => {
        const req = httpRequest(front.url, { agent: false });
        req.on('error', () => resolve());
        req.end();
        setTimeout(() => req.destroy(), 20);
      });
    }
    const deadline = Date.now() + 10_000;
    while (outcomes.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(outcomes, ['ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_PREMATURE_CLOSE']);
    assert.ok(bodies.every((b) => b.destroyed), 'every relay body is destroyed');
    assert.equal(up.connections(), 1, 'the body had arrived whole: its connection went back to the pool');
  } finally {
    await front.close();
    await up.close();
  }
});

test('a small body whose rest arrives after its head is gathered and goes out in one write; an upstream cut or a client gone meanwhile fails it', async () => {
  const body = randomBytes(4096);
  const up = await listen((req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    res.write(body.subarray(0, 1000));
    if (req.url === '/cut') setTimeout(() => res.socket!.destroy(), 50);
    else setTimeout(() => res.end(body.subarray(1000)), req.url === '/slow' ? 300 : 50);
  });
  const relay = pool(up.url);
  const outcomes: unknown[] = [];
  let piped = 0;
  const front = await listen(async (req, res) => {
    const r = await relay.request({ method: 'GET', path: req.url!, headers: host(up.url) });
    res.on('pipe', () => { piped++; });
    res.writeHead(200, { 'content-length': String(r.headers['content-length']) });
    await r.body.relayTo(res).then(() => outcomes.push('resolved'), (e: unknown) => {
      outcomes.push((e as { code?: string }).code ?? (e as Error).message);
      res.destroy(); // as the gateway does once its head is out (sendError)
    });
  });
  const writes = countWrites(front.server);
  try {
    const whole = await fetchRaw(`${front.url}/late`);
    assert.equal(whole.sha, createHash('sha256').update(body).digest('hex'));
    assert.deepEqual([...writes.values()], [1], 'head and body in one write');
    assert.equal(piped, 0);
    // The upstream dies before the rest: the client's response is cut, nothing half-sent as whole.
    const cut = await fetchRaw(`${front.url}/cut`).catch((e: Error) => ({ error: e.message, length: 0 }));
    assert.ok(cut.error, 'the cut response fails at the client');
    assert.equal(cut.length, 0);
    // The client leaves while the rest is awaited: the relay ends as the client gone.
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${front.url}/slow`, { agent: false });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => req.destroy(), 100);
    });
    const deadline = Date.now() + 10_000;
    while (outcomes.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(outcomes[0], 'resolved');
    assert.equal(outcomes[1], 'UND_ERR_SOCKET');
    assert.equal(outcomes[2], 'ERR_STREAM_PREMATURE_CLOSE');
    // The cut and the abandoned exchanges closed their connections; the first was reused by the second.
    assert.equal(up.connections(), 2);
  } finally {
    await front.close();
    await up.close();
  }
});

test('timeouts and garbage: no head in time, a stalled body, a malformed status line', async () => {
  const up = await listen((req, res) => {
    if (req.url === '/silent') return;
    if (req.url === '/stall') {
      res.writeHead(200, { 'content-length': 100 });
      res.write('x');
      return;
    }
    res.socket!.end('HTTX/1.1 200 OK\r\n\r\n');
  });
  const relay = pool(up.url, { headersTimeoutMs: 200, bodyTimeoutMs: 200 });
  try {
    await assert.rejects(relay.request({ method: 'GET', path: '/silent', headers: host(up.url) }), { code: 'UND_ERR_HEADERS_TIMEOUT' });
    const s = await relay.request({ method: 'GET', path: '/stall', headers: host(up.url) });
    await assert.rejects(s.body.text(), { code: 'UND_ERR_BODY_TIMEOUT' });
    await assert.rejects(relay.request({ method: 'GET', path: '/bad', headers: host(up.url) }), /malformed status line/);
    await assert.rejects(relay.request({ method: 'GET', path: '/', headers: { host: 'x', 'x-evil': 'a\r\nb: c' } }), /CR or LF/);
  } finally {
    await up.close();
  }
});

test('an aborted request ends at once: waiting for its head (the connection is closed), or while it connects (nothing is sent)', async () => {
  const seen: string[] = [];
  const closed: string[] = [];
  const up = await listen((req) => {
    seen.push(req.url!);
    req.socket.once('close', () => closed.push(req.url!));
  });
  // Far past the test's own timeout: only the abort can end these requests.
  const relay = pool(up.url, { headersTimeoutMs: 3_600_000 });
  try {
    const waiting = new AbortController();
    const asked = relay.request({ method: 'GET', path: '/silent', headers: host(up.url), signal: waiting.signal });
    for (let i = 0; i < 200 && !seen.length; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(seen, ['/silent']);
    waiting.abort();
    await assert.rejects(asked, { name: 'AbortError' });
    for (let i = 0; i < 200 && !closed.length; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(closed, ['/silent'], 'its connection closed');
    const connecting = new AbortController();
    const early = relay.request({ method: 'GET', path: '/never', headers: host(up.url), signal: connecting.signal });
    connecting.abort();
    await assert.rejects(early, { name: 'AbortError' });
    assert.deepEqual(seen, ['/silent'], 'the request aborted while connecting was never sent');
  } finally {
    await up.close();
  }
});

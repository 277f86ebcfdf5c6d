// The sidecar's large PUT bodies taken off node's HTTP parser (injector/sidecar/forward.ts, the
// gateway's raw bodies: proxy/s3/raw-body.ts, proxy/relay/takeover.ts) in front of a real S3
// server: byte-identical objects from the AWS SDK (its default checksums), from an
// UNSIGNED-PAYLOAD client and from signed aws-chunked framing (forwarded undecoded); a body cut short reported and never stored; a PUT that a
// fault matches kept on the stream path. What node's HTTP parser handed to the sidecar's request
// streams is counted (the sidecar runs in this process): a raw body passes nearly none of it. On
// the wire, the raw path's answer closes the connection (the parser never saw the body's end).
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Agent } from 'node:http';
import { Readable } from 'node:stream';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startHarness, type Harness } from '../injector/testing/harness.ts';
import { countParsedPutBytes, objectPath, openRequest, RAW_EARLY, readBody, signHeaders, signedChunkedLength, signedChunks } from './lib/raw-s3.ts';
import { MiB, bytes, recordHeaders, s3Error, sha } from './lib/s3.ts';

type Line = Record<string, unknown>;

const parsed = countParsedPutBytes();
after(() => parsed.restore());
const parsedOf = parsed.of;

describe('sidecar: large PUT bodies off node\'s parser', () => {
  let h: Harness;
  const lines: Line[] = [];
  const bucket = 'rawput';
  const data = randomBytes(64 * MiB + 5);
  before(async () => {
    h = await startHarness({ onEvent: (msg, fields) => { if (msg === 'request') lines.push(fields); } });
    await h.direct().send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterEach(async () => { await h.api('DELETE', '/_floodgate/faults'); });
  after(() => h.close());

  /** The log line of the request for `key` (written when its response closes). */
  async function lineFor(key: string, method = 'PUT'): Promise<Line> {
    for (let i = 0; i < 500; i++) {
      const l = lines.find((x) => x.key === key && x.method === method);
      if (l) return l;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail(`no log line for ${method} ${key}`);
  }

  async function storedSha(key: string): Promise<string> {
    return sha(await bytes((await h.direct().send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body));
  }

  test('AWS SDK with its default checksums: 64 MiB from a Buffer (signed SHA-256, CRC32 header) raw; from a stream (aws-chunked, chunked transfer) streamed', async () => {
    const s3 = h.client();
    const headers = recordHeaders(s3);
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sdk-buffer', Body: data }));
    assert.equal(headers.at(-1)!.connection, 'close');
    assert.ok(parsedOf(bucket, 'sdk-buffer') < RAW_EARLY, `parsed ${parsedOf(bucket, 'sdk-buffer')}`);
    assert.equal(await storedSha('sdk-buffer'), sha(data));
    assert.equal((await h.direct().send(new HeadObjectCommand({ Bucket: bucket, Key: 'sdk-buffer' }))).ETag, put.ETag);
    const l = await lineFor('sdk-buffer');
    assert.equal(l.status, 200);
    assert.equal(l.bytesIn, data.length);
    assert.equal(l.complete, true);
    assert.match(String(l.requestId), /\S/);

    // From a stream the SDK frames aws-chunked inside HTTP chunked framing (no Content-Length):
    // the stream path, through node's parser, still byte-identical.
    const pieces = Readable.from((function* () { for (let o = 0; o < data.length; o += MiB) yield data.subarray(o, o + MiB); })());
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sdk-stream', Body: pieces, ContentLength: data.length }));
    assert.equal(await storedSha('sdk-stream'), sha(data));
    const s = await lineFor('sdk-stream');
    assert.equal(s.status, 200);
    assert.equal(s.complete, true);
    assert.equal(parsedOf(bucket, 'sdk-stream'), s.bytesIn);
    assert.ok(Number(s.bytesIn) > data.length, `bytesIn ${s.bytesIn}`);
  });

  test('an UNSIGNED-PAYLOAD client: 64 MiB in pieces round-trips byte-identical', async () => {
    const path = objectPath(bucket, 'unsigned');
    const pieces = Readable.from((function* () { for (let o = 0; o < data.length; o += 100_000) yield data.subarray(o, o + 100_000); })());
    // A keep-alive client: the close is the sidecar's.
    const agent = new Agent({ keepAlive: true });
    const res = await openRequest(h.sidecar.url, { method: 'PUT', path, creds: h.upstream.creds, payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': String(data.length) }, body: pieces, agent });
    const text = (await readBody(res)).toString();
    agent.destroy();
    assert.equal(res.statusCode, 200, text);
    assert.equal(res.headers.connection, 'close');
    assert.ok(parsedOf(bucket, 'unsigned') < RAW_EARLY, `parsed ${parsedOf(bucket, 'unsigned')}`);
    assert.ok(res.headers['x-amz-request-id']);
    assert.equal(await storedSha('unsigned'), sha(data));
    const l = await lineFor('unsigned');
    assert.equal(l.bytesIn, data.length);
    assert.equal(l.complete, true);
    assert.equal(l.requestId, res.headers['x-amz-request-id']);
  });

  test('an aws-chunked body with a Content-Length (signed chunks) goes raw, framing and all; the upstream decodes it', async () => {
    const chunks = [data.subarray(0, 4 * MiB), data.subarray(4 * MiB, 8 * MiB), data.subarray(8 * MiB, 8 * MiB + 10)];
    const decoded = chunks.reduce((n, c) => n + c.length, 0);
    const path = objectPath(bucket, 'aws-chunked');
    const headers = signHeaders(new URL(h.sidecar.url), {
      method: 'PUT', path, creds: h.upstream.creds, payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(decoded), 'content-length': String(signedChunkedLength(chunks.map((c) => c.length))) },
    });
    const frames = signedChunks(headers.authorization!, headers['x-amz-date']!, h.upstream.creds, chunks);
    const agent = new Agent({ keepAlive: true });
    const res = await openRequest(h.sidecar.url, { method: 'PUT', path, headers, body: Readable.from(frames), agent });
    const text = (await readBody(res)).toString();
    agent.destroy();
    assert.equal(res.statusCode, 200, text);
    assert.equal(res.headers.connection, 'close');
    assert.ok(parsedOf(bucket, 'aws-chunked') < RAW_EARLY, `parsed ${parsedOf(bucket, 'aws-chunked')}`);
    assert.equal(await storedSha('aws-chunked'), sha(Buffer.concat(chunks)));
    const l = await lineFor('aws-chunked');
    assert.equal(l.bytesIn, Number(headers['content-length']));
    assert.equal(l.complete, true);
  });

  /** Sends a signed head and `sent` of `size` body bytes on a raw socket, then `how` it ends. */
  async function cutPut(key: string, size: number, sent: number, how: 'half-close' | 'destroy'): Promise<string> {
    const base = new URL(h.sidecar.url);
    const path = objectPath(bucket, key);
    const head = signHeaders(base, { method: 'PUT', path, creds: h.upstream.creds, payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': String(size) } });
    const sock = connect(Number(base.port), base.hostname);
    await new Promise((r) => sock.once('connect', r));
    let answer = '';
    sock.on('data', (d: Buffer) => { answer += d.toString('latin1'); });
    sock.on('error', () => { /* the sidecar may reset it */ });
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.write(`PUT ${path} HTTP/1.1\r\n${Object.entries(head).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
    await new Promise<void>((r) => sock.write(data.subarray(0, sent), () => r()));
    // Long enough for the sidecar to take the socket and start the upstream request.
    await new Promise((r) => setTimeout(r, 300));
    if (how === 'destroy') sock.destroy();
    else sock.end();
    await closed;
    return answer;
  }

  test('a client that goes away mid-body, or ends its body short: logged incomplete, nothing stored upstream', async () => {
    const size = 16 * MiB;
    for (const how of ['destroy', 'half-close'] as const) {
      const key = `cut-${how}`;
      const answer = await cutPut(key, size, 4 * MiB, how);
      const l = await lineFor(key);
      assert.equal(l.complete, false, `${how}: ${JSON.stringify(l)}`);
      // The client's failure, not a 200 nor the upstream's: the body's own S3 error.
      assert.equal(l.status, 400, how);
      assert.equal(l.errorCode, 'IncompleteBody', how);
      assert.ok(Number(l.bytesIn) > 0 && Number(l.bytesIn) <= 4 * MiB, `${how}: bytesIn ${l.bytesIn}`);
      assert.doesNotMatch(answer, /^HTTP\/1\.1 200/, how);
      // The upstream request was cut short: no object, not even a partial one.
      assert.equal((await s3Error(h.direct().send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).$metadata.httpStatusCode, 404, how);
    }
    // The sidecar still serves.
    const s3 = h.client();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'after-cut', Body: data.subarray(0, MiB) }));
    assert.equal(await storedSha('after-cut'), sha(data.subarray(0, MiB)));
  });

  test('a PUT that a fault matches keeps the stream path (keep-alive), and the fault applies', async () => {
    const f = await h.inject({ kind: 'latency', ms: 300, match: { operations: ['PutObject'], keyPrefix: 'faulted' } });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const body = data.subarray(0, 8 * MiB);
      for (const key of ['faulted', 'plain']) {
        const t0 = performance.now();
        const res = await openRequest(h.sidecar.url, { method: 'PUT', path: objectPath(bucket, key), creds: h.upstream.creds, payloadHash: 'UNSIGNED-PAYLOAD', body, agent });
        await readBody(res);
        const took = performance.now() - t0;
        assert.equal(res.statusCode, 200);
        if (key === 'faulted') {
          assert.notEqual(res.headers.connection, 'close');
          assert.equal(parsedOf(bucket, key), body.length);
          assert.ok(took >= 295, `took ${took} ms`);
        } else {
          // Not matched: the raw path.
          assert.equal(res.headers.connection, 'close');
          assert.ok(parsedOf(bucket, key) < RAW_EARLY, `parsed ${parsedOf(bucket, key)}`);
        }
        assert.equal(await storedSha(key), sha(body));
        const l = await lineFor(key);
        assert.equal(l.bytesIn, body.length);
        assert.equal(l.complete, true);
      }
      const ledger = await h.api('GET', `/_floodgate/faults/ledger?faultId=${f.id}`);
      assert.deepEqual(ledger.body.entries.map((e: { decision: string }) => e.decision), ['fired']);
    } finally {
      agent.destroy();
    }
  });
});

// HTTP/1.1 on the wire, byte for byte: pipelined requests answered in order and executed in order
// unless all are safe, a malformed request late in a pipeline, a Content-Length shorter than the
// body, HTTP/0.9, Expect values, verbatim Content-Encoding, an oversized XML body read to the end
// so the client sees the error, and a forged continuation token. The process keeps serving.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { startTestGateway, type TestGateway } from './lib/gateway.ts';
import { errorCode, md5, objectPath, rawRequest, signHeaders, xmlField, type RawRequest } from './lib/raw-s3.ts';

let gw: TestGateway;
const B = 'http-wire';
const signed = (req: Omit<RawRequest, 'creds'>) => rawRequest(gw.url, { ...req, creds: gw.creds });

before(async () => {
  gw = await startTestGateway();
  assert.equal((await signed({ method: 'PUT', path: `/${B}` })).status, 200);
});
after(async () => { await gw?.close(); });

/** One signed request as raw bytes (keep-alive unless `close`). */
function requestBytes(method: string, path: string, body = '', extra: Record<string, string> = {}, close = false): string {
  const h = signHeaders(new URL(gw.url), { method, path, creds: gw.creds, body: body || undefined, headers: { ...extra, ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}) } });
  if (close) h.connection = 'close';
  return `${method} ${path} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n${body}`;
}

/** Writes the bytes at once on one socket; resolves with everything read until the server closes. */
function exchange(bytes: string, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(gw.port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`no close in ${timeoutMs} ms; got ${got}`)); }, timeoutMs);
    s.on('data', (c: Buffer) => { got += c.toString('latin1'); });
    s.once('error', (e) => { clearTimeout(timer); reject(e); });
    s.once('close', () => { clearTimeout(timer); resolve(got); });
    s.write(bytes);
  });
}

const statuses = (raw: string) => [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

test('pipelined PUT then GET, and DELETE then GET, of one key run in order', async () => {
  const path = objectPath(B, 'piped');
  const raw = await exchange(requestBytes('PUT', path, 'first') + requestBytes('GET', path) + requestBytes('DELETE', path) + requestBytes('GET', path, '', {}, true));
  assert.deepEqual(statuses(raw), [200, 200, 204, 404]);
  assert.match(raw, /\r\n\r\nfirst/);
});

test('a malformed request after valid ones in a pipeline: the valid ones are answered first', async () => {
  await signed({ method: 'PUT', path: objectPath(B, 'one'), body: 'one' });
  const raw = await exchange(requestBytes('PUT', objectPath(B, 'two'), 'two') + requestBytes('GET', objectPath(B, 'one')) + 'BOGUS \x01 nonsense\r\n\r\n');
  assert.deepEqual(statuses(raw), [200, 200, 400]);
  assert.match(raw, /<Code>BadRequest<\/Code>/);
  assert.equal((await signed({ method: 'GET', path: objectPath(B, 'two') })).body.toString(), 'two');
});

test('a Content-Length shorter than the body: the declared bytes are the object, the rest a bad request', async () => {
  const path = objectPath(B, 'short');
  const raw = await exchange(requestBytes('PUT', path, 'hello') + 'WORLD-AND-MORE\r\n\r\n');
  assert.deepEqual(statuses(raw), [200, 400]);
  assert.equal((await signed({ method: 'GET', path })).body.toString(), 'hello');
});

test('HTTP/0.9 and garbage request lines get a 400 S3 error and a closed connection', async () => {
  for (const line of ['GET /\r\n\r\n', 'GET / HTTP/0.9\r\n\r\n', '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n']) {
    const raw = await exchange(line);
    assert.deepEqual(statuses(raw), [400], JSON.stringify(line));
    assert.match(raw, /x-amz-request-id: /);
  }
  assert.equal((await signed({ method: 'HEAD', path: `/${B}` })).status, 200);
});

test('Expect: an empty value is ignored; any value but 100-continue is an S3 error with a request id, not a bare 417', async () => {
  const ok = await signed({ method: 'PUT', path: objectPath(B, 'expect'), body: 'e', headers: { expect: '' } });
  assert.equal(ok.status, 200);
  const bad = await signed({ method: 'PUT', path: objectPath(B, 'expect2'), body: 'e', headers: { expect: 'something-else' } });
  assert.equal(bad.status, 417);
  assert.equal(errorCode(bad.body), 'ExpectationFailed');
  assert.equal(xmlField(bad.body, 'RequestId'), bad.headers['x-amz-request-id']);
  assert.equal((await signed({ method: 'HEAD', path: objectPath(B, 'expect2') })).status, 404);
});

test('Content-Encoding comes back verbatim', async () => {
  for (const enc of ['deflate, gzip', 'gzip,  br', 'identity']) {
    assert.equal((await signed({ method: 'PUT', path: objectPath(B, 'enc'), body: 'z', headers: { 'content-encoding': enc } })).status, 200);
    assert.equal((await signed({ method: 'HEAD', path: objectPath(B, 'enc') })).headers['content-encoding'], enc);
  }
});

test('a 100 MB DeleteObjects body gets MaxMessageLengthExceeded, read by the client, and the gateway keeps serving', async () => {
  const size = 100 * 1024 * 1024;
  const chunk = Buffer.alloc(1024 * 1024, 0x20);
  let sent = 0;
  const body = new Readable({ read() { if (sent >= size) this.push(null); else { sent += chunk.length; this.push(chunk); } } });
  const res = await rawRequest(gw.url, { method: 'POST', path: `/${B}`, query: 'delete=', body, payloadHash: 'UNSIGNED-PAYLOAD', creds: gw.creds, headers: { 'content-length': String(size), 'content-md5': Buffer.from(md5(''), 'hex').toString('base64') } });
  assert.equal(res.status, 400);
  assert.equal(errorCode(res.body), 'MaxMessageLengthExceeded');
  assert.equal(xmlField(res.body, 'RequestId'), res.headers['x-amz-request-id']);
  assert.equal((await signed({ method: 'HEAD', path: `/${B}` })).status, 200);
});

test('a continuation token the gateway did not issue is InvalidArgument', async () => {
  const real = Buffer.from('1:a').toString('base64url');
  for (const token of ['garbage!!', `${real}!`, 'MTpmb28=', '%%%', 'x']) {
    const res = await signed({ method: 'GET', path: `/${B}`, query: `list-type=2&continuation-token=${encodeURIComponent(token)}` });
    assert.equal(res.status, 400, token);
    assert.equal(errorCode(res.body), 'InvalidArgument', token);
  }
  assert.equal((await signed({ method: 'GET', path: `/${B}`, query: `list-type=2&continuation-token=${real}` })).status, 200);
});

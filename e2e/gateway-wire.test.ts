// Bad input on the wire: hand-built requests (signed with the gateway's own SigV4 code, or raw
// bytes on a socket) that SDKs would never send. Each gets the S3 error a real S3 gives, every
// response carries x-amz-request-id, and after each one a previously stored object is intact.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { dirname, join } from 'node:path';
import { presignUrl } from '../proxy/auth/sigv4.ts';
import { startTestGateway, type TestGateway } from './lib/gateway.ts';
import {
  REGION, errorCode, md5, objectPath, openRequest, rawRequest, readBody, sha256, signHeaders, signedChunkedLength, signedChunks, xmlField,
  type RawRequest, type RawResponse,
} from './lib/raw-s3.ts';

const BUCKET = 'wire';
const CANARY = 'canary/obj';
const canary = randomBytes(100 * 1024);
const IDLE_MS = 600;

let gw: TestGateway;

/** A signed (by default) request; every response must carry a request id. */
async function send(req: Omit<RawRequest, 'creds'> & { creds?: RawRequest['creds'] | null }): Promise<RawResponse> {
  const res = await rawRequest(gw.url, { ...req, creds: req.creds === null ? undefined : req.creds ?? gw.creds });
  assert.match(String(res.headers['x-amz-request-id']), /^[0-9A-Za-z]{8,}$/, `x-amz-request-id on ${req.method} ${req.path}`);
  return res;
}

function expectError(res: RawResponse, status: number, code: string): RawResponse {
  assert.equal(res.status, status, `status (body: ${res.body})`);
  assert.equal(errorCode(res.body), code, `code (body: ${res.body})`);
  assert.equal(xmlField(res.body, 'RequestId'), res.headers['x-amz-request-id']);
  assert.match(String(res.headers['content-type']), /application\/xml/);
  return res;
}

/** The canary reads back byte-identical with its ETag, and the bucket holds only what we expect. */
async function assertIntact(extraKeys: string[] = []): Promise<void> {
  const got = await send({ method: 'GET', path: objectPath(BUCKET, CANARY) });
  assert.equal(got.status, 200);
  assert.equal(sha256(got.body), sha256(canary), 'canary bytes intact');
  assert.equal(got.headers.etag, `"${md5(canary)}"`);
  const list = await send({ method: 'GET', path: `/${BUCKET}`, query: 'list-type=2' });
  const keys = [...list.body.toString().matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]);
  assert.deepEqual(keys, [CANARY, ...extraKeys].sort(), 'no object appeared or vanished');
}

const put = (key: string, body: Buffer | string, extra: Partial<Parameters<typeof send>[0]> = {}) => send({ method: 'PUT', path: objectPath(BUCKET, key), body, ...extra });

/** Raw bytes on a fresh socket; resolves with everything the server sent until it closed. */
function exchange(bytes: Buffer | string, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(gw.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`no close in ${timeoutMs} ms; got ${Buffer.concat(chunks)}`)); }, timeoutMs);
    s.on('data', (c) => chunks.push(c));
    s.once('error', (e) => { clearTimeout(timer); reject(e); });
    s.once('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks)); });
    s.end(bytes);
  });
}

function headRequestBytes(path: string, creds = gw.creds): string {
  const h = signHeaders(new URL(gw.url), { method: 'HEAD', path, creds });
  return `HEAD ${path} HTTP/1.1\r\n${Object.entries({ ...h, connection: 'close' }).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
}

before(async () => {
  gw = await startTestGateway({ idleTimeoutMs: IDLE_MS });
  assert.equal((await send({ method: 'PUT', path: `/${BUCKET}` })).status, 200);
  assert.equal((await put(CANARY, canary)).status, 200);
});
after(() => gw?.close());

describe('authentication', () => {
  test('missing signature: AccessDenied, nothing written', async () => {
    expectError(await send({ method: 'GET', path: objectPath(BUCKET, CANARY), creds: null }), 403, 'AccessDenied');
    expectError(await put(CANARY, 'overwrite', { creds: null }), 403, 'AccessDenied');
    expectError(await put('new-unsigned', 'x', { creds: null }), 403, 'AccessDenied');
    await assertIntact();
  });

  test('wrong secret: SignatureDoesNotMatch with the StringToSign and CanonicalRequest we computed', async () => {
    const wrong = { accessKeyId: gw.creds.accessKeyId, secretAccessKey: gw.creds.secretAccessKey + 'x' };
    const res = expectError(await put(CANARY, 'overwrite', { creds: wrong }), 403, 'SignatureDoesNotMatch');
    assert.match(xmlField(res.body, 'StringToSign') ?? '', /^AWS4-HMAC-SHA256\n\d{8}T\d{6}Z\n\d{8}\/us-east-1\/s3\/aws4_request\n[0-9a-f]{64}$/);
    assert.match(xmlField(res.body, 'CanonicalRequest') ?? '', /^PUT\n\/wire\/canary\/obj\n/);
    expectError(await send({ method: 'DELETE', path: objectPath(BUCKET, CANARY), creds: wrong }), 403, 'SignatureDoesNotMatch');
    expectError(await send({ method: 'GET', path: objectPath(BUCKET, CANARY), creds: { accessKeyId: 'AKUNKNOWN', secretAccessKey: 'x' } }), 403, 'InvalidAccessKeyId');
    await assertIntact();
  });

  test('a signed header changed in transit, or a body that is not the signed one, is refused', async () => {
    const h = signHeaders(new URL(gw.url), { method: 'PUT', path: objectPath(BUCKET, CANARY), body: 'signed body', headers: { 'x-amz-meta-a': '1' }, creds: gw.creds });
    h['x-amz-meta-a'] = '2';
    expectError(await send({ method: 'PUT', path: objectPath(BUCKET, CANARY), body: 'signed body', headers: h, creds: null }), 403, 'SignatureDoesNotMatch');
    // Signed as sha256('signed body') but a different body of the same length arrives.
    const h2 = signHeaders(new URL(gw.url), { method: 'PUT', path: objectPath(BUCKET, CANARY), body: 'signed body', creds: gw.creds });
    expectError(await send({ method: 'PUT', path: objectPath(BUCKET, CANARY), body: 'SIGNED BODY', headers: h2, creds: null }), 400, 'XAmzContentSHA256Mismatch');
    await assertIntact();
  });

  test('presigned URLs: valid works; expired gets AccessDenied "Request has expired"; nothing written', async () => {
    const url = new URL(gw.url + objectPath(BUCKET, CANARY));
    const fresh = presignUrl({ method: 'GET', url, expiresSeconds: 60, region: REGION }, gw.creds);
    const ok = await send({ method: 'GET', path: fresh.pathname, query: fresh.search.slice(1), creds: null });
    assert.equal(ok.status, 200);
    assert.equal(sha256(ok.body), sha256(canary));

    const hourAgo = new Date(Date.now() - 3600_000);
    const stale = presignUrl({ method: 'GET', url, expiresSeconds: 60, region: REGION }, gw.creds, hourAgo);
    const res = expectError(await send({ method: 'GET', path: stale.pathname, query: stale.search.slice(1), creds: null }), 403, 'AccessDenied');
    assert.equal(xmlField(res.body, 'Message'), 'Request has expired');
    const stalePut = presignUrl({ method: 'PUT', url, expiresSeconds: 60, region: REGION }, gw.creds, hourAgo);
    expectError(await send({ method: 'PUT', path: stalePut.pathname, query: stalePut.search.slice(1), body: 'overwrite', creds: null }), 403, 'AccessDenied');
    await assertIntact();
  });

  test('a clock skewed by 20 minutes either way: RequestTimeTooSkewed', async () => {
    for (const skew of [20 * 60_000, -20 * 60_000]) {
      const now = new Date(Date.now() + skew);
      expectError(await put(CANARY, 'overwrite', { now }), 403, 'RequestTimeTooSkewed');
      const res = expectError(await send({ method: 'GET', path: objectPath(BUCKET, CANARY), now }), 403, 'RequestTimeTooSkewed');
      assert.ok(xmlField(res.body, 'ServerTime'));
    }
    await assertIntact();
  });
});

describe('aws-chunked bodies', () => {
  /** Headers for a signed-chunk PUT of chunks of these sizes, and the body frames. */
  function signedChunkedPut(key: string, chunks: Buffer[]): { headers: Record<string, string>; frames: Buffer[] } {
    const decoded = chunks.reduce((n, c) => n + c.length, 0);
    const headers = signHeaders(new URL(gw.url), {
      method: 'PUT', path: objectPath(BUCKET, key), creds: gw.creds, payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      headers: {
        'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(decoded),
        'content-length': String(signedChunkedLength(chunks.map((c) => c.length))),
      },
    });
    return { headers, frames: signedChunks(headers.authorization!, headers['x-amz-date']!, gw.creds, chunks) };
  }

  test('signed chunks verified in chain: a good upload lands; a tampered signature or byte is refused', async () => {
    const chunks = [randomBytes(64 * 1024), randomBytes(64 * 1024), randomBytes(10)];
    const good = signedChunkedPut('chunked/ok', chunks);
    const ok = await send({ method: 'PUT', path: objectPath(BUCKET, 'chunked/ok'), headers: good.headers, body: Buffer.concat(good.frames), creds: null });
    assert.equal(ok.status, 200, ok.body.toString());
    const back = await send({ method: 'GET', path: objectPath(BUCKET, 'chunked/ok') });
    assert.ok(back.body.equals(Buffer.concat(chunks)), 'framing stripped, bytes intact');

    const bad = signedChunkedPut(CANARY, chunks);
    const frames = bad.frames.map((f) => Buffer.from(f));
    const sigAt = frames[1]!.indexOf('chunk-signature=') + 'chunk-signature='.length;
    frames[1]![sigAt + 5] = frames[1]![sigAt + 5] === 0x61 ? 0x62 : 0x61;
    expectError(await send({ method: 'PUT', path: objectPath(BUCKET, CANARY), headers: bad.headers, body: Buffer.concat(frames), creds: null }), 403, 'SignatureDoesNotMatch');

    const flipped = signedChunkedPut(CANARY, chunks);
    const data = flipped.frames.map((f) => Buffer.from(f));
    data[0]![data[0]!.length - 10]! ^= 1;
    expectError(await send({ method: 'PUT', path: objectPath(BUCKET, CANARY), headers: flipped.headers, body: Buffer.concat(data), creds: null }), 403, 'SignatureDoesNotMatch');
    await assertIntact(['chunked/ok']);
  });

  test('signed chunks with a signed trailer: the right crc32 lands; a wrong one (validly signed) is BadDigest; a tampered trailer is refused', async () => {
    const chunks = [randomBytes(70_000), randomBytes(3)];
    const data = Buffer.concat(chunks);
    const attempt = (key: string, crc: string, tamper = false) => {
      const headers = signHeaders(new URL(gw.url), {
        method: 'PUT', path: objectPath(BUCKET, key), creds: gw.creds, payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
        headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length), 'x-amz-trailer': 'x-amz-checksum-crc32' },
      });
      const frames = signedChunks(headers.authorization!, headers['x-amz-date']!, gw.creds, chunks, { 'x-amz-checksum-crc32': crc });
      let body = Buffer.concat(frames);
      if (tamper) body = Buffer.from(body.toString('latin1').replace(`x-amz-checksum-crc32:${crc}`, `x-amz-checksum-crc32:${crcB64(Buffer.from('x'))}`), 'latin1');
      return send({ method: 'PUT', path: objectPath(BUCKET, key), headers, body: Readable.from([body]), creds: null });
    };
    const ok = await attempt('chunked/signed-trailer', crcB64(data));
    assert.equal(ok.status, 200, ok.body.toString());
    const back = await send({ method: 'GET', path: objectPath(BUCKET, 'chunked/signed-trailer') });
    assert.ok(back.body.equals(data));
    expectError(await attempt(CANARY, crcB64(Buffer.from('other'))), 400, 'BadDigest');
    expectError(await attempt(CANARY, crcB64(data), true), 403, 'SignatureDoesNotMatch');
    await assertIntact(['chunked/ok', 'chunked/signed-trailer']);
    assert.equal((await send({ method: 'DELETE', path: objectPath(BUCKET, 'chunked/signed-trailer') })).status, 204);
  });

  function trailerPut(key: string, data: Buffer, trailer: string, decodedLength = data.length): Promise<RawResponse> {
    const body = Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from(`\r\n0\r\nx-amz-checksum-crc32:${trailer}\r\n\r\n`)]);
    return send({
      method: 'PUT', path: objectPath(BUCKET, key), body, payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(decodedLength), 'x-amz-trailer': 'x-amz-checksum-crc32' },
    });
  }
  const crcB64 = (b: Buffer) => { const out = Buffer.alloc(4); out.writeUInt32BE(crc32(b)); return out.toString('base64'); };

  test('unsigned trailer: the right crc32 lands, a wrong one is BadDigest, a short decoded body IncompleteBody', async () => {
    const data = randomBytes(20_000);
    const ok = await trailerPut('chunked/trailer', data, crcB64(data));
    assert.equal(ok.status, 200, ok.body.toString());
    expectError(await trailerPut(CANARY, data, crcB64(Buffer.from('other'))), 400, 'BadDigest');
    expectError(await trailerPut(CANARY, data, crcB64(data), data.length + 100), 400, 'IncompleteBody');
    await assertIntact(['chunked/ok', 'chunked/trailer']);
    assert.equal((await send({ method: 'DELETE', path: objectPath(BUCKET, 'chunked/trailer') })).status, 204);
    assert.equal((await send({ method: 'DELETE', path: objectPath(BUCKET, 'chunked/ok') })).status, 204);
  });
});

describe('request documents', () => {
  const withMd5 = (xml: string) => ({ 'content-md5': Buffer.from(md5(xml), 'hex').toString('base64') });

  test('DeleteObjects with malformed XML: MalformedXML, nothing deleted', async () => {
    for (const xml of ['not xml at all', `<Delete><Object><Key>${CANARY}</Key></Object>`, '<Delete></Delete>', `<Delete><Object><Key>${CANARY}</Key></Object></Wrong>`]) {
      expectError(await send({ method: 'POST', path: `/${BUCKET}`, query: 'delete=', body: xml, headers: withMd5(xml) }), 400, 'MalformedXML');
    }
    await assertIntact();
  });

  test('CompleteMultipartUpload with malformed XML: MalformedXML, the target key untouched, upload still completable', async () => {
    const created = await send({ method: 'POST', path: objectPath(BUCKET, CANARY), query: 'uploads=' });
    assert.equal(created.status, 200);
    const uploadId = xmlField(created.body, 'UploadId')!;
    const part = randomBytes(1000);
    const up = await send({ method: 'PUT', path: objectPath(BUCKET, CANARY), query: `partNumber=1&uploadId=${encodeURIComponent(uploadId)}`, body: part });
    assert.equal(up.status, 200);
    for (const xml of ['garbage<', '<CompleteMultipartUpload></CompleteMultipartUpload>', '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>',
      `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${up.headers.etag}</ETag></Part>`]) {
      expectError(await send({ method: 'POST', path: objectPath(BUCKET, CANARY), query: `uploadId=${encodeURIComponent(uploadId)}`, body: xml }), 400, 'MalformedXML');
    }
    await assertIntact();
    const abort = await send({ method: 'DELETE', path: objectPath(BUCKET, CANARY), query: `uploadId=${encodeURIComponent(uploadId)}` });
    assert.equal(abort.status, 204);
    await assertIntact();
  });
});

describe('ranges', () => {
  const get = (range: string, method = 'GET') => send({ method, path: objectPath(BUCKET, CANARY), headers: { range } });

  test('unsatisfiable: 416 InvalidRange with Content-Range bytes */N', async () => {
    for (const range of [`bytes=${canary.length}-`, `bytes=${canary.length + 5}-${canary.length + 10}`]) {
      const res = expectError(await get(range), 416, 'InvalidRange');
      assert.equal(res.headers['content-range'], `bytes */${canary.length}`);
    }
    const head = await get(`bytes=${canary.length}-`, 'HEAD');
    assert.equal(head.status, 416);
    assert.equal(head.body.length, 0);
    await assertIntact();
  });

  test('syntactically invalid ranges are ignored: 200 with the whole object, as S3 does', async () => {
    for (const range of ['bytes=abc', 'bytes=5-2', 'items=0-5', 'bytes=', 'bytes=--1']) {
      const res = await get(range);
      assert.equal(res.status, 200, `${range}: ${res.body.subarray(0, 200)}`);
      assert.equal(sha256(res.body), sha256(canary), range);
      assert.equal(res.headers['content-range'], undefined);
    }
  });

  test('valid ranges still work: first, middle, suffix, past-the-end end', async () => {
    const cases: [string, number, number][] = [['bytes=0-0', 0, 0], ['bytes=100-199', 100, 199], ['bytes=-10', canary.length - 10, canary.length - 1],
      [`bytes=${canary.length - 3}-${canary.length + 100}`, canary.length - 3, canary.length - 1]];
    for (const [range, a, b] of cases) {
      const res = await get(range);
      assert.equal(res.status, 206, range);
      assert.equal(res.headers['content-range'], `bytes ${a}-${b}/${canary.length}`);
      assert.ok(res.body.equals(canary.subarray(a, b + 1)), range);
    }
  });
});

describe('keys', () => {
  // Writes refuse such keys with a clear 400; reads answer NoSuchKey, since no such object can exist.
  test('path escapes, NUL and control characters: InvalidArgument; over 1024 bytes: KeyTooLongError; nothing written anywhere', async () => {
    const bad: [string, string][] = [
      [objectPath(BUCKET, '../x'), 'InvalidArgument'],
      [objectPath(BUCKET, 'a/../../b'), 'InvalidArgument'],
      [`/${BUCKET}/..%2F..%2Fescaped`, 'InvalidArgument'],
      [`/${BUCKET}/%2E%2E/dots`, 'InvalidArgument'],
      [objectPath(BUCKET, './here'), 'InvalidArgument'],
      [objectPath(BUCKET, 'nul\u0000byte'), 'InvalidArgument'],
      [objectPath(BUCKET, 'ctl\u0001char'), 'InvalidArgument'],
      [objectPath(BUCKET, 'new\nline'), 'InvalidArgument'],
      [objectPath(BUCKET, 'del\u007fchar'), 'InvalidArgument'],
      [objectPath(BUCKET, 'k'.repeat(1025)), 'KeyTooLongError'],
      [objectPath(BUCKET, 'é'.repeat(513)), 'KeyTooLongError'],
    ];
    // Names the escapes would create beside or inside the data dir (other tests share tmpdir, so
    // only these names are checked).
    const escapes = ['x', 'b', 'escaped', 'dots'].flatMap((n) => [join(dirname(gw.dir), n), join(gw.dir, n)]);
    const before = escapes.filter((p) => existsSync(p));
    for (const [path, code] of bad) {
      const res = expectError(await send({ method: 'PUT', path, body: 'should not land' }), 400, code);
      assert.ok((xmlField(res.body, 'Message') ?? '').length > 10, 'a message that says what is wrong');
      expectError(await send({ method: 'GET', path }), 404, 'NoSuchKey');
      expectError(await send({ method: 'POST', path, query: 'uploads=' }), 400, code);
    }
    assert.deepEqual(escapes.filter((p) => existsSync(p)), before, 'nothing created beside or in the data dir');
    await assertIntact();
    // The boundary itself is fine.
    const longest = 'k'.repeat(1024);
    assert.equal((await put(longest, 'ok')).status, 200);
    assert.equal((await send({ method: 'DELETE', path: objectPath(BUCKET, longest) })).status, 204);
  });
});

describe('short and stalled bodies', () => {
  test('a body that stops short of its Content-Length gets RequestTimeout after the idle timeout; nothing written', async () => {
    for (const payloadHash of ['UNSIGNED-PAYLOAD', sha256(Buffer.alloc(1000))]) {
      const body = new PassThrough();
      const started = Date.now();
      const res = openRequest(gw.url, {
        method: 'PUT', path: objectPath(BUCKET, CANARY), creds: gw.creds, payloadHash, body, headers: { 'content-length': '1000' },
      });
      body.write(Buffer.alloc(500));
      const r = await res;
      const text = await readBody(r);
      const elapsed = Date.now() - started;
      assert.equal(r.statusCode, 400, text.toString());
      assert.equal(errorCode(text), 'RequestTimeout');
      assert.ok(r.headers['x-amz-request-id']);
      assert.ok(elapsed >= IDLE_MS - 50 && elapsed < IDLE_MS + 5000, `answered after ${elapsed} ms`);
      body.destroy();
    }
    await assertIntact();
  });

  test('a client that disconnects mid-body leaves nothing behind', async () => {
    const h = signHeaders(new URL(gw.url), { method: 'PUT', path: objectPath(BUCKET, CANARY), creds: gw.creds, payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': String(1 << 20) } });
    const s = connect(gw.port, '127.0.0.1');
    await new Promise((r) => s.once('connect', r));
    s.write(`PUT ${objectPath(BUCKET, CANARY)} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
    s.write(randomBytes(300_000));
    await new Promise((r) => setTimeout(r, 100));
    s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    await assertIntact();
  });
});

describe('unknown sub-resources', () => {
  test('?retention, ?tagging, ?lifecycle, ?policy: 501 NotImplemented XML and no write or delete', async () => {
    // ?acl and GET ?versioning are answered (e2e/gateway-refusals.test.ts); the rest are not.
    const cases: [string, string, string, string?][] = [
      ['PUT', objectPath(BUCKET, CANARY), 'retention', '<Retention/>'],
      ['PUT', objectPath(BUCKET, CANARY), 'tagging', '<Tagging><TagSet/></Tagging>'],
      ['PUT', objectPath(BUCKET, 'brand-new'), 'legal-hold', 'x'],
      ['PUT', objectPath(BUCKET, 'brand-new'), 'tagging', 'x'],
      ['DELETE', objectPath(BUCKET, CANARY), 'tagging'],
      ['GET', objectPath(BUCKET, CANARY), 'retention'],
      ['PUT', `/${BUCKET}`, 'versioning', '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>'],
      ['PUT', `/${BUCKET}`, 'lifecycle', '<LifecycleConfiguration/>'],
      ['DELETE', `/${BUCKET}`, 'lifecycle'],
      ['DELETE', `/${BUCKET}`, 'policy'],
      ['GET', `/${BUCKET}`, 'tagging'],
    ];
    for (const [method, path, query, body] of cases) {
      const res = expectError(await send({ method, path, query, body }), 501, 'NotImplemented');
      assert.match(xmlField(res.body, 'Message') ?? '', new RegExp(query), `${method} ?${query}`);
    }
    await assertIntact();
    const bucket = await send({ method: 'HEAD', path: `/${BUCKET}` });
    assert.equal(bucket.status, 200, 'bucket still there');
  });
});

describe('HEAD errors and request ids', () => {
  /** Parses a raw HTTP response read until close: status and the bytes after the header block. */
  function parse(raw: Buffer): { status: number; headers: string; body: Buffer } {
    const end = raw.indexOf('\r\n\r\n');
    assert.ok(end > 0, `a complete header block: ${raw}`);
    return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(raw.toString('latin1'))?.[1]), headers: raw.subarray(0, end).toString('latin1'), body: raw.subarray(end + 4) };
  }

  test('HEAD errors carry status and request id but no body bytes on the wire', async () => {
    const wrong = { accessKeyId: gw.creds.accessKeyId, secretAccessKey: 'wrong' };
    const cases: [string, number, typeof gw.creds][] = [
      [objectPath(BUCKET, 'missing'), 404, gw.creds],
      ['/no-such-bucket', 404, gw.creds],
      [objectPath('no-such-bucket', 'k'), 404, gw.creds],
      [objectPath(BUCKET, CANARY), 403, wrong],
      [objectPath(BUCKET, '../x'), 404, gw.creds],
    ];
    for (const [path, status, creds] of cases) {
      const r = parse(await exchange(headRequestBytes(path, creds)));
      assert.equal(r.status, status, `HEAD ${path}: ${r.headers}`);
      assert.match(r.headers, /\r\nx-amz-request-id: [0-9A-Za-z]+/i);
      assert.equal(r.body.length, 0, `HEAD ${path} sent a body: ${r.body}`);
    }
  });

  test('malformed HTTP and oversized headers still get an S3 error with a request id', async () => {
    const garbage = parse(await exchange('NOT-HTTP\r\n\r\n'));
    assert.equal(garbage.status, 400);
    assert.match(garbage.headers, /\r\nx-amz-request-id: /i);
    const big = parse(await exchange(`GET /${BUCKET} HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(64 * 1024)}\r\n\r\n`));
    assert.equal(big.status, 431);
    assert.match(big.headers, /\r\nx-amz-request-id: /i);
    await assertIntact();
  });
});

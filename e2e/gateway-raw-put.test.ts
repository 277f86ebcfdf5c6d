// The gateway's large PUT bodies taken off node's HTTP parser (proxy/s3/raw-body.ts,
// proxy/relay/takeover.ts) in front of a real MinIO: plain bodies from the AWS SDK and boto3 with
// their default checksums, and aws-chunked bodies with a Content-Length, whose framing the
// gateway decodes as it pumps (chunk signatures and checksums verified, decoded bytes upstream).
// Which path a PUT took is read off the wire and off node's parser: the raw path's answer closes
// the connection, and the parser hands the request stream only what it read before the takeover.
// Every bad body is answered with its S3 error and stores nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createDigest } from '../proxy/auth/checksums.ts';
import { startMinio, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store } from '../proxy/backends/s3/store.ts';
import { openVirtualStore, parseBalancingConfig } from '../proxy/virtual/index.ts';
import { startTestGateway, tempDir, type TestGateway } from './lib/gateway.ts';
import { isolatedAwsEnv, noPython, runPython } from './lib/python.ts';
import { countParsedPutBytes, errorCode, objectPath, openRequest, RAW_EARLY, readBody, signHeaders, signedChunkedLength, signedChunks } from './lib/raw-s3.ts';
import { MiB, bytes, recordHeaders, s3Error, sha } from './lib/s3.ts';

const parsed = countParsedPutBytes();
after(() => parsed.restore());

const crc32 = (b: Buffer) => {
  const d = createDigest('crc32');
  d.update(b);
  return d.digest().toString('base64');
};

/** The JS SDK's aws-chunked framing (STREAMING-UNSIGNED-PAYLOAD-TRAILER) with a CRC32 trailer. */
function unsignedTrailerFrames(chunks: readonly Buffer[], crc: string): Buffer[] {
  return [
    ...chunks.map((c) => Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')])),
    Buffer.from(`0\r\nx-amz-checksum-crc32:${crc}\r\n\r\n`),
  ];
}

const split = (b: Buffer, size: number) => Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size));

describe('gateway: large PUT bodies off node\'s parser, over MinIO', () => {
  let minio: Minio;
  let gw: TestGateway;
  let s3: S3Client;
  let dir: string;
  const bucket = 'raw-vb';
  const data = randomBytes(64 * MiB + 5);

  before(async () => {
    minio = await startMinio();
    const direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
    await direct.createBucket('fg-raw');
    await direct.close();
    dir = tempDir('floodgate-raw-put-');
    const store = await openVirtualStore(parseBalancingConfig({
      backends: [{ name: 'minio', endpoint: minio.endpoint, bucket: 'fg-raw', credentials: minio.credentials }],
      virtualBuckets: [{ name: bucket, backends: ['minio'] }],
      index: { kind: 'sqlite', path: join(dir, 'index.db') },
    }));
    gw = await startTestGateway({ store });
    s3 = gw.client({ maxAttempts: 1 });
  });
  after(async () => {
    await gw?.close();
    await minio?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const parsedOf = (key: string) => parsed.of(bucket, key);
  const storedSha = async (key: string) => sha(await bytes((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body));
  const headCrc32 = async (key: string) => (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }))).ChecksumCRC32;

  /** Nothing under `key`: not in the gateway, no copy (not even a partial one) on MinIO. */
  async function assertNothingStored(key: string): Promise<void> {
    assert.equal((await s3Error(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })))).$metadata.httpStatusCode, 404, key);
    const backend = new S3Client({ endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: minio.credentials });
    const listed = await backend.send(new ListObjectsV2Command({ Bucket: 'fg-raw' }));
    backend.destroy();
    assert.deepEqual((listed.Contents ?? []).map((o) => o.Key).filter((k) => k?.endsWith(key)), [], key);
  }

  /** A signed aws-chunked PUT of `frames` (`decoded` data bytes) with a Content-Length. */
  function chunkedHead(key: string, mode: string, framedLength: number, decoded: number, extra: Record<string, string> = {}) {
    return signHeaders(new URL(gw.url), {
      method: 'PUT', path: objectPath(bucket, key), creds: gw.creds, payloadHash: mode,
      headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(decoded), 'content-length': String(framedLength), ...extra },
    });
  }

  async function send(key: string, headers: Record<string, string>, frames: readonly Buffer[]) {
    const res = await openRequest(gw.url, { method: 'PUT', path: objectPath(bucket, key), headers, body: Readable.from(frames) });
    return { status: res.statusCode!, headers: res.headers, body: (await readBody(res)).toString() };
  }

  test('AWS SDK v3, default client, Body a Buffer (signed SHA-256, CRC32 header): raw, byte-identical, CRC32 on HEAD', async () => {
    const seen = recordHeaders(s3);
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sdk-buffer', Body: data }));
    s3.middlewareStack.remove('recordHeaders');
    assert.equal(seen.at(-1)!.connection, 'close');
    assert.ok(parsedOf('sdk-buffer') < RAW_EARLY, `parsed ${parsedOf('sdk-buffer')}`);
    assert.equal(put.ChecksumCRC32, crc32(data));
    assert.equal(await storedSha('sdk-buffer'), sha(data));
    assert.equal(await headCrc32('sdk-buffer'), crc32(data));
  });

  test('boto3 put_object with its default checksums: raw, byte-identical, CRC32 on HEAD', { skip: noPython }, async () => {
    const file = join(dir, 'boto3.bin');
    writeFileSync(file, data);
    const env = isolatedAwsEnv(dir, gw.creds);
    const { stdout } = await runPython(join(import.meta.dirname, 'py', 'boto3_put_large.py'), [gw.url, gw.creds.accessKeyId, gw.creds.secretAccessKey, bucket, 'boto3', file], { env });
    const out = JSON.parse(stdout) as { connection: string; putCrc32: string; headCrc32: string; sha256: string };
    assert.equal(out.connection, 'close');
    assert.ok(parsedOf('boto3') < RAW_EARLY, `parsed ${parsedOf('boto3')}`);
    assert.equal(out.sha256, sha(data));
    assert.equal(out.putCrc32, crc32(data));
    assert.equal(out.headCrc32, crc32(data));
  });

  test('signed aws-chunked with a Content-Length and a CRC32 header: raw, framing decoded, byte-identical, CRC32 on HEAD', async () => {
    const chunks = split(data, 64 * 1024);
    const headers = chunkedHead('signed', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', signedChunkedLength(chunks.map((c) => c.length)), data.length, { 'x-amz-checksum-crc32': crc32(data) });
    const r = await send('signed', headers, signedChunks(headers.authorization!, headers['x-amz-date']!, gw.creds, chunks));
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers.connection, 'close');
    assert.ok(parsedOf('signed') < RAW_EARLY, `parsed ${parsedOf('signed')}`);
    assert.equal(await storedSha('signed'), sha(data));
    assert.equal(await headCrc32('signed'), crc32(data));
  });

  test('unsigned aws-chunked with a CRC32 trailer and a Content-Length (the SDK\'s framing): raw, decoded, the trailer sent on, byte-identical, CRC32 on HEAD', async () => {
    const frames = unsignedTrailerFrames(split(data, 64 * 1024 + 17), crc32(data));
    const headers = chunkedHead('trailer', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', frames.reduce((n, f) => n + f.length, 0), data.length, { 'x-amz-trailer': 'x-amz-checksum-crc32' });
    const r = await send('trailer', headers, frames);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers.connection, 'close');
    assert.ok(parsedOf('trailer') < RAW_EARLY, `parsed ${parsedOf('trailer')}`);
    assert.equal(await storedSha('trailer'), sha(data));
    assert.equal(await headCrc32('trailer'), crc32(data));
    // MinIO got the trailer too, and checked it: its own copy carries the CRC32.
    const backend = new S3Client({ endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: minio.credentials });
    const copy = (await backend.send(new ListObjectsV2Command({ Bucket: 'fg-raw' }))).Contents!.find((o) => o.Key!.endsWith('trailer'))!;
    assert.equal((await backend.send(new HeadObjectCommand({ Bucket: 'fg-raw', Key: copy.Key, ChecksumMode: 'ENABLED' }))).ChecksumCRC32, crc32(data));
    backend.destroy();
  });

  test('bad aws-chunked bodies: each its S3 error with a request id, the connection closed, nothing stored', async () => {
    const body = data.subarray(0, 4 * MiB);
    const chunks = split(body, 1 * MiB);
    const framed = signedChunkedLength(chunks.map((c) => c.length));
    const signed = (key: string) => {
      const headers = chunkedHead(key, 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', framed, body.length);
      return { headers, frames: signedChunks(headers.authorization!, headers['x-amz-date']!, gw.creds, chunks) };
    };
    const cases: [string, string, number, () => { headers: Record<string, string>; frames: Buffer[] }][] = [
      ['corrupt-chunk', 'SignatureDoesNotMatch', 403, () => {
        const s = signed('corrupt-chunk');
        const f = Buffer.from(s.frames[2]!);
        f[f.length - 100] ^= 0xff;
        return { ...s, frames: s.frames.with(2, f) };
      }],
      ['wrong-signature', 'SignatureDoesNotMatch', 403, () => {
        const s = signed('wrong-signature');
        const f = Buffer.from(s.frames[1]!);
        f.write('0'.repeat(64), f.indexOf('chunk-signature=') + 'chunk-signature='.length, 'latin1');
        return { ...s, frames: s.frames.with(1, f) };
      }],
      ['bad-chunk-size', 'InvalidRequest', 400, () => {
        const s = signed('bad-chunk-size');
        const f = Buffer.from(s.frames[1]!);
        f.write('zz', 0, 'latin1');
        return { ...s, frames: s.frames.with(1, f) };
      }],
      ['wrong-crc', 'BadDigest', 400, () => {
        const frames = unsignedTrailerFrames(chunks, crc32(Buffer.from('something else')));
        const headers = chunkedHead('wrong-crc', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', frames.reduce((n, f) => n + f.length, 0), body.length, { 'x-amz-trailer': 'x-amz-checksum-crc32' });
        return { headers, frames };
      }],
    ];
    for (const [key, code, status, make] of cases) {
      const { headers, frames } = make();
      const r = await send(key, headers, frames);
      assert.equal(r.status, status, `${key}: ${r.body}`);
      assert.equal(errorCode(r.body), code, `${key}: ${r.body}`);
      assert.match(String(r.headers['x-amz-request-id']), /\S/, key);
      assert.equal(r.headers.connection, 'close', key);
      // Refused on the raw path: what came after the failure was read and dropped, never parsed.
      assert.ok(parsedOf(key) < RAW_EARLY, `${key}: parsed ${parsedOf(key)}`);
      await assertNothingStored(key);
    }
  });

  test('a short aws-chunked body (the client half-closes): IncompleteBody, nothing stored', async () => {
    const body = data.subarray(0, 4 * MiB);
    const chunks = split(body, 1 * MiB);
    const headers = chunkedHead('short', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', signedChunkedLength(chunks.map((c) => c.length)), body.length);
    const wire = Buffer.concat(signedChunks(headers.authorization!, headers['x-amz-date']!, gw.creds, chunks));
    const base = new URL(gw.url);
    const sock = connect(Number(base.port), base.hostname);
    await new Promise((r) => sock.once('connect', r));
    let answer = '';
    sock.on('data', (d: Buffer) => { answer += d.toString('latin1'); });
    sock.on('error', () => { /* the gateway may reset it */ });
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.write(`PUT ${objectPath(bucket, 'short')} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
    await new Promise<void>((r) => sock.write(wire.subarray(0, 2 * MiB + 99), () => r()));
    // Long enough for the gateway to take the socket and start the upstream request.
    await new Promise((r) => setTimeout(r, 300));
    sock.end();
    await closed;
    assert.match(answer, /^HTTP\/1\.1 400 /, answer.slice(0, 200));
    assert.equal(errorCode(answer), 'IncompleteBody', answer);
    assert.match(answer, /x-amz-request-id: \S/i);
    assert.ok(parsedOf('short') < RAW_EARLY, `parsed ${parsedOf('short')}`);
    await assertNothingStored('short');
  });
});

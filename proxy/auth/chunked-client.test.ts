// aws-chunked as @aws-sdk/client-s3 really sends it: PutObject with a stream body goes out as
// STREAMING-UNSIGNED-PAYLOAD-TRAILER with a crc32 trailer, over a real socket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createChunkDecoder, type ChunkMode } from './chunked.ts';
import { createBodyVerifier, parseIntegrityHeaders } from './verify-body.ts';
import { readAll, sendS3Error, startAuthServer } from './test-server.fixture.ts';
import type { Checksums } from '../store/types.ts';

const creds = { accessKeyId: 'FGCHUNKKEY', secretAccessKey: 'chunk-secret' };
const stored = new Map<string, { sha256: string; size: number; checksums: Checksums; mode: string; trailers: Record<string, string> }>();
let endpoint = '';
let close: () => Promise<void>;

before(async () => {
  ({ endpoint, close } = await startAuthServer((id) => (id === creds.accessKeyId ? creds.secretAccessKey : undefined), async (req, res, auth) => {
    const integrity = parseIntegrityHeaders(req.headers);
    let trailers: Record<string, string> = {};
    const checksums: Checksums = {};
    const streaming = auth.payloadHash.startsWith('STREAMING-');
    const size = Number(req.headers[streaming ? 'x-amz-decoded-content-length' : 'content-length']);
    const verifier = createBodyVerifier({
      expectedSize: size, contentMd5: integrity.contentMd5, checksums, expect: integrity.expect,
      sha256Hex: /^[0-9a-f]{64}$/.test(auth.payloadHash) ? auth.payloadHash : undefined,
      trailerValue: () => (integrity.expect ? trailers[`x-amz-checksum-${integrity.expect.alg}`] : undefined),
    });
    const hash = createHash('sha256');
    let n = 0;
    try {
      const stages: NodeJS.ReadWriteStream[] = [];
      if (streaming) {
        stages.push(createChunkDecoder({ mode: auth.payloadHash as ChunkMode, auth: auth.version === 4 ? auth : undefined, trailerNames: integrity.trailerNames, onTrailers: (t) => { trailers = t; } }));
      }
      await pipeline(req, ...(stages as []), verifier, async (src: AsyncIterable<Buffer>) => {
        for await (const c of src) { hash.update(c); n += c.length; }
      });
    } catch (e) {
      await readAll(req).catch(() => {});
      sendS3Error(res, e);
      return;
    }
    stored.set(req.url!.split('?')[0]!, { sha256: hash.digest('hex'), size: n, checksums, mode: auth.payloadHash, trailers });
    res.writeHead(200, { etag: '"x"', 'content-length': 0 }).end();
  }));
});
after(() => close());

function client(): S3Client {
  return new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', maxAttempts: 1, credentials: creds });
}

/** A stream of `total` pseudo-random bytes in irregular chunk sizes, and its sha256. */
function source(total: number, seed: number): { body: Readable; sha256: string } {
  const parts: Buffer[] = [];
  let s = seed;
  for (let left = total; left > 0;) {
    s = (s * 1103515245 + 12345) >>> 0;
    const n = Math.min(left, 1 + (s % 70_000));
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i += 4096) b[i] = (s + i) & 255;
    b.fill(13, 0, Math.min(3, n)); // CR bytes inside data must not confuse the framing
    parts.push(b);
    left -= n;
  }
  return { body: Readable.from(parts), sha256: createHash('sha256').update(Buffer.concat(parts)).digest('hex') };
}

test('PutObject with a Readable body: aws-chunked unsigned trailer with crc32, decoded and verified', async () => {
  const s3 = client();
  for (const [i, size] of [150, 1, 65_536, 3 * 1024 * 1024 + 7].entries()) {
    const { body, sha256 } = source(size, i + 1);
    const key = `/bkt/stream ${i}+ü`;
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: key.slice(5), Body: body, ContentLength: size }));
    const got = stored.get(encodeURI(key).replace(/\+/g, '%2B'))!;
    assert.ok(got, `stored ${key}: ${[...stored.keys()].join(', ')}`);
    assert.equal(got.mode, 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    assert.equal(got.size, size);
    assert.equal(got.sha256, sha256);
    assert.ok(got.trailers['x-amz-checksum-crc32'], 'the SDK sent a crc32 trailer');
    assert.equal(got.checksums.crc32, got.trailers['x-amz-checksum-crc32']);
  }
  s3.destroy();
});

test('PutObject with a Readable body and ChecksumAlgorithm SHA256 / CRC32C / CRC64NVME trailers', async () => {
  const s3 = client();
  for (const alg of ['SHA256', 'CRC32C', 'CRC64NVME', 'SHA1'] as const) {
    const { body, sha256 } = source(200_000, alg.length);
    await s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: `alg-${alg}`, Body: body, ContentLength: 200_000, ChecksumAlgorithm: alg }));
    const got = stored.get(`/bkt/alg-${alg}`)!;
    assert.equal(got.sha256, sha256);
    const name = `x-amz-checksum-${alg.toLowerCase()}`;
    assert.ok(got.trailers[name], `${alg} trailer sent`);
    assert.equal(got.checksums[alg.toLowerCase() as keyof Checksums], got.trailers[name]);
  }
  s3.destroy();
});

test('a stream that yields more bytes than ContentLength is refused', async () => {
  const s3 = client();
  // The SDK frames whatever the stream yields; the decoded length no longer matches.
  await assert.rejects(
    s3.send(new PutObjectCommand({ Bucket: 'bkt', Key: 'short', Body: Readable.from([Buffer.alloc(100)]), ContentLength: 50 })),
    (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(e.name, 'IncompleteBody');
      assert.equal(e.$metadata?.httpStatusCode, 400);
      return true;
    },
  );
  assert.equal(stored.has('/bkt/short'), false);
  s3.destroy();
});

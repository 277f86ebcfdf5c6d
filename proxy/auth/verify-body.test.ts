import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { createBodyVerifier, parseIntegrityHeaders, type BodyVerifierOptions } from './verify-body.ts';
import { createDigest } from './checksums.ts';
import { S3Error } from '../s3/errors.ts';
import type { Checksums } from '../store/types.ts';

const BODY = Buffer.from('hello world');
const MD5 = createHash('md5').update(BODY).digest('base64');
const SHA256_HEX = createHash('sha256').update(BODY).digest('hex');
const SHA256_B64 = createHash('sha256').update(BODY).digest('base64');
const CRC32 = 'DUoRhQ==';

async function run(opts: Omit<BodyVerifierOptions, 'checksums'> & { checksums?: Checksums }, body: Buffer | Buffer[] = BODY) {
  const checksums = opts.checksums ?? {};
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(Array.isArray(body) ? body : [body]),
    createBodyVerifier({ ...opts, checksums }),
    new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } }),
  );
  return { data: Buffer.concat(out), checksums };
}

async function fails(p: Promise<unknown>, code: string, check?: (e: S3Error) => void): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof S3Error, String(e));
    assert.equal(e.code, code, e.message);
    check?.(e);
    return true;
  });
}

function throwsS3(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => e instanceof S3Error && e.code === code);
}

test('a body that matches every declared digest passes through unchanged and fills checksums', async () => {
  const r = await run({ expectedSize: 11, contentMd5: MD5, sha256Hex: SHA256_HEX, expect: { alg: 'crc32', value: CRC32 }, computeAlgs: ['sha256', 'crc64nvme'] }, [BODY.subarray(0, 3), BODY.subarray(3)]);
  assert.deepEqual(r.data, BODY);
  assert.equal(r.checksums.crc32, CRC32);
  assert.equal(r.checksums.sha256, SHA256_B64);
  const c64 = createDigest('crc64nvme');
  c64.update(BODY);
  assert.equal(r.checksums.crc64nvme, c64.digest().toString('base64'));
  // Nothing asked for, nothing computed; existing entries are left alone (CopyObject keeps the source's).
  const kept = await run({ expectedSize: 11, checksums: { crc32c: 'keep' } });
  assert.deepEqual(kept.checksums, { crc32c: 'keep' });
});

test('byte count: short and long bodies are IncompleteBody', async () => {
  await fails(run({ expectedSize: 12 }), 'IncompleteBody');
  await fails(run({ expectedSize: 10 }), 'IncompleteBody');
  assert.equal((await run({ expectedSize: 0 }, Buffer.alloc(0))).data.length, 0);
});

test('Content-MD5: malformed is InvalidDigest before any byte, mismatch is BadDigest', async () => {
  throwsS3(() => createBodyVerifier({ expectedSize: 11, contentMd5: 'nope', checksums: {} }), 'InvalidDigest');
  throwsS3(() => createBodyVerifier({ expectedSize: 11, contentMd5: Buffer.alloc(15).toString('base64'), checksums: {} }), 'InvalidDigest');
  await fails(run({ expectedSize: 11, contentMd5: createHash('md5').update('other').digest('base64') }), 'BadDigest', (e) => {
    assert.equal(e.details.CalculatedDigest, MD5);
  });
});

test('signed sha256 mismatch is XAmzContentSHA256Mismatch with both hashes', async () => {
  const wrong = createHash('sha256').update('x').digest('hex');
  await fails(run({ expectedSize: 11, sha256Hex: wrong }), 'XAmzContentSHA256Mismatch', (e) => {
    assert.deepEqual(e.details, { ClientComputedContentSHA256: wrong, S3ComputedContentSHA256: SHA256_HEX });
    assert.equal(e.status, 400);
  });
  // Upper-case hex from a client is the same hash.
  await run({ expectedSize: 11, sha256Hex: SHA256_HEX.toUpperCase() });
});

test('checksum header and trailer: mismatch is BadDigest naming the algorithm; missing trailer refused', async () => {
  await fails(run({ expectedSize: 11, expect: { alg: 'crc32', value: 'AAAAAA==' } }), 'BadDigest', (e) => {
    assert.match(e.message, /CRC32/);
    assert.deepEqual(e.details, { ExpectedDigest: 'AAAAAA==', CalculatedDigest: CRC32 });
  });
  await fails(run({ expectedSize: 11, expect: { alg: 'sha256', value: Buffer.alloc(32).toString('base64') } }), 'BadDigest', (e) => assert.match(e.message, /SHA256/));
  const r = await run({ expectedSize: 11, expect: { alg: 'crc32' }, trailerValue: () => CRC32 });
  assert.equal(r.checksums.crc32, CRC32);
  await fails(run({ expectedSize: 11, expect: { alg: 'crc32' }, trailerValue: () => 'AAAAAA==' }), 'BadDigest');
  await fails(run({ expectedSize: 11, expect: { alg: 'crc32' }, trailerValue: () => undefined }), 'InvalidRequest');
  await fails(run({ expectedSize: 11, expect: { alg: 'crc32' }, trailerValue: () => 'garbage' }), 'InvalidDigest');
  // sha256 as both payload hash and checksum is computed once and checked both ways.
  const both = await run({ expectedSize: 11, sha256Hex: SHA256_HEX, expect: { alg: 'sha256', value: SHA256_B64 } });
  assert.equal(both.checksums.sha256, SHA256_B64);
});

test('parseIntegrityHeaders: valid combinations', () => {
  assert.deepEqual(parseIntegrityHeaders({}), { trailerNames: [] });
  assert.deepEqual(parseIntegrityHeaders({ 'content-md5': MD5, 'x-amz-checksum-crc32': CRC32, 'x-amz-sdk-checksum-algorithm': 'CRC32', 'x-amz-checksum-mode': 'ENABLED' }),
    { contentMd5: MD5, sdkAlgorithm: 'crc32', expect: { alg: 'crc32', value: CRC32 }, trailerNames: [] });
  assert.deepEqual(parseIntegrityHeaders({ 'x-amz-trailer': 'X-Amz-Checksum-CRC64NVME' }), { trailerNames: ['x-amz-checksum-crc64nvme'], expect: { alg: 'crc64nvme' } });
  // x-amz-sdk-checksum-algorithm alone is tolerated (S3 would 400; SDK presigners send it alone).
  assert.deepEqual(parseIntegrityHeaders({ 'x-amz-sdk-checksum-algorithm': 'crc32c' }), { trailerNames: [], sdkAlgorithm: 'crc32c' });
  assert.deepEqual(parseIntegrityHeaders({ 'x-amz-checksum-algorithm': 'CRC32', 'x-amz-checksum-type': 'FULL_OBJECT' }), { trailerNames: [] });
});

test('parseIntegrityHeaders: bad combinations get the S3 error', () => {
  throwsS3(() => parseIntegrityHeaders({ 'x-amz-trailer': 'x-amz-checksum-crc32', 'x-amz-checksum-crc32': CRC32 }), 'InvalidRequest');
  throwsS3(() => parseIntegrityHeaders({ 'x-amz-checksum-crc32': CRC32, 'x-amz-checksum-sha1': Buffer.alloc(20).toString('base64') }), 'InvalidRequest');
  throwsS3(() => parseIntegrityHeaders({ 'x-amz-checksum-crc32': 'not base64!' }), 'InvalidDigest');
  throwsS3(() => parseIntegrityHeaders({ 'x-amz-checksum-crc32': Buffer.alloc(8).toString('base64') }), 'InvalidDigest');
  throwsS3(() => parseIntegrityHeaders({ 'x-amz-checksum-md5': MD5 }), 'InvalidRequest');
  throwsS3(() => parseIntegrityHeaders({ 'x-amz-trailer': 'x-amz-checksum-foo' }), 'InvalidRequest');
  throwsS3(() => parseIntegrityHeaders({ 'x-amz-trailer': 'x-amz-meta-a' }), 'InvalidRequest');
  throwsS3(() => parseIntegrityHeaders({ 'x-amz-trailer': 'x-amz-checksum-crc32,x-amz-checksum-sha1' }), 'InvalidRequest');
  throwsS3(() => parseIntegrityHeaders({ 'x-amz-sdk-checksum-algorithm': 'MD5' }), 'InvalidRequest');
  throwsS3(() => parseIntegrityHeaders({ 'x-amz-sdk-checksum-algorithm': 'SHA1', 'x-amz-checksum-crc32': CRC32 }), 'InvalidRequest');
  throwsS3(() => parseIntegrityHeaders({ 'content-md5': 'abc' }), 'InvalidDigest');
});

test('50 MiB generated body: every byte passes exactly once, with bounded bytes in flight', async () => {
  const CHUNK = 64 * 1024;
  const TOTAL = 50 * 1024 * 1024;
  let produced = 0;
  function* gen() {
    for (let i = 0; i < TOTAL / CHUNK; i++) {
      produced += CHUNK;
      yield Buffer.alloc(CHUNK, i & 255);
    }
  }
  let crc = 0;
  for (let i = 0; i < TOTAL / CHUNK; i++) crc = crc32(Buffer.alloc(CHUNK, i & 255), crc);
  const want = Buffer.alloc(4);
  want.writeUInt32BE(crc);
  const checksums: Checksums = {};
  let consumed = 0;
  let outCrc = 0;
  let maxInFlight = 0;
  await pipeline(
    Readable.from(gen()),
    createBodyVerifier({ expectedSize: TOTAL, checksums, expect: { alg: 'crc32', value: want.toString('base64') }, computeAlgs: ['sha256'] }),
    new Writable({
      highWaterMark: CHUNK,
      write(c: Buffer, _e, cb) {
        consumed += c.length;
        outCrc = crc32(c, outCrc);
        maxInFlight = Math.max(maxInFlight, produced - consumed);
        setImmediate(cb); // a slow consumer: backpressure must hold the source back, not pile up bytes
      },
    }),
  );
  assert.equal(consumed, TOTAL);
  assert.equal(outCrc, crc);
  assert.equal(checksums.crc32, want.toString('base64'));
  // Stream buffers only (a few 64 KiB chunks); a verifier holding the body would lag by up to 50 MiB.
  assert.ok(maxInFlight <= 2 * 1024 * 1024, `max bytes in flight ${maxInFlight}`);
});

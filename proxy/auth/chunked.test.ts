import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ChunkParser, createChunkDecoder, type ChunkDecoderOptions } from './chunked.ts';
import { verifyRequest, type SigV4Auth } from './sigv4.ts';
import { S3Error } from '../s3/errors.ts';
import { EXAMPLE_NOW, lookupExample } from './aws-examples.fixture.ts';
import { hmac, sha256Hex, EMPTY_SHA256 } from './canonical.ts';

const A64K = Buffer.alloc(65536, 'a');
const A1K = Buffer.alloc(1024, 'a');
const CRED = 'AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request';

/** The seed request of the AWS chunked-upload examples, verified by our verifier. */
function seed(mode: string, signature: string, extra: Record<string, string>, signedHeaders: string): SigV4Auth {
  const auth = verifyRequest({
    method: 'PUT', rawUrl: '/examplebucket/chunkObject.txt', now: EXAMPLE_NOW,
    headers: {
      host: 's3.amazonaws.com', 'x-amz-date': '20130524T000000Z', 'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': '66560', 'x-amz-content-sha256': mode, ...extra,
      authorization: `AWS4-HMAC-SHA256 Credential=${CRED},SignedHeaders=${signedHeaders},Signature=${signature}`,
    },
  }, lookupExample);
  assert.equal(auth.payloadHash, mode);
  assert.ok(auth.version === 4);
  return auth;
}

const signedExample = () => seed('STREAMING-AWS4-HMAC-SHA256-PAYLOAD', '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
  { 'content-length': '66824' }, 'content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class');
const trailerExample = () => seed('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e',
  { 'x-amz-trailer': 'x-amz-checksum-crc32c' }, 'content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer');

function signedBody(sigs: [string, string, string], tail = '\r\n'): Buffer {
  return Buffer.concat([
    Buffer.from(`10000;chunk-signature=${sigs[0]}\r\n`), A64K, Buffer.from(`\r\n400;chunk-signature=${sigs[1]}\r\n`), A1K,
    Buffer.from(`\r\n0;chunk-signature=${sigs[2]}\r\n${tail}`),
  ]);
}
const SIGNED_BODY = signedBody(['ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
  '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497', 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9']);
const TRAILER_SIGS: [string, string, string] = ['b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
  '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7', '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992'];
const TRAILER_LINES = 'x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n';
const TRAILER_BODY = signedBody(TRAILER_SIGS, `${TRAILER_LINES}\r\n`);

/** Cuts a buffer at pseudo-random points (seeded), including 1-byte pieces. */
function split(b: Buffer, seedValue: number): Buffer[] {
  const out: Buffer[] = [];
  let s = seedValue;
  for (let i = 0; i < b.length;) {
    s = (s * 1103515245 + 12345) >>> 0;
    const n = s % 7 === 0 ? 1 : 1 + (s % 9000);
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
}

async function decode(opts: Partial<ChunkDecoderOptions> & Pick<ChunkDecoderOptions, 'mode'>, pieces: Buffer[]) {
  let trailers: Record<string, string> | undefined;
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(pieces),
    createChunkDecoder({ trailerNames: [], onTrailers: (t) => { trailers = t; }, ...opts }),
    new Writable({ write(c: Buffer, _e, cb) { out.push(c); cb(); } }),
  );
  return { data: Buffer.concat(out), trailers };
}

async function fails(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof S3Error, String(e));
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

test('AWS example: STREAMING-AWS4-HMAC-SHA256-PAYLOAD (64 KiB + 1 KiB of "a") decodes, at any split points', async () => {
  const auth = signedExample();
  assert.equal(auth.seedSignature, '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9');
  for (const pieces of [[SIGNED_BODY], split(SIGNED_BODY, 1), split(SIGNED_BODY, 2), [...SIGNED_BODY].map((b) => Buffer.of(b))]) {
    const { data, trailers } = await decode({ mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', auth }, pieces);
    assert.equal(data.length, 66560);
    assert.ok(data.every((c) => c === 97));
    assert.deepEqual(trailers, {});
  }
});

test('AWS example: signed chunks with a signed crc32c trailer', async () => {
  const auth = trailerExample();
  const opts = { mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' as const, auth, trailerNames: ['x-amz-checksum-crc32c'] };
  for (const s of [0, 5, 9]) {
    const { data, trailers } = await decode(opts, s ? split(TRAILER_BODY, s) : [TRAILER_BODY]);
    assert.equal(data.length, 66560);
    assert.deepEqual(trailers, { 'x-amz-checksum-crc32c': 'sOO8/Q==' });
  }
  // Wire variants seen from other signers: a blank line before the trailers; no closing CRLF.
  await decode(opts, [signedBody(TRAILER_SIGS, `\r\n${TRAILER_LINES}\r\n`)]);
  await decode(opts, [signedBody(TRAILER_SIGS, TRAILER_LINES)]);
  await decode(opts, [signedBody(TRAILER_SIGS, TRAILER_LINES.slice(0, -2))]);
});

test('tampering with signed chunks is SignatureDoesNotMatch', async () => {
  const auth = signedExample();
  const mode = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' as const;
  const flipped = Buffer.from(SIGNED_BODY);
  flipped[1000] = 98; // one data byte of chunk 1
  await fails(decode({ mode, auth }, [flipped]), 'SignatureDoesNotMatch', /chunk signature/);
  const badSig = Buffer.from(SIGNED_BODY.toString('latin1').replace('0055627c', '0055627d'), 'latin1');
  await fails(decode({ mode, auth }, [badSig]), 'SignatureDoesNotMatch');
  // Dropping the middle chunk breaks the chain even though each frame is well-formed.
  const s = SIGNED_BODY.toString('latin1');
  const dropped = s.slice(0, s.indexOf('400;')) + s.slice(s.indexOf('0;chunk-signature=b6c6'));
  await fails(decode({ mode, auth }, [Buffer.from(dropped, 'latin1')]), 'SignatureDoesNotMatch');
  // A different seed (another request's signature) fails on the first chunk.
  await fails(decode({ mode, auth: { ...auth, seedSignature: 'f'.repeat(64) } }, [SIGNED_BODY]), 'SignatureDoesNotMatch');
  // Missing signature in a signed mode.
  await fails(decode({ mode, auth }, [Buffer.from('3\r\nabc\r\n0\r\n\r\n')]), 'InvalidRequest', /chunk-signature/);
});

test('tampering with a signed trailer is SignatureDoesNotMatch; a missing trailer signature is refused', async () => {
  const auth = trailerExample();
  const opts = { mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' as const, auth, trailerNames: ['x-amz-checksum-crc32c'] };
  await fails(decode(opts, [signedBody(TRAILER_SIGS, TRAILER_LINES.replace('sOO8/Q==', 'AAAAAA==') + '\r\n')]), 'SignatureDoesNotMatch', /trailer/);
  await fails(decode(opts, [signedBody(TRAILER_SIGS, 'x-amz-checksum-crc32c:sOO8/Q==\r\n\r\n')]), 'InvalidRequest', /x-amz-trailer-signature/);
});

test('unsigned trailer mode: the JS SDK framing, signatures optional, trailers handed over', async () => {
  const mode = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' as const;
  const a = Buffer.alloc(100, 1), b = Buffer.alloc(50, 2);
  const body = Buffer.concat([Buffer.from('64\r\n'), a, Buffer.from('\r\n32\r\n'), b, Buffer.from('\r\n0\r\nx-amz-checksum-crc32:PDlvaA==\r\n\r\n')]);
  for (const s of [0, 11, 12, 13]) {
    const r = await decode({ mode, trailerNames: ['x-amz-checksum-crc32'] }, s ? split(body, s) : [body]);
    assert.deepEqual(r.data, Buffer.concat([a, b]));
    assert.deepEqual(r.trailers, { 'x-amz-checksum-crc32': 'PDlvaA==' });
  }
  // Upper-case hex, tiny chunks, and a chunk-signature the unsigned mode just ignores.
  const r = await decode({ mode }, [Buffer.from(`A;chunk-signature=${'0'.repeat(64)}\r\n0123456789\r\n1\r\nx\r\n0\r\n\r\n`)]);
  assert.equal(r.data.toString(), '0123456789x');
  // Data that happens to contain CRLF and frame-like text is just data.
  const tricky = '0\r\n\r\n5;x';
  assert.equal((await decode({ mode }, [Buffer.from(`${tricky.length.toString(16)}\r\n${tricky}\r\n0\r\n\r\n`)])).data.toString(), tricky);
});

test('malformed or truncated framing is InvalidRequest / IncompleteBody, never a hang', async () => {
  const mode = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' as const;
  const run = (s: string, trailerNames: string[] = []) => decode({ mode, trailerNames }, [Buffer.from(s, 'latin1')]);
  await fails(run('zz\r\nabc\r\n0\r\n\r\n'), 'InvalidRequest', /chunk size/);
  await fails(run('\r\n'), 'InvalidRequest', /chunk size/);
  await fails(run('3\r\nabcd\r\n0\r\n\r\n'), 'InvalidRequest', /CRLF/);
  await fails(run('3\r\nabc0\r\n\r\n'), 'InvalidRequest', /CRLF/);
  await fails(run(`3;${'x'.repeat(5000)}`), 'InvalidRequest', /longer than 4096/);
  await fails(run('ffffffffffffffffff\r\n'), 'InvalidRequest', /chunk size/);
  await fails(run('3\r\nabc\r\n0\r\n\r\ngarbage'), 'InvalidRequest', /after the final chunk/);
  await fails(run('3\r\nabc\r\n0\r\nnot a trailer\r\n\r\n'), 'InvalidRequest', /name:value/);
  await fails(run('3\r\nabc\r\n0\r\n\r\n', ['x-amz-checksum-crc32']), 'InvalidRequest', /declared/);
  await fails(run(''), 'IncompleteBody');
  await fails(run('3\r\nab'), 'IncompleteBody');
  await fails(run('3\r\nabc\r\n'), 'IncompleteBody');
  await fails(run('3\r\nabc\r\n0'), 'IncompleteBody');
  // Extra line ends after the end are tolerated.
  assert.equal((await run('3\r\nabc\r\n0\r\n\r\n\r\n')).data.toString(), 'abc');
});

test('signed chunks built with our own signer for many sizes, at random split points', async () => {
  const auth = signedExample();
  let prev = auth.seedSignature;
  const chunkSig = (data: Buffer) => {
    const sts = `AWS4-HMAC-SHA256-PAYLOAD\n${auth.amzDate}\n${auth.scope}\n${prev}\n${EMPTY_SHA256}\n${sha256Hex(data)}`;
    prev = hmac(auth.signingKey, sts).toString('hex');
    return prev;
  };
  const sizes = [1, 2, 8191, 8192, 3, 100_000, 17];
  const datas = sizes.map((n, i) => Buffer.alloc(n, i + 1));
  const frames: Buffer[] = [];
  for (const d of datas) frames.push(Buffer.from(`${d.length.toString(16)};chunk-signature=${chunkSig(d)}\r\n`), d, Buffer.from('\r\n'));
  frames.push(Buffer.from(`0;chunk-signature=${chunkSig(Buffer.alloc(0))}\r\n\r\n`));
  const body = Buffer.concat(frames);
  for (const s of [21, 22, 23]) {
    const { data } = await decode({ mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', auth }, split(body, s));
    assert.deepEqual(data, Buffer.concat(datas));
  }
});

test('data flows out before its chunk is complete (no whole-chunk buffering)', async () => {
  const dec = createChunkDecoder({ mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', trailerNames: [], onTrailers: () => {} });
  let seen = 0;
  dec.on('data', (c: Buffer) => { seen += c.length; });
  const size = 8 * 1024 * 1024;
  dec.write(`${size.toString(16)}\r\n`);
  dec.write(Buffer.alloc(size / 2));
  await new Promise((r) => setImmediate(r));
  assert.equal(seen, size / 2);
  dec.write(Buffer.alloc(size / 2));
  dec.end('\r\n0\r\n\r\n');
  await new Promise((r) => dec.on('end', r));
  assert.equal(seen, size);
});

test('ChunkParser fed from one reused buffer (a raw body\'s reads): header and trailer lines split across reads survive the next read', () => {
  const auth = trailerExample();
  const slab = Buffer.alloc(700);
  for (const seedValue of [31, 32, 33, 34]) {
    let trailers: Record<string, string> = {};
    const parser = new ChunkParser({ mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER', auth, trailerNames: ['x-amz-checksum-crc32c'], onTrailers: (t) => { trailers = t; } });
    const out: Buffer[] = [];
    for (let i = 0, s = seedValue; i < TRAILER_BODY.length;) {
      s = (s * 1103515245 + 12345) >>> 0;
      const n = Math.min(1 + (s % slab.length), TRAILER_BODY.length - i);
      TRAILER_BODY.copy(slab, 0, i, i + n);
      parser.feed(slab.subarray(0, n), (d) => out.push(Buffer.from(d)));
      slab.fill(0x7a); // the next read lands in the same buffer
      i += n;
    }
    parser.end();
    assert.deepEqual(Buffer.concat(out), Buffer.concat([A64K, A1K]));
    assert.equal(trailers['x-amz-checksum-crc32c'], 'sOO8/Q==');
  }
});

// TrailerFramer: the upstream trailer framing, whatever pieces the data comes in — its length is
// trailerBodyLength() (the request's Content-Length) and the gateway's own aws-chunked parser reads
// it back to the same bytes and trailer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ChunkParser } from '../../auth/chunked.ts';
import { TRAILER_CHUNK, TrailerFramer, trailerBodyLength } from './trailer-body.ts';

test('framed in any pieces: the declared length, and parsed back to the data and the trailer', () => {
  for (const size of [1, TRAILER_CHUNK - 1, TRAILER_CHUNK, TRAILER_CHUNK + 1, 3 * TRAILER_CHUNK + 12345]) {
    const data = randomBytes(size);
    const framer = new TrailerFramer(size, 'crc32', () => 'AAAAAA==');
    const wire: Buffer[] = [];
    const out = (b: Buffer | string) => { wire.push(Buffer.from(b)); return true; };
    for (let i = 0, s = size; i < size;) {
      s = (s * 1103515245 + 12345) >>> 0;
      const n = 1 + (s % (2 * TRAILER_CHUNK));
      framer.data(data.subarray(i, i + n), out);
      i += n;
    }
    framer.end(out);
    const body = Buffer.concat(wire);
    assert.equal(body.length, trailerBodyLength(size, 'crc32'), `size ${size}`);
    let trailers: Record<string, string> = {};
    const parser = new ChunkParser({ mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', trailerNames: ['x-amz-checksum-crc32'], onTrailers: (t) => { trailers = t; } });
    const decoded: Buffer[] = [];
    parser.feed(body, (d) => decoded.push(Buffer.from(d)));
    parser.end();
    assert.deepEqual(Buffer.concat(decoded), data, `size ${size}`);
    assert.deepEqual(trailers, { 'x-amz-checksum-crc32': 'AAAAAA==' });
  }
});

test('more data than declared, or no digest at the end, throws', () => {
  const out = () => true;
  assert.throws(() => new TrailerFramer(10, 'crc32', () => 'AAAAAA==').data(Buffer.alloc(11), out), /more data/);
  const f = new TrailerFramer(1, 'crc32', () => undefined);
  f.data(Buffer.alloc(1), out);
  assert.throws(() => f.end(out), /no crc32 digest/);
});

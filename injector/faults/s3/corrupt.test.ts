import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { crc32, crc32c } from '@node-rs/crc32';
import { Crc64Nvme } from '@aws-sdk/crc64-nvme';
import { corruptStream, flips, recomputeChecksums } from './corrupt.ts';

const b64u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b.toString('base64'); };
async function crc64(b: Buffer): Promise<string> {
  const h = new Crc64Nvme();
  h.update(b);
  return Buffer.from(await h.digest()).toString('base64');
}
async function through(list: ReturnType<typeof flips>, data: Buffer, chunk: number): Promise<Buffer> {
  const t = corruptStream(list);
  const out: Buffer[] = [];
  t.on('data', (c: Buffer) => out.push(c));
  for (let o = 0; o < data.length; o += chunk) t.write(data.subarray(o, o + chunk));
  t.end();
  await new Promise((r) => t.once('end', r));
  return Buffer.concat(out);
}

test('flips are distinct, in range, non-zero, and replay from the same draw', () => {
  const a = flips(99, 10, 1000);
  assert.equal(a.length, 10);
  assert.equal(new Set(a.map((f) => f.at)).size, 10);
  assert.ok(a.every((f) => f.at >= 0 && f.at < 1000 && f.mask > 0 && f.mask < 256));
  assert.deepEqual(flips(99, 10, 1000), a);
  assert.equal(flips(1, 50, 3).length, 3);
});

test('the stream flips exactly the chosen bytes across chunk boundaries', async () => {
  const data = randomBytes(200_000);
  const list = flips(7, 25, data.length);
  const out = await through(list, data, 4093);
  assert.equal(out.length, data.length);
  let diff = 0;
  for (let i = 0; i < data.length; i++) if (out[i] !== data[i]) diff++;
  assert.equal(diff, 25);
});

test('recomputed CRC32, CRC32C and CRC64NVME headers match the corrupted body; SHA and composite ones are dropped', async () => {
  const data = randomBytes(300_000);
  const list = flips(3, 4, data.length);
  const headers: Record<string, string> = {
    'x-amz-checksum-crc32': b64u32(crc32(data)),
    'x-amz-checksum-crc32c': b64u32(crc32c(data)),
    'x-amz-checksum-crc64nvme': await crc64(data),
    'x-amz-checksum-sha256': 'abc=',
    'X-Amz-Checksum-Crc32': 'AAAAAA==-3',
    'x-amz-checksum-type': 'FULL_OBJECT',
    etag: '"x"',
  };
  delete headers['X-Amz-Checksum-Crc32'];
  const composite = { 'x-amz-checksum-crc32': 'AAAAAA==-3' };
  await recomputeChecksums(headers, list, data.length);
  await recomputeChecksums(composite, list, data.length);
  const bad = await through(list, data, 65536);
  assert.equal(headers['x-amz-checksum-crc32'], b64u32(crc32(bad)));
  assert.equal(headers['x-amz-checksum-crc32c'], b64u32(crc32c(bad)));
  assert.equal(headers['x-amz-checksum-crc64nvme'], await crc64(bad));
  assert.equal(headers['x-amz-checksum-sha256'], undefined);
  assert.equal(headers['x-amz-checksum-type'], 'FULL_OBJECT');
  assert.equal(headers.etag, '"x"');
  assert.deepEqual(composite, {});
});

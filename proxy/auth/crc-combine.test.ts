import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createDigest } from './checksums.ts';
import { combineCrcs, FULL_OBJECT_ALGORITHMS, type CrcAlgorithm } from './crc-combine.ts';

const crcOf = (alg: CrcAlgorithm, b: Buffer) => {
  const d = createDigest(alg);
  d.update(b);
  return d.digest().toString('base64');
};

test('the combined CRC of pieces is the CRC of their concatenation, for every split', () => {
  const data = randomBytes(70_001);
  const splits = [[70_001], [0, 70_001], [1, 70_000], [35_000, 0, 35_001], [8, 8, 8, 69_977], [65_536, 4_465], [10_000, 10_000, 10_000, 10_000, 10_000, 10_000, 10_001]];
  for (const alg of FULL_OBJECT_ALGORITHMS as CrcAlgorithm[]) {
    const whole = crcOf(alg, data);
    for (const sizes of splits) {
      let at = 0;
      const pieces = sizes.map((size) => {
        const piece = { crc: crcOf(alg, data.subarray(at, at + size)), size };
        at += size;
        return piece;
      });
      assert.equal(combineCrcs(alg, pieces), whole, `${alg} ${sizes.join('+')}`);
    }
    assert.equal(combineCrcs(alg, []), crcOf(alg, Buffer.alloc(0)), `${alg}: no pieces`);
  }
});

test('check values: "123456789" in two pieces', () => {
  const one = Buffer.from('1234'), two = Buffer.from('56789');
  const hex = (alg: CrcAlgorithm) => Buffer.from(combineCrcs(alg, [{ crc: crcOf(alg, one), size: 4 }, { crc: crcOf(alg, two), size: 5 }]), 'base64').toString('hex');
  assert.equal(hex('crc32'), 'cbf43926');
  assert.equal(hex('crc32c'), 'e3069283');
  assert.equal(hex('crc64nvme'), 'ae8b14860a799888');
});

test('parts of S3 sizes (5 MiB and a tail) combine as one pass over the bytes would', () => {
  const part = randomBytes(5 * 1024 * 1024);
  const tail = randomBytes(12_345);
  for (const alg of FULL_OBJECT_ALGORITHMS as CrcAlgorithm[]) {
    const d = createDigest(alg);
    for (let i = 0; i < 3; i++) d.update(part);
    d.update(tail);
    const pieces = [...Array(3).fill({ crc: crcOf(alg, part), size: part.length }), { crc: crcOf(alg, tail), size: tail.length }];
    assert.equal(combineCrcs(alg, pieces), d.digest().toString('base64'), alg);
  }
});

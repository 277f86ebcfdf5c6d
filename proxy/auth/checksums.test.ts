import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Crc64Nvme as SdkCrc64Nvme } from '@aws-sdk/crc64-nvme';
import { Crc32cJs, Crc32Js } from '@aws-sdk/checksums/crc';
import { checksumHeaderName, createDigest, decodeDigest, parseChecksumAlgorithm } from './checksums.ts';
import type { ChecksumAlgorithm } from '../store/types.ts';

/** The AWS SDK's own (pure JS) implementations are the reference. */
async function reference(alg: ChecksumAlgorithm, data: Buffer): Promise<string> {
  if (alg === 'sha1' || alg === 'sha256') return createHash(alg).update(data).digest('base64');
  const c = alg === 'crc32' ? new Crc32Js() : alg === 'crc32c' ? new Crc32cJs() : new SdkCrc64Nvme();
  c.update(data);
  return Buffer.from(await c.digest()).toString('base64');
}

function ours(alg: ChecksumAlgorithm | 'md5', parts: Buffer[]): string {
  const d = createDigest(alg);
  for (const p of parts) d.update(p);
  return d.digest().toString('base64');
}

const ALGS: ChecksumAlgorithm[] = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'];

test('known values: crc32("hello world") is the SDK header value DUoRhQ==', () => {
  assert.equal(ours('crc32', [Buffer.from('hello world')]), 'DUoRhQ==');
  // CRC-64/NVME check value of "123456789" is 0xAE8B14860A799888.
  assert.equal(createDigest('crc64nvme').digest().length, 8);
  const d = createDigest('crc64nvme');
  d.update(Buffer.from('123456789'));
  assert.equal(d.digest().toString('hex'), 'ae8b14860a799888');
  // CRC-32C check value of "123456789" is 0xE3069283.
  assert.equal(Buffer.from(ours('crc32c', [Buffer.from('123456789')]), 'base64').toString('hex'), 'e3069283');
  assert.equal(ours('md5', [Buffer.from('')]), '1B2M2Y8AsgTpgAmY7PhCfg==');
});

test('every algorithm matches the AWS SDK reference, whole and fed in odd-sized pieces', async () => {
  const inputs = [Buffer.alloc(0), Buffer.from('a'), Buffer.from('hello world'), randomBytes(1), randomBytes(7), randomBytes(8), randomBytes(9), randomBytes(100_003)];
  for (const alg of ALGS) {
    for (const data of inputs) {
      const want = await reference(alg, data);
      assert.equal(ours(alg, [data]), want, `${alg} of ${data.length} bytes`);
      const pieces: Buffer[] = [];
      for (let i = 0, step = 1; i < data.length; i += step, step = (step * 7 + 3) % 4099 + 1) pieces.push(data.subarray(i, i + step));
      assert.equal(ours(alg, pieces), want, `${alg} of ${data.length} bytes in ${pieces.length} pieces`);
    }
  }
});

test('checksumHeaderName and parseChecksumAlgorithm', () => {
  assert.equal(checksumHeaderName('crc64nvme'), 'x-amz-checksum-crc64nvme');
  assert.equal(parseChecksumAlgorithm('CRC32'), 'crc32');
  assert.equal(parseChecksumAlgorithm('CRC64NVME'), 'crc64nvme');
  assert.equal(parseChecksumAlgorithm('Sha256'), 'sha256');
  assert.equal(parseChecksumAlgorithm('md5'), undefined);
  assert.equal(parseChecksumAlgorithm(''), undefined);
});

test('decodeDigest accepts only canonical base64 of the right length', () => {
  assert.ok(decodeDigest('DUoRhQ==', 4));
  assert.equal(decodeDigest('DUoRhQ==', 8), undefined);
  assert.equal(decodeDigest('DUoRhQ', 4), undefined);
  assert.equal(decodeDigest('DUoRh!==', 4), undefined);
  assert.equal(decodeDigest('DUoRhR==', 4), undefined); // non-zero padding bits
});

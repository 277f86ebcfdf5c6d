// S3's rules for new bucket names: what CreateBucket refuses with InvalidBucketName, and names
// close to the rules that it accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { S3Error } from '../errors.ts';
import { validateBucketName } from './buckets.ts';

function refusal(name: string): string | undefined {
  try {
    validateBucketName(name);
    return undefined;
  } catch (e) {
    assert.ok(e instanceof S3Error);
    assert.equal(e.code, 'InvalidBucketName');
    return e.message;
  }
}

test('names S3 refuses: length, characters, adjacent periods, IP addresses, reserved prefixes and suffixes', () => {
  for (const name of ['ab', 'a'.repeat(64), 'Bad_Name', '-start', 'end-', 'a..b', '192.168.5.4']) {
    assert.ok(refusal(name), `${name} is refused`);
  }
  for (const name of ['xn--abc', 'sthree-abc', 'amzn-s3-demo-bucket', 'abc-s3alias', 'abc--ol-s3', 'abc.mrap', 'abc--x-s3', 'abc--table-s3']) {
    assert.match(refusal(name) ?? '', /reserves/, `${name} is reserved`);
  }
});

test('names close to the rules are accepted', () => {
  for (const name of ['abc', 'a'.repeat(63), 'my.bucket-1', 'x-xn--a', 'mrap', 'abc-mrap', 'amzn-s3-dem', 'abc-x-s3', 'a1.2.3.4']) {
    assert.equal(refusal(name), undefined, `${name} is accepted`);
  }
});

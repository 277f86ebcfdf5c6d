import { test } from 'node:test';
import assert from 'node:assert/strict';
import { S3Error } from '../s3/errors.ts';
import { validateKey } from './keys.ts';
import { resolveRange } from './range.ts';

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e instanceof S3Error ? e.code : String(e);
  }
  return 'ok';
};

test('keys that could escape a directory or break tools are refused with S3 errors', () => {
  for (const k of ['a', 'a/b/c.txt', 'with space', 'é/中/𝄞', 'a..b', '.hidden', 'x'.repeat(1024)]) assert.equal(codeOf(() => validateKey(k)), 'ok', k);
  for (const k of ['../x', 'a/../../b', 'a/./b', '/abs', 'nul\u0000', 'tab\tkey', 'del\u007f', '']) assert.equal(codeOf(() => validateKey(k)), 'InvalidArgument', JSON.stringify(k));
  assert.equal(codeOf(() => validateKey('é'.repeat(513))), 'KeyTooLongError');
});

test('ranges resolve as S3 resolves them', () => {
  assert.deepEqual(resolveRange({ start: 2, end: 5 }, 10), { start: 2, end: 5 });
  assert.deepEqual(resolveRange({ start: 2, end: 50 }, 10), { start: 2, end: 9 });
  assert.deepEqual(resolveRange({ suffix: 3 }, 10), { start: 7, end: 9 });
  assert.deepEqual(resolveRange({ suffix: 30 }, 10), { start: 0, end: 9 });
  assert.equal(resolveRange(undefined, 10), undefined);
  assert.equal(codeOf(() => resolveRange({ start: 10 }, 10)), 'InvalidRange');
  assert.equal(codeOf(() => resolveRange({ suffix: 0 }, 10)), 'InvalidRange');
});

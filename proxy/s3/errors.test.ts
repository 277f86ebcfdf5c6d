import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { S3_ERRORS, S3Error } from './errors.ts';

test('every error code in the catalogue is documented in docs/s3-errors.md', () => {
  const doc = readFileSync(new URL('../../docs/s3-errors.md', import.meta.url), 'utf8');
  const missing = Object.keys(S3_ERRORS).filter((code) => !doc.includes(`| ${code} |`));
  assert.deepEqual(missing, []);
});

test('an S3Error takes its status and default message from the catalogue', () => {
  const e = new S3Error('NoSuchKey');
  assert.equal(e.status, 404);
  assert.equal(e.message, S3_ERRORS.NoSuchKey[1]);
  const custom = S3Error.custom('Throttled', 429, 'slow down');
  assert.equal(custom.code, 'Throttled');
  assert.equal(custom.status, 429);
});

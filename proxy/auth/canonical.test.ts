import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalHeaderValue, formatAmzDate } from './canonical.ts';

test('canonical header values: canonical ones pass unchanged, blanks trimmed and collapsed, several values joined', () => {
  assert.equal(canonicalHeaderValue(['20261202T160000Z']), '20261202T160000Z');
  assert.equal(canonicalHeaderValue(['a b c']), 'a b c');
  assert.equal(canonicalHeaderValue([' a']), 'a');
  assert.equal(canonicalHeaderValue(['a ']), 'a');
  assert.equal(canonicalHeaderValue(['a  b']), 'a b');
  assert.equal(canonicalHeaderValue(['a\tb']), 'a b');
  assert.equal(canonicalHeaderValue(['\t a \t b \t']), 'a b');
  assert.equal(canonicalHeaderValue(['\u00a0x\u00a0']), '\u00a0x\u00a0', 'U+00A0 (a UTF-8 byte seen as latin1) is not a blank');
  assert.equal(canonicalHeaderValue([' a', 'b  c']), 'a,b c');
  assert.equal(canonicalHeaderValue([]), '');
});

test('formatAmzDate: each second its own text, also within one second and across days', () => {
  assert.equal(formatAmzDate(new Date('2026-12-02T16:00:00.100Z')), '20261202T160000Z');
  assert.equal(formatAmzDate(new Date('2026-12-02T16:00:00.900Z')), '20261202T160000Z');
  assert.equal(formatAmzDate(new Date('2026-12-02T16:00:01.000Z')), '20261202T160001Z');
  assert.equal(formatAmzDate(new Date('2026-12-02T23:59:59.999Z')), '20261202T235959Z');
  assert.equal(formatAmzDate(new Date('2026-12-03T00:00:00.000Z')), '20261203T000000Z');
  assert.equal(formatAmzDate(new Date('2026-12-02T16:00:00.500Z')), '20261202T160000Z', 'an earlier second again');
  assert.throws(() => formatAmzDate(new Date(NaN)), RangeError);
});

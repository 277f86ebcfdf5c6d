import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newRequestId } from './request-id.ts';

test('request ids are 16 upper-case hex digits and distinct across pool refills', () => {
  const ids = Array.from({ length: 2000 }, newRequestId);
  for (const id of ids) assert.match(id, /^[0-9A-F]{16}$/);
  assert.equal(new Set(ids).size, ids.length);
});

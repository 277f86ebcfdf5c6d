import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { FaultSpec, parseDuration, parseFaultSpec, parseSize } from './model.ts';

test('durations parse to milliseconds, compound ones included', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.throws(() => parseDuration('5 parsecs'));
});

test('sizes accept numbers and Kubernetes-style quantities', () => {
  assert.equal(parseSize(1024), 1024);
  assert.equal(parseSize('512Mi'), 512 * 1024 * 1024);
  assert.equal(parseSize('1G'), 1e9);
  assert.equal(parseSize('64KiB'), 65536);
  assert.throws(() => parseSize('lots'));
});

test('a full S3 fault parses with defaults filled in', () => {
  const r = parseFaultSpec({ kind: 'latency', ms: 200, match: { operations: ['GetObject'], keyPrefix: 'a/' }, trigger: { probability: 0.5, seed: 7 }, duration: '30s' });
  assert.ok(r.ok);
  assert.deepEqual(r.value, { kind: 'latency', ms: 200, jitterMs: 0, match: { operations: ['GetObject'], keyPrefix: 'a/' }, trigger: { probability: 0.5, seed: 7 }, duration: '30s' });
});

test('bad durations are rejected with a message naming the field', () => {
  const r = parseFaultSpec({ kind: 'stall', duration: '5 parsecs' });
  assert.ok(!r.ok);
  assert.match(r.error, /^duration: must be a positive duration/);
  const neg = parseFaultSpec({ kind: 'stall', duration: '-5s' });
  assert.ok(!neg.ok);
  assert.match(neg.error, /^duration:/);
  const zero = parseFaultSpec({ kind: 'stall', lease: '0s' });
  assert.ok(!zero.ok);
  assert.match(zero.error, /^lease: must be longer than zero/);
});

test('unknown kinds, unknown fields and bad sizes name the field', () => {
  const k = parseFaultSpec({ kind: 'meteor' }, 'faults.0');
  assert.ok(!k.ok);
  assert.match(k.error, /^faults\.0\.kind: Invalid discriminator/);
  const typo = parseFaultSpec({ kind: 'stall', trigger: { probabilty: 0.5 } });
  assert.ok(!typo.ok);
  assert.match(typo.error, /^trigger: Unrecognized key: "probabilty"/);
  const size = parseFaultSpec({ kind: 'memory', bytes: 'a lot' });
  assert.ok(!size.ok);
  assert.match(size.error, /^bytes: must be a byte count/);
  const prob = parseFaultSpec({ kind: 'stall', trigger: { probability: 1.5 } });
  assert.ok(!prob.ok);
  assert.match(prob.error, /^trigger\.probability:/);
});

test('one-of parameters are enforced', () => {
  assert.match((parseFaultSpec({ kind: 'truncate' }) as { error: string }).error, /^afterBytes: give exactly one/);
  assert.match((parseFaultSpec({ kind: 'disk', path: '/tmp', bytes: 1, freePercent: 5 }) as { error: string }).error, /^bytes: give exactly one/);
  assert.ok(parseFaultSpec({ kind: 'truncate', fraction: 0.5 }).ok);
  assert.ok(parseFaultSpec({ kind: 'disk', path: '/tmp/x', freePercent: 10 }).ok);
  assert.ok(parseFaultSpec({ kind: 'serviceDown', mode: 'reset' }).ok);
  assert.equal((parseFaultSpec({ kind: 'serviceDown' }) as { value: { mode: unknown } }).value.mode, 503);
});

test('the schema converts to JSON Schema for the CRD generator', () => {
  const schema = z.toJSONSchema(FaultSpec, { io: 'input' }) as { oneOf?: unknown[]; anyOf?: unknown[] };
  assert.equal((schema.oneOf ?? schema.anyOf)?.length, 15);
});

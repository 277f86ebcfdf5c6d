import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPacer, createRateLimiter } from './rate.ts';

test('objects a second: the first at once, the rest evenly spaced, an idle pause not saved up', () => {
  const pace = createPacer(100, undefined);
  assert.deepEqual([pace(1, 0), pace(1, 0), pace(1, 0), pace(1, 5)], [0, 10, 20, 25]);
  // After a second of nothing, the next goes at once: no burst credit for the idle time.
  assert.deepEqual([pace(1, 2000), pace(1, 2000)], [0, 10]);
});

test('bytes a second: an object delays the next by its size over the bandwidth; both limits: the later wins', () => {
  const bytes = createPacer(undefined, 1_000_000);
  assert.deepEqual([bytes(50_000, 0), bytes(10, 0), bytes(10, 60)], [0, 50, 0]);
  // 10 objects/s and 1 MB/s: after a 1 MB object the bytes decide (1 s), after small ones the count (100 ms).
  const both = createPacer(10, 1_000_000);
  assert.deepEqual([both(1_000_000, 0), both(1, 0)], [0, 1000]);
  assert.equal(Math.round(both(1, 1000)), 100);
  assert.equal(createPacer(undefined, undefined)(1e12, 0), 0, 'unlimited');
});

test('an abort ends the wait with the signal\'s reason; an aborted signal refuses at once', async () => {
  const lim = createRateLimiter(0.5, undefined);
  const ac = new AbortController();
  await lim.take(1, ac.signal);
  const waiting = lim.take(1, ac.signal);
  setTimeout(() => ac.abort('cancel'), 10);
  await assert.rejects(waiting, (e) => e === 'cancel');
  await assert.rejects(lim.take(1, ac.signal), (e) => e === 'cancel');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWorkQueue, type Clock } from './workqueue.ts';

function fakeClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  const timers: { at: number; fn: () => void; id: number }[] = [];
  let next = 0;
  return {
    now: () => now,
    setTimeout: (fn, ms) => { const id = next++; timers.push({ at: now + ms, fn, id }); return id; },
    clearTimeout: (id) => { const i = timers.findIndex((t) => t.id === id); if (i >= 0) timers.splice(i, 1); },
    advance(ms) {
      now += ms;
      for (const t of timers.filter((t) => t.at <= now).sort((a, b) => a.at - b.at)) {
        timers.splice(timers.indexOf(t), 1);
        t.fn();
      }
    },
  };
}

test('a key added many times while waiting is handed out once', async () => {
  const q = createWorkQueue();
  for (let i = 0; i < 5; i++) q.add('ns/a');
  q.add('ns/b');
  assert.equal(q.length, 2);
  assert.equal(await q.get(), 'ns/a');
  assert.equal(await q.get(), 'ns/b');
  assert.equal(q.length, 0);
});

test('a key being processed is not handed to a second worker; an add meanwhile brings it back after done', async () => {
  const q = createWorkQueue();
  q.add('k');
  const k = await q.get();
  q.add('k');
  assert.equal(q.length, 0, 'not queued while active');
  let second: string | undefined;
  void q.get().then((v) => { second = v; });
  await new Promise((r) => setImmediate(r));
  assert.equal(second, undefined);
  q.done(k!);
  await new Promise((r) => setImmediate(r));
  assert.equal(second, 'k');
});

test('failures back off exponentially per key up to the cap; forget resets', () => {
  const clock = fakeClock();
  const q = createWorkQueue({ baseDelayMs: 100, maxDelayMs: 1000, clock });
  assert.deepEqual([1, 2, 3, 4, 5].map(() => q.addRateLimited('k')), [100, 200, 400, 800, 1000]);
  assert.equal(q.failures('k'), 5);
  q.forget('k');
  assert.equal(q.addRateLimited('k'), 100);
  assert.equal(q.addRateLimited('other'), 100, 'per key');
});

test('addAfter keeps the earliest time and delivers when it comes', async () => {
  const clock = fakeClock();
  const q = createWorkQueue({ clock });
  q.addAfter('k', 500);
  q.addAfter('k', 2000);
  q.addAfter('k', 300);
  clock.advance(299);
  assert.equal(q.length, 0);
  clock.advance(1);
  assert.equal(q.length, 1);
  assert.equal(await q.get(), 'k');
  q.done('k');
  clock.advance(5000);
  assert.equal(q.length, 0, 'the later timers were replaced, not kept');
});

test('the overall token bucket limits a storm of failing keys', () => {
  const clock = fakeClock();
  const q = createWorkQueue({ baseDelayMs: 1, qps: 10, burst: 5, clock });
  const delays = Array.from({ length: 8 }, (_, i) => q.addRateLimited(`k${i}`));
  assert.deepEqual(delays.slice(0, 5), [1, 1, 1, 1, 1]);
  assert.deepEqual(delays.slice(5), [100, 200, 300]);
});

test('shutDown releases waiting workers', async () => {
  const q = createWorkQueue();
  const waiting = q.get();
  q.shutDown();
  assert.equal(await waiting, undefined);
  q.add('k');
  assert.equal(q.length, 0);
});

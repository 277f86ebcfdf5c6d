// The body fan-out of a W > 1 write (tee.ts): same bytes to every branch, read no faster than the
// slowest branch asks, nothing taken before the first branch asks, a failed branch left behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tee } from './tee.ts';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** A source of `chunks` chunks of 16 KiB, counting what was taken from it. */
function source(chunks: number): { stream: Readable; body: Buffer; taken: () => number } {
  const parts = Array.from({ length: chunks }, () => randomBytes(16 * 1024));
  let taken = 0;
  let i = 0;
  const stream = new Readable({
    read() {
      if (i === parts.length) return void this.push(null);
      taken += parts[i]!.length;
      this.push(parts[i++]);
    },
  });
  return { stream, body: Buffer.concat(parts), taken: () => taken };
}

/** Collects a branch, waiting `delayMs` before each chunk (a slow backend). */
function sink(delayMs: number, onChunk?: (c: Buffer) => void): { w: Writable; got: () => Buffer } {
  const chunks: Buffer[] = [];
  const w = new Writable({
    highWaterMark: 16 * 1024,
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      onChunk?.(c);
      if (delayMs) setTimeout(cb, delayMs);
      else cb();
    },
  });
  return { w, got: () => Buffer.concat(chunks) };
}

test('tee: every branch gets the same bytes; the source runs no further ahead of the slowest branch than the buffers allow', async () => {
  const src = source(200);
  const t = tee(src.stream, 3);
  let slowGot = 0;
  let ahead = 0;
  const slow = sink(2, (c) => { slowGot += c.length; ahead = Math.max(ahead, src.taken() - slowGot); });
  const sinks = [sink(0), sink(0), slow];
  await Promise.all(t.branches.map((b, i) => pipeline(b, sinks[i]!.w)));
  for (const s of sinks) assert.equal(md5(s.got()), md5(src.body));
  // 3.2 MB went through; what was read ahead of the slow branch stays within a few buffers.
  assert.ok(ahead <= 512 * 1024, `read ${ahead} bytes ahead of the slowest branch`);
});

test('tee: nothing is taken from the source until the first branch reads; destroyed unread, the body stays whole for another consumer', async () => {
  const src = source(10);
  const t = tee(src.stream, 2);
  // The second branch asks, the first never does (its backend refused before reading).
  const second = new PassThrough();
  t.branches[1]!.pipe(second);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(src.taken(), 0);
  assert.equal(t.started, false);
  for (const b of t.branches) b.destroy();
  const again = sink(0);
  await pipeline(src.stream, again.w);
  assert.equal(md5(again.got()), md5(src.body));
});

test('tee: a branch destroyed midway no longer holds the others back; a source error reaches every live branch', async () => {
  const src = source(100);
  const t = tee(src.stream, 3);
  const ok = [sink(0), sink(0)];
  let n = 0;
  const failing = new Writable({ write(_c, _e, cb) { if (++n === 5) cb(new Error('backend gone')); else cb(); } });
  const done = await Promise.allSettled([pipeline(t.branches[0]!, ok[0]!.w), pipeline(t.branches[1]!, ok[1]!.w), pipeline(t.branches[2]!, failing)]);
  assert.deepEqual(done.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected']);
  for (const s of ok) assert.equal(md5(s.got()), md5(src.body));

  const bad = new PassThrough();
  const t2 = tee(bad, 2);
  const results = Promise.allSettled(t2.branches.map((x) => pipeline(x, sink(0).w)));
  bad.write(randomBytes(1000));
  setTimeout(() => bad.destroy(Object.assign(new Error('digest mismatch'), { code: 'BadDigest' })), 20);
  for (const r of await results) {
    assert.equal(r.status, 'rejected');
    assert.match(String((r as PromiseRejectedResult).reason), /digest mismatch/);
  }
});

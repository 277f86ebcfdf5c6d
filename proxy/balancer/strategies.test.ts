import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBalancer } from './index.ts';
import { STRATEGIES, fits, hashUnit, type Candidate, type StrategyName } from './strategies.ts';

const c = (name: string, o: Partial<Candidate> = {}): Candidate => ({ name, healthy: true, weight: 1, used: 0, ...o });

function picks(strategy: StrategyName, cands: Candidate[], n: number, keyOf = (i: number) => `k${i}`, size = 1): (string | undefined)[] {
  const b = createBalancer(strategy);
  return Array.from({ length: n }, (_, i) => b.pick(cands, keyOf(i), size));
}

function counts(xs: (string | undefined)[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[String(x)] = (out[String(x)] ?? 0) + 1;
  return out;
}

test('fits: healthy and with room for the whole object', () => {
  const cases: [string, Candidate, number, boolean][] = [
    ['unlimited healthy', c('a'), 10 ** 12, true],
    ['down', c('a', { healthy: false }), 1, false],
    ['exactly fills', c('a', { maxSize: 100, used: 90 }), 10, true],
    ['one byte too many', c('a', { maxSize: 100, used: 90 }), 11, false],
    ['already over', c('a', { maxSize: 100, used: 101 }), 0, false],
  ];
  for (const [name, cand, size, want] of cases) assert.equal(fits(cand, size), want, name);
});

test('every strategy refuses when no backend qualifies', () => {
  for (const s of STRATEGIES) {
    assert.deepEqual(picks(s, [c('a', { healthy: false }), c('b', { maxSize: 5, used: 5 })], 3), [undefined, undefined, undefined], s);
    assert.deepEqual(picks(s, [], 1), [undefined], s);
  }
});

test('every strategy skips down and full backends', () => {
  const cands = [c('down', { healthy: false }), c('full', { maxSize: 10, used: 10 }), c('ok'), c('small', { maxSize: 100 })];
  for (const s of STRATEGIES) {
    const got = picks(s, cands, 50, (i) => `key-${i}`, 50);
    assert.ok(got.every((x) => x === 'ok' || x === 'small'), `${s}: ${got}`);
    const big = picks(s, cands, 20, (i) => `key-${i}`, 200);
    assert.ok(big.every((x) => x === 'ok'), `${s} big: ${big}`);
  }
});

test('round-robin is a true rotation in configuration order, resuming after a skipped backend', () => {
  assert.deepEqual(picks('round-robin', [c('a'), c('b'), c('c')], 7), ['a', 'b', 'c', 'a', 'b', 'c', 'a']);
  const b = createBalancer('round-robin');
  const cands = [c('a'), c('b'), c('c')];
  assert.equal(b.pick(cands, 'x', 1), 'a');
  cands[1] = c('b', { healthy: false });
  assert.equal(b.pick(cands, 'x', 1), 'c');
  assert.equal(b.pick(cands, 'x', 1), 'a');
  cands[1] = c('b');
  assert.equal(b.pick(cands, 'x', 1), 'b');
  assert.deepEqual(counts(picks('round-robin', [c('a'), c('b'), c('c')], 300)), { a: 100, b: 100, c: 100 });
});

test('most-free-space picks the emptier backend, and rotates among equals', () => {
  const cases: [string, Candidate[], string][] = [
    ['more free bytes wins', [c('a', { maxSize: 100, used: 50 }), c('b', { maxSize: 1000, used: 800 })], 'b'],
    ['unlimited beats limited', [c('a', { maxSize: 10 ** 15 }), c('b')], 'b'],
    ['unlimited: fewer bytes stored wins', [c('a', { used: 500 }), c('b', { used: 100 }), c('c', { used: 300 })], 'b'],
  ];
  for (const [name, cands, want] of cases) assert.equal(picks('most-free-space', cands, 1)[0], want, name);
  assert.deepEqual(picks('most-free-space', [c('a'), c('b')], 4), ['a', 'b', 'a', 'b']);
  // Filling as it goes: the choice follows the usage it causes.
  const cands = [c('a', { maxSize: 1000, used: 600 }), c('b', { maxSize: 1000, used: 0 })];
  const b = createBalancer('most-free-space');
  const seq: string[] = [];
  for (let i = 0; i < 8; i++) {
    const got = b.pick(cands, `k${i}`, 100)!;
    seq.push(got);
    const at = cands.findIndex((x) => x.name === got);
    cands[at] = { ...cands[at]!, used: cands[at]!.used + 100 };
  }
  assert.equal(Math.abs(cands[0]!.used - cands[1]!.used) <= 100, true, 'usage evened out');
  assert.deepEqual(seq.slice(0, 6), ['b', 'b', 'b', 'b', 'b', 'b'], 'the emptier one fills first');
});

test('weighted follows the weights exactly over each cycle, without bursts, and never picks weight 0', () => {
  const cands = [c('a', { weight: 5 }), c('b', { weight: 1 }), c('c', { weight: 1 }), c('z', { weight: 0 })];
  const seq = picks('weighted', cands, 7);
  assert.deepEqual(counts(seq), { a: 5, b: 1, c: 1 });
  // Smooth: the heavy backend is interleaved, never 5 in a row.
  assert.deepEqual(seq, ['a', 'a', 'b', 'a', 'c', 'a', 'a']);
  assert.deepEqual(counts(picks('weighted', cands, 700)), { a: 500, b: 100, c: 100 });
});

test('rendezvous puts a key on the same backend every time and moves only the removed backend\'s keys', () => {
  const cands = [c('a'), c('b'), c('c'), c('d')];
  const keys = Array.from({ length: 2000 }, (_, i) => `photos/${i}.jpg`);
  const first = keys.map((k) => createBalancer('rendezvous').pick(cands, k, 1));
  const again = keys.map((k) => createBalancer('rendezvous').pick([...cands].reverse(), k, 1));
  assert.deepEqual(again, first, 'independent of order and of earlier picks');
  const share = counts(first);
  for (const n of ['a', 'b', 'c', 'd']) assert.ok(share[n]! > 400 && share[n]! < 600, `${n}: ${share[n]}`);
  const withoutC = keys.map((k) => createBalancer('rendezvous').pick(cands.filter((x) => x.name !== 'c'), k, 1));
  keys.forEach((_, i) => {
    if (first[i] !== 'c') assert.equal(withoutC[i], first[i], 'keys of other backends stay put');
    else assert.notEqual(withoutC[i], 'c');
  });
  const down = keys.map((k) => createBalancer('rendezvous').pick(cands.map((x) => (x.name === 'c' ? { ...x, healthy: false } : x)), k, 1));
  assert.deepEqual(down, withoutC, 'a down backend is the same as a removed one');
});

test('weighted rendezvous shares follow weights', () => {
  const cands = [c('a', { weight: 3 }), c('b', { weight: 1 })];
  const share = counts(Array.from({ length: 4000 }, (_, i) => createBalancer('rendezvous').pick(cands, `key-${i}`, 1)));
  assert.ok(share.a! > 2800 && share.a! < 3200, JSON.stringify(share));
});

test('hashUnit is in (0, 1) and stable', () => {
  for (let i = 0; i < 1000; i++) {
    const h = hashUnit(`k${i}`, 'b');
    assert.ok(h > 0 && h < 1);
  }
  assert.equal(hashUnit('x', 'y'), hashUnit('x', 'y'));
  assert.notEqual(hashUnit('xy', ''), hashUnit('x', 'y'));
});

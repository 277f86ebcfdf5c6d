// Metadata search against a brute-force filter of the same records: a few thousand varied rows
// (overwritten and deleted ones among them) seeded into a real index, then every filter alone and
// in combination, paged, compared with what a plain walk over the records in memory selects.
// sqlite.test.ts and postgres.test.ts run it against their database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FindQuery, FoundObject } from './find.ts';
import type { PlacedObject, PlacementIndex, Replica } from './types.ts';

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Deterministic, so a failure names a reproducible case. */
function prng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x6d2b79f5) >>> 0;
    let t = x;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const T0 = Date.UTC(2026, 0, 1);
const DAY = 86_400_000;
const TYPES = [undefined, 'image/png', 'image/jpeg', 'imagex/odd', 'text/plain', 'text/plain; charset=utf-8', 'application/json', 'video/mp4'];
const PREFIXES = ['logs/2026/', 'logs/2025/', 'img/', 'img/thumbs/', 'é/', 'a', '\u{1F600}/', ''];
const BACKENDS = ['b1', 'b2', 'b3', 'b4'];
const META_NAMES = ['team', 'env', 'owner', 'k'];
const META_VALUES = ['red', 'blue', 'grün', '', 'a=b', 'x'];

export function seedRecords(count: number, seed = 7): PlacedObject[] {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: PlacedObject[] = [];
  for (let i = 0; i < count; i++) {
    const userMeta: Record<string, string> = {};
    const pairs = Math.floor(r() * 4);
    for (let j = 0; j < pairs; j++) userMeta[pick(META_NAMES)] = pick(META_VALUES);
    const size = r() < 0.05 ? 0 : Math.floor(r() ** 3 * 50_000_000);
    const contentType = pick(TYPES);
    const backend = pick(BACKENDS);
    // A third has more copies (on other backends), some of them still to be written.
    const extra = r() < 0.33 ? BACKENDS.filter((b) => b !== backend).slice(0, 1 + Math.floor(r() * 2)) : [];
    const copies: Replica[] = extra.map((b) => ({ backend: b, location: `.floodgate/w/x/${i}`, ...(r() < 0.3 ? { pending: true } : {}) }));
    out.push({
      bucket: r() < 0.85 ? 'vb' : 'other', key: `${pick(PREFIXES)}obj-${i.toString(36)}`, backend, size, etag: `e${i}`,
      lastModified: new Date(T0 + Math.floor(r() * 60 * DAY)), checksums: {}, userMeta, ...(contentType ? { contentType } : {}),
      ...(copies.length ? { copies } : {}),
    });
  }
  return out;
}

/** The backends holding a written copy, the first copy first. */
const written = (o: PlacedObject) => [o.backend, ...(o.copies ?? []).filter((c) => !c.pending).map((c) => c.backend)];

/** The definition the SQL must agree with, written plainly over records in memory. */
export function bruteForce(records: Iterable<PlacedObject>, q: Omit<FindQuery, 'limit'>): PlacedObject[] {
  const ct = q.contentType;
  return [...records].filter((o) => o.bucket === q.bucket && o.key.startsWith(q.prefix) && byteOrder(o.key, q.after) > 0
    && (q.minSize === undefined || o.size >= q.minSize) && (q.maxSize === undefined || o.size <= q.maxSize)
    && (!q.modifiedSince || o.lastModified >= q.modifiedSince) && (!q.modifiedBefore || o.lastModified < q.modifiedBefore)
    && (ct === undefined || (ct.endsWith('/*') ? (o.contentType ?? '').startsWith(ct.slice(0, -1)) : o.contentType === ct))
    && q.meta.every((m) => Object.hasOwn(o.userMeta, m.name) && (m.value === undefined || o.userMeta[m.name] === m.value))
    && (q.backend === undefined || written(o).includes(q.backend))
    && (q.minReplicas === undefined || written(o).length >= q.minReplicas) && (q.maxReplicas === undefined || written(o).length <= q.maxReplicas))
    .sort((a, b) => byteOrder(a.key, b.key));
}

/** Every page of a query, following the last key as a cursor. */
export async function findAll(ix: PlacementIndex, q: Omit<FindQuery, 'limit' | 'after'>, pageSize: number): Promise<FoundObject[]> {
  const out: FoundObject[] = [];
  for (let after = '', pages = 0; pages < 10_000; pages++) {
    const page = await ix.find({ ...q, after, limit: pageSize });
    assert.ok(page.length <= pageSize);
    out.push(...page);
    if (page.length < pageSize) return out;
    after = page.at(-1)!.key;
  }
  throw new Error('find did not end');
}

const base = { bucket: 'vb', prefix: '', meta: [] };
export const QUERIES: [string, Omit<FindQuery, 'limit' | 'after'>][] = [
  ['everything in the bucket', base],
  ['the other bucket', { ...base, bucket: 'other' }],
  ['a prefix', { ...base, prefix: 'logs/' }],
  ['a non-ASCII prefix', { ...base, prefix: 'é/' }],
  ['an astral-plane prefix', { ...base, prefix: '\u{1F600}' }],
  ['min size', { ...base, minSize: 10_000_000 }],
  ['max size 0: empty objects', { ...base, maxSize: 0 }],
  ['a size range', { ...base, minSize: 1000, maxSize: 2_000_000 }],
  ['modified since', { ...base, modifiedSince: new Date(T0 + 50 * DAY) }],
  ['modified before', { ...base, modifiedBefore: new Date(T0 + 3 * DAY) }],
  ['a modified window', { ...base, modifiedSince: new Date(T0 + 10 * DAY), modifiedBefore: new Date(T0 + 12 * DAY) }],
  ['exact content type', { ...base, contentType: 'image/png' }],
  ['content type with parameters is its own value', { ...base, contentType: 'text/plain; charset=utf-8' }],
  ['a major type: image/* (not imagex/)', { ...base, contentType: 'image/*' }],
  ['a content type nobody has', { ...base, contentType: 'font/woff2' }],
  ['a metadata pair', { ...base, meta: [{ name: 'team', value: 'red' }] }],
  ['a metadata pair with a non-ASCII value', { ...base, meta: [{ name: 'env', value: 'grün' }] }],
  ['an empty metadata value', { ...base, meta: [{ name: 'owner', value: '' }] }],
  ['a metadata name, any value', { ...base, meta: [{ name: 'k' }] }],
  ['two metadata pairs', { ...base, meta: [{ name: 'team', value: 'red' }, { name: 'env', value: 'blue' }] }],
  ['a name and a pair', { ...base, meta: [{ name: 'owner' }, { name: 'team', value: 'x' }] }],
  ['a backend', { ...base, backend: 'b3' }],
  ['a backend nobody has', { ...base, backend: 'b9' }],
  ['replicas ≤ 1', { ...base, maxReplicas: 1 }],
  ['replicas ≥ 2', { ...base, minReplicas: 2 }],
  ['exactly 3 replicas', { ...base, minReplicas: 3, maxReplicas: 3 }],
  ['a backend, 2 replicas at most', { ...base, backend: 'b4', maxReplicas: 2 }],
  ['prefix + size + type', { ...base, prefix: 'img/', minSize: 100, contentType: 'image/*' }],
  ['meta + backend + window', { ...base, meta: [{ name: 'team', value: 'blue' }], backend: 'b1', modifiedSince: new Date(T0 + 20 * DAY) }],
  ['everything at once', { bucket: 'vb', prefix: 'logs/2026/', minSize: 1, maxSize: 40_000_000, modifiedSince: new Date(T0), modifiedBefore: new Date(T0 + 59 * DAY),
    contentType: 'text/*', meta: [{ name: 'env' }], backend: 'b2', minReplicas: 1, maxReplicas: 3 }],
];

/**
 * `load`: writes many records at once into the index last opened (a multi-row INSERT, which
 * fires the same triggers as put()), where one put() per record would be slow; default put().
 */
export function findSuite(name: string, open: () => Promise<PlacementIndex>, load?: (records: PlacedObject[]) => Promise<void>): void {
  test(`${name}: find — every filter, alone and combined, paged, agrees with a brute-force filter of the same records`, async () => {
    const ix = await open();
    try {
      const records = seedRecords(3000);
      const live = new Map<string, PlacedObject>();
      const id = (o: PlacedObject) => `${o.bucket}\n${o.key}`;
      const put = async (os: PlacedObject[]) => {
        for (let i = 0; i < os.length; i += 50) await Promise.all(os.slice(i, i + 50).map((o) => ix.put(o)));
        for (const o of os) live.set(id(o), o);
      };
      if (load) {
        await load(records);
        for (const o of records) live.set(id(o), o);
      } else await put(records);
      // Overwrites change metadata, type and backend; deletes must take their metadata rows along.
      const r = prng(11);
      const rewritten = records.filter(() => r() < 0.06).map((o, i): PlacedObject => ({ ...o, backend: BACKENDS[i % 4]!, contentType: 'video/mp4', userMeta: i % 2 ? {} : { team: 'red', moved: 'yes' } as Record<string, string> }));
      await put(rewritten);
      const gone = records.filter(() => r() < 0.06);
      for (let i = 0; i < gone.length; i += 50) await Promise.all(gone.slice(i, i + 50).map((o) => ix.delete(o.bucket, o.key)));
      for (const o of gone) live.delete(id(o));
      // Copies written since: their pending marks go (an UPDATE of the copies alone).
      const settled = [...live.values()].filter((o) => o.copies?.some((c) => c.pending) && r() < 0.5);
      for (const o of settled) {
        const next = { ...o, copies: o.copies!.map(({ pending: _, ...c }) => c) };
        assert.ok(await ix.updateCopies(o.bucket, o.key, { backend: o.backend, etag: o.etag }, () => next.copies));
        live.set(id(o), next);
      }
      assert.ok(settled.length > 20, 'some pending copies to settle');
      for (const [title, q] of QUERIES) {
        const want = bruteForce(live.values(), { ...q, after: '' });
        for (const pageSize of [1000, 97]) {
          const got = await findAll(ix, q, pageSize);
          assert.deepEqual(got.map((o) => o.key), want.map((o) => o.key), `${title} (pages of ${pageSize})`);
        }
        if (title.includes('everything in') || title.includes('a metadata pair')) assert.ok(want.length > 50, `${title}: the seed should select many`);
        if (title === 'a backend') assert.ok(want.filter((o) => o.backend !== q.backend).length > 50, 'many match by a copy other than the first');
        if (title.includes('replicas')) assert.ok(want.length > 50, `${title}: the seed should select many`);
      }
      // What a page says about each object is its record, with its copy count.
      const page = await ix.find({ ...base, after: '', limit: 20, meta: [{ name: 'moved', value: 'yes' }] });
      assert.ok(page.length > 0);
      for (const f of page) {
        const { replicas, ...rec } = f;
        assert.deepEqual(rec, live.get(id(f)));
        assert.equal(replicas, written(rec).length);
      }
      // After a marker: only keys past it, under the prefix.
      const all = bruteForce(live.values(), { ...base, prefix: 'img/', after: '' });
      const mid = all[Math.floor(all.length / 2)]!.key;
      assert.deepEqual((await ix.find({ ...base, prefix: 'img/', after: mid, limit: 5 })).map((o) => o.key), all.filter((o) => byteOrder(o.key, mid) > 0).slice(0, 5).map((o) => o.key));
    } finally {
      await ix.close();
    }
  });
}

/**
 * An index of the release before object_copies (`makeOld` removes the table and its triggers
 * from an index `open` made): opened again, it fills the copy rows from the records once, so the
 * backend filter finds a written later copy (not a pending one), and later writes keep them.
 */
export function copiesBackfillSuite(name: string, open: () => Promise<PlacementIndex>, makeOld: () => Promise<void>): void {
  test(`${name}: an index made before object_copies gets the copy rows from the records once, then from every write`, async () => {
    const rec = { bucket: 'vb', size: 1, etag: 'e', lastModified: new Date(5), checksums: {}, userMeta: {} };
    const ix = await open();
    await ix.put({ ...rec, key: 'two', backend: 'b1', copies: [{ backend: 'b2', location: 'vb/two' }] });
    await ix.put({ ...rec, key: 'pending', backend: 'b1', copies: [{ backend: 'b2', location: 'vb/pending', pending: true }] });
    await ix.close();
    await makeOld();
    const onB2 = async (i: PlacementIndex) => (await i.find({ bucket: 'vb', prefix: '', after: '', meta: [], backend: 'b2', limit: 10 })).map((o) => [o.key, o.replicas]);
    const again = await open();
    assert.deepEqual(await onB2(again), [['two', 2]], 'a written later copy is found, a pending one is not');
    await again.delete('vb', 'two');
    await again.put({ ...rec, key: 'three', backend: 'b3', copies: [{ backend: 'b2', location: 'vb/three' }] });
    await again.close();
    const third = await open();
    assert.deepEqual(await onB2(third), [['three', 2]], 'filled once only: the delete and the new write stay as they were');
    await third.close();
  });
}

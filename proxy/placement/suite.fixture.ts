// One behavioural suite for every PlacementIndex implementation: sqlite.test.ts and
// postgres.test.ts run it against a real database each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PlacedObject, PlacementIndex } from './types.ts';

function obj(bucket: string, key: string, backend: string, size: number, extra: Partial<PlacedObject> = {}): PlacedObject {
  return { bucket, key, backend, size, etag: `etag-${key}-${size}`, lastModified: new Date(1_700_000_000_000 + size), checksums: {}, userMeta: {}, ...extra };
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** A test named `<name>: <title>` on a freshly opened index, closed afterwards. */
export function indexTests(name: string, open: () => Promise<PlacementIndex>) {
  return (title: string, fn: (ix: PlacementIndex) => Promise<void>) =>
    test(`${name}: ${title}`, async () => {
      const ix = await open();
      try {
        await fn(ix);
      } finally {
        await ix.close();
      }
    });
}

export function placementSuite(name: string, open: () => Promise<PlacementIndex>): void {
  const withIndex = indexTests(name, open);

  withIndex('a record round-trips every field', async (ix) => {
    const o = obj('vb', 'a/b c', 'minio-a', 12, {
      contentType: 'text/plain', cacheControl: 'max-age=1', contentDisposition: 'inline', contentEncoding: 'gzip', contentLanguage: 'de',
      expires: 'Wed, 21 Oct 2015 07:28:00 GMT', userMeta: { colour: 'grün', empty: '' }, checksums: { crc32: 'AAAAAA==', sha256: 'x' },
      checksumType: 'COMPOSITE', partsCount: 3,
    });
    assert.equal(await ix.put(o), undefined);
    assert.deepEqual(await ix.get('vb', 'a/b c'), o);
    assert.equal(await ix.get('vb', 'a/b'), undefined);
    assert.equal(await ix.get('other', 'a/b c'), undefined);
  });

  withIndex('meta values: absent, set, replaced, removed', async (ix) => {
    assert.equal(await ix.getMeta('identity'), undefined);
    await ix.setMeta('identity', 'one');
    await ix.setMeta('identity', 'two');
    await ix.setMeta('session', '3');
    assert.equal(await ix.getMeta('identity'), 'two');
    assert.equal(await ix.getMeta('session'), '3');
    await ix.setMeta('session', undefined);
    await ix.setMeta('never-set', undefined);
    assert.equal(await ix.getMeta('session'), undefined);
    assert.equal(await ix.getMeta('identity'), 'two');
  });

  withIndex('usage counters follow puts, overwrites across backends and deletes', async (ix) => {
    await ix.put(obj('vb', 'a', 'b1', 10));
    await ix.put(obj('vb', 'b', 'b1', 5));
    await ix.put(obj('vb2', 'a', 'b1', 1));
    const prev = await ix.put(obj('vb', 'a', 'b2', 7));
    assert.equal(prev?.backend, 'b1');
    assert.equal(prev?.size, 10);
    let u = await ix.usage();
    assert.deepEqual(u.get('b1'), { bytes: 6, objects: 2 });
    assert.deepEqual(u.get('b2'), { bytes: 7, objects: 1 });
    assert.equal((await ix.delete('vb', 'b'))?.size, 5);
    assert.equal(await ix.delete('vb', 'b'), undefined);
    assert.equal(await ix.delete('vb', 'never'), undefined);
    u = await ix.usage();
    assert.deepEqual(u.get('b1'), { bytes: 1, objects: 1 });
    assert.deepEqual(u.get('b2'), { bytes: 7, objects: 1 });
  });

  withIndex('a conditional delete leaves a newer copy alone', async (ix) => {
    await ix.put(obj('vb', 'k', 'b1', 3));
    assert.equal(await ix.delete('vb', 'k', { only: { backend: 'b2', etag: 'etag-k-3' } }), undefined);
    assert.equal(await ix.delete('vb', 'k', { only: { backend: 'b1', etag: 'other' } }), undefined);
    assert.ok(await ix.get('vb', 'k'));
    assert.ok(await ix.delete('vb', 'k', { only: { backend: 'b1', etag: 'etag-k-3' } }));
    assert.equal(await ix.get('vb', 'k'), undefined);
  });

  withIndex('scan is in UTF-8 byte order, by prefix, after a marker, limited, per bucket', async (ix) => {
    const keys = ['a', 'a/', 'a/b', 'a/c', 'a+b', 'a b', 'ab', 'B', 'é', 'é/x', '\u{FFFD}', '\u{1F600}', '\u{E000}', 'z', 'a/b/c', 'a0'];
    for (const k of keys) await ix.put(obj('vb', k, 'b1', 1));
    await ix.put(obj('vb-other', 'a/zzz', 'b1', 1));
    const sorted = [...keys].sort(byteOrder);
    const all = await ix.scan('vb', { prefix: '', after: '', limit: 100 });
    assert.deepEqual(all.map((o) => o.key), sorted);
    assert.deepEqual((await ix.scan('vb', { prefix: 'a/', after: '', limit: 100 })).map((o) => o.key), ['a/', 'a/b', 'a/b/c', 'a/c']);
    assert.deepEqual((await ix.scan('vb', { prefix: 'a/', after: 'a/b', limit: 100 })).map((o) => o.key), ['a/b/c', 'a/c']);
    assert.deepEqual((await ix.scan('vb', { prefix: 'a/', after: 'a', limit: 2 })).map((o) => o.key), ['a/', 'a/b']);
    assert.deepEqual((await ix.scan('vb', { prefix: 'a/', after: 'zz', limit: 5 })).map((o) => o.key), []);
    assert.deepEqual((await ix.scan('vb', { prefix: '', after: '\u{FFFD}', limit: 5 })).map((o) => o.key), ['\u{1F600}']);
    assert.deepEqual((await ix.scan('vb', { prefix: 'é', after: '', limit: 5 })).map((o) => o.key), ['é', 'é/x']);
    // Paging by the last key of each page visits every key once.
    const seen: string[] = [];
    for (let after = ''; ;) {
      const page = await ix.scan('vb', { prefix: '', after, limit: 3 });
      if (!page.length) break;
      seen.push(...page.map((o) => o.key));
      after = page.at(-1)!.key;
    }
    assert.deepEqual(seen, sorted);
  });

  withIndex('intents are listed per owner and cleared by the commit that records the outcome', async (ix) => {
    const i1 = await ix.beginIntent({ owner: 'gw-1', bucket: 'vb', key: 'k1', backend: 'b1', op: 'put' });
    const i2 = await ix.beginIntent({ owner: 'gw-1', bucket: 'vb', key: 'k2', backend: 'b2', op: 'delete' });
    const i3 = await ix.beginIntent({ owner: 'gw-2', bucket: 'vb', key: 'k3', backend: 'b1', op: 'put' });
    const i4 = await ix.beginIntent({ owner: 'gw-1', bucket: 'vb', key: 'k4', backend: 'b1', op: 'put' });
    assert.deepEqual((await ix.intents('gw-1')).map((i) => [i.id, i.key, i.backend, i.op]), [[i1, 'k1', 'b1', 'put'], [i2, 'k2', 'b2', 'delete'], [i4, 'k4', 'b1', 'put']]);
    await ix.put(obj('vb', 'k1', 'b1', 1), i1);
    await ix.delete('vb', 'k2', { intent: i2 });
    await ix.endIntent(i4);
    assert.deepEqual(await ix.intents('gw-1'), []);
    assert.deepEqual((await ix.intents('gw-2')).map((i) => i.id), [i3]);
  });

  withIndex('a lazy intent is listed like any other, syncIntent keeps it as it was, a lazy endIntent clears it; a lazy job completes', async (ix) => {
    const id = await ix.beginIntent({ owner: 'gw-1', bucket: 'vb', key: 'k', backend: 'b1', op: 'put', location: 'x/1/k' }, { lazy: true });
    const [before] = await ix.intents('gw-1');
    assert.deepEqual([before?.id, before?.op, before?.location], [id, 'put', 'x/1/k']);
    await ix.syncIntent(id);
    assert.deepEqual(await ix.intents('gw-1'), [before]);
    await ix.endIntent(id, { lazy: true });
    assert.deepEqual(await ix.intents('gw-1'), []);
    const [job] = await ix.jobs.enqueue([{ kind: 'remove', bucket: 'vb', key: 'k', backend: 'b1' }], { owner: 'gw-1', leaseMs: 60_000, lazy: true });
    assert.equal((await ix.jobs.get(job!))?.kind, 'remove');
    assert.equal(await ix.jobs.complete(job!, 'gw-1', { lazy: true }), true);
    assert.equal(await ix.jobs.get(job!), undefined);
  });

  withIndex('a record and an intent keep the backend-side name of a copy that is not at <bucket>/<key>', async (ix) => {
    await ix.put({ ...obj('vb', 'k', 'b1', 3), location: '.floodgate/w/vb/1f/k' });
    assert.equal((await ix.get('vb', 'k'))?.location, '.floodgate/w/vb/1f/k');
    assert.equal((await ix.scan('vb', { prefix: '', after: '', limit: 10 }))[0]?.location, '.floodgate/w/vb/1f/k');
    const prev = await ix.put(obj('vb', 'k', 'b1', 4));
    assert.equal(prev?.location, '.floodgate/w/vb/1f/k');
    assert.equal((await ix.get('vb', 'k'))?.location, undefined);
    const r = await ix.beginIntent({ owner: 'gw-1', bucket: 'vb', key: 'k', backend: 'b1', op: 'remove', location: '.floodgate/w/vb/1f/k' });
    const p = await ix.beginIntent({ owner: 'gw-1', bucket: 'vb', key: 'k', backend: 'b2', op: 'put' });
    assert.deepEqual((await ix.intents('gw-1')).map((i) => [i.id, i.op, i.location]), [[r, 'remove', '.floodgate/w/vb/1f/k'], [p, 'put', undefined]]);
  });

  withIndex('uploads: pinned backend, S3 listing order and markers, age sweep, parts', async (ix) => {
    const base = 1_700_000_000_000;
    const up = (id: string, key: string, t: number, bucket = 'vb') => ({
      uploadId: id, bucket, key, backend: 'b1', backendUploadId: `be-${id}`, initiated: new Date(base + t), headers: { contentType: 'x/y', userMeta: { m: '1' } },
    });
    await ix.putUpload({ ...up('u3', 'k/b', 3), checksumAlgorithm: 'crc32c', checksumType: 'FULL_OBJECT' });
    await ix.putUpload(up('u1', 'k/a', 5));
    await ix.putUpload(up('u2', 'k/a', 1));
    await ix.putUpload(up('u4', 'x', 0));
    await ix.putUpload(up('u5', 'k/a', 0, 'vb2'));
    assert.deepEqual(await ix.getUpload('u3'), { ...up('u3', 'k/b', 3), checksumAlgorithm: 'crc32c', checksumType: 'FULL_OBJECT' });
    assert.equal((await ix.getUpload('u1'))?.checksumType, undefined);
    const ids = async (o: Partial<{ prefix: string; keyMarker: string; uploadIdMarker: string; limit: number }>) =>
      (await ix.listUploads('vb', { prefix: '', keyMarker: '', uploadIdMarker: '', limit: 100, ...o })).map((u) => u.uploadId);
    assert.deepEqual(await ids({}), ['u2', 'u1', 'u3', 'u4']);
    assert.deepEqual(await ids({ prefix: 'k/' }), ['u2', 'u1', 'u3']);
    assert.deepEqual(await ids({ keyMarker: 'k/a' }), ['u3', 'u4']);
    assert.deepEqual(await ids({ keyMarker: 'k/a', uploadIdMarker: 'u2' }), ['u1', 'u3', 'u4']);
    assert.deepEqual(await ids({ limit: 2 }), ['u2', 'u1']);
    assert.deepEqual((await ix.uploadsBefore(new Date(base + 3), 10)).map((u) => u.uploadId), ['u4', 'u5', 'u2']);
    const part = (n: number) => ({ uploadId: 'u1', partNumber: n, etag: `e${n}`, size: n * 10, lastModified: new Date(base + n), checksums: { crc32: `c${n}` } });
    await ix.putPart(part(2));
    await ix.putPart(part(1));
    await ix.putPart({ ...part(2), etag: 'e2-again' });
    assert.deepEqual(await ix.parts('u1', 0, 10), [part(1), { ...part(2), etag: 'e2-again' }]);
    assert.deepEqual((await ix.parts('u1', 1, 10)).map((p) => p.partNumber), [2]);
    await ix.deleteUpload('u1');
    assert.equal(await ix.getUpload('u1'), undefined);
    assert.deepEqual(await ix.parts('u1', 0, 10), []);
  });

  withIndex('concurrent writers of one key leave one record and exact counters', async (ix) => {
    const writes = Array.from({ length: 60 }, (_, i) => ix.put(obj('vb', 'hot', `b${i % 3}`, i + 1)));
    writes.push(...Array.from({ length: 20 }, (_, i) => ix.put(obj('vb', `cold-${i}`, `b${i % 3}`, 100))));
    await Promise.all(writes);
    await Promise.all([ix.delete('vb', 'cold-0'), ix.delete('vb', 'cold-1'), ix.delete('vb', 'cold-0')]);
    const hot = await ix.get('vb', 'hot');
    const u = await ix.usage();
    let bytes = 0, objects = 0;
    for (const v of u.values()) { bytes += v.bytes; objects += v.objects; }
    assert.equal(objects, 1 + 18);
    assert.equal(bytes, hot!.size + 18 * 100);
    const listed = await ix.scan('vb', { prefix: '', after: '', limit: 1000 });
    assert.equal(listed.length, 19);
    for (const [backend, v] of u) {
      const mine = listed.filter((o) => o.backend === backend);
      assert.deepEqual(v, { bytes: mine.reduce((s, o) => s + o.size, 0), objects: mine.length }, backend);
    }
  });

  withIndex('origin marks: tombstones, looked up by key list', async (ix) => {
    assert.equal(await ix.getOriginMark('vb', 'k'), undefined);
    await ix.setOriginMark('vb', 'k', 'deleted');
    await ix.setOriginMark('vb', 'k', 'deleted');
    assert.equal((await ix.getOriginMark('vb', 'k'))?.kind, 'deleted');
    for (const k of ['b/2', 'a', 'b/1']) await ix.setOriginMark('vb', k, 'deleted');
    await ix.setOriginMark('other', 'b/1', 'deleted');
    const many = Array.from({ length: 1200 }, (_, i) => `x/${i}`);
    assert.deepEqual((await ix.originMarksOf('vb', [...many, 'a', 'b/1', 'nope'])).map((m) => `${m.key}:${m.kind}`).sort(), ['a:deleted', 'b/1:deleted']);
    assert.deepEqual(await ix.originMarksOf('vb', []), []);
  });
}

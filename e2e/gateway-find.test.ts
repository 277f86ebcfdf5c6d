// Metadata search through a real `floodgate gateway` process: a virtual bucket over two buckets on
// a real MinIO server, objects written with @aws-sdk/client-s3 (content types, x-amz-meta-*,
// sizes), then GET /_floodgate/admin/find over HTTP — the bearer token refused when missing or
// wrong, every bad parameter a 400 naming it, the filters against what was written, pages joined
// by continuation tokens — and `floodgate gateway find` as a real process.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startMinio, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store, type S3Store } from '../proxy/backends/s3/store.ts';
import type { FoundView } from '../proxy/admin/find-route.ts';
import { runFind } from '../proxy/admin/find-cli.ts';
import { findRoute } from '../proxy/admin/find-route.ts';
import { newCredentials, ROOT, spawnGateway, tempDir, type SpawnedGateway } from './lib/gateway.ts';

const execFileP = promisify(execFile);
const creds = newCredentials();
const TOKEN = randomBytes(18).toString('hex');
const VB = 'photos';
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

interface Written { key: string; size: number; contentType: string; meta: Record<string, string> }
const TYPES = ['image/png', 'image/jpeg', 'text/plain', 'application/json'];
// ASCII only: the JS SDK cannot sign non-ASCII metadata (README, S3 API); the index tests cover UTF-8 values.
const TEAMS = ['red', 'blue', 'green'];
const written: Written[] = Array.from({ length: 36 }, (_, i) => ({
  key: `${['img/', 'docs/', 'img/thumbs/'][i % 3]}${String(i).padStart(2, '0')}-${i % 5 ? 'x' : 'é'}`,
  size: (i * 977) % 20_000,
  contentType: TYPES[i % TYPES.length]!,
  meta: i % 4 === 3 ? {} : { team: TEAMS[i % 3]!, ...(i % 2 ? { env: 'prod' } : {}) },
}));

let minio: Minio;
let direct: S3Store;
let dir: string;
let gw: SpawnedGateway;
let tokenFile: string;

before(async () => {
  minio = await startMinio();
  direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  for (const b of ['find-a', 'find-b']) await direct.createBucket(b);
  dir = tempDir('floodgate-find-');
  tokenFile = join(dir, 'admin-token');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const s3b = (name: string, bucket: string) => ({ name, endpoint: minio.endpoint, bucket, credentials: { ...minio.credentials } });
  mkdirSync(join(dir, 'data'));
  const config = join(dir, 'gateway.yaml');
  writeFileSync(config, stringify({
    backends: [s3b('a', 'find-a'), s3b('b', 'find-b')],
    virtualBuckets: [{ name: VB, backends: ['a', 'b'], strategy: 'round-robin' }, { name: 'empty', backends: ['a'] }],
    // The token from the file's admin.tokenFile; the CLI reads the same file.
    admin: { tokenFile },
  }));
  // A loaded CI machine can take long to start a process that loads every gateway module.
  gw = await spawnGateway(join(dir, 'data'), creds, ['--config', config], 90_000);
  const s3 = new S3Client({ endpoint: gw.url, region: 'us-east-1', forcePathStyle: true, credentials: { ...creds } });
  try {
    for (const w of written) {
      await s3.send(new PutObjectCommand({ Bucket: VB, Key: w.key, Body: randomBytes(w.size), ContentType: w.contentType, Metadata: w.meta }));
    }
  } finally {
    s3.destroy();
  }
});

after(async () => {
  await gw?.stop();
  await direct?.close();
  await minio?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Page = { bucket: string; objects: FoundView[]; isTruncated: boolean; nextContinuationToken?: string };
/** `token` null: no Authorization header. */
async function find(query: string, token: string | null = TOKEN): Promise<{ status: number; body: Page & { error?: string } }> {
  const r = await fetch(`${gw.url}/_floodgate/admin/find?${query}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  assert.equal(r.headers.get('content-type'), 'application/json');
  return { status: r.status, body: await r.json() as Page & { error?: string } };
}
async function keys(query: string): Promise<string[]> {
  const r = await find(query);
  assert.equal(r.status, 200, r.body.error);
  assert.equal(r.body.isTruncated, false);
  return r.body.objects.map((o) => o.key);
}
const want = (f: (w: Written) => boolean) => written.filter(f).map((w) => w.key).sort(byteOrder);

describe('GET /_floodgate/admin/find', () => {
  test('the bearer token is required and checked before anything else', async () => {
    for (const token of [null, 'wrong-token-123', `${TOKEN}x`]) {
      for (const q of [`bucket=${VB}`, 'minSize=nonsense', '']) {
        const r = await find(q, token);
        assert.equal(r.status, 401, `${token} ${q}`);
        assert.match(r.body.error!, /bearer token/);
        assert.equal(r.body.objects, undefined);
      }
    }
    const r = await fetch(`${gw.url}/_floodgate/admin/nothing-here`);
    assert.equal(r.status, 401);
  });

  test('bad parameters are 400s that name the parameter and what it takes', async () => {
    const cases: [string, RegExp][] = [
      ['', /^bucket: required/],
      [`bucket=${VB}&colour=red`, /^colour: unknown parameter; known: bucket, prefix/],
      [`bucket=${VB}&minSize=big`, /^minSize: expected a size like 500Mi/],
      [`bucket=${VB}&maxSize=-1`, /^maxSize: expected a size/],
      [`bucket=${VB}&minSize=2Mi&maxSize=1Mi`, /^minSize: 2097152 is above maxSize 1048576/],
      [`bucket=${VB}&modifiedSince=yesterday`, /^modifiedSince: expected an ISO 8601 date/],
      [`bucket=${VB}&modifiedBefore=2026-01-31T12:00:00`, /^modifiedBefore: expected an ISO 8601 date or time with a zone/],
      [`bucket=${VB}&modifiedSince=2026-02-01&modifiedBefore=2026-01-01`, /^modifiedSince: .* is not before modifiedBefore/],
      [`bucket=${VB}&contentType=png`, /^contentType: expected type\/subtype or type\/\*/],
      [`bucket=${VB}&contentType=*/*`, /^contentType: expected/],
      [`bucket=${VB}&meta==red`, /^meta: expected name=value or name/],
      [`bucket=${VB}&minReplicas=two`, /^minReplicas: expected a whole number/],
      [`bucket=${VB}&minReplicas=3&maxReplicas=1`, /^minReplicas: 3 is above maxReplicas 1/],
      [`bucket=${VB}&limit=0`, /^limit: expected 1\.\.1000, got 0/],
      [`bucket=${VB}&limit=1001`, /^limit: expected 1\.\.1000/],
      [`bucket=${VB}&prefix=a&prefix=b`, /^prefix: given more than once/],
      [`bucket=${VB}&continuationToken=not-a-token`, /^continuationToken: not a token this API issued/],
    ];
    for (const [q, re] of cases) {
      const r = await find(q);
      assert.equal(r.status, 400, q);
      assert.match(r.body.error!, re, q);
    }
    const nb = await find('bucket=nope');
    assert.equal(nb.status, 404);
    assert.match(nb.body.error!, /no virtual bucket "nope"/);
    const post = await fetch(`${gw.url}/_floodgate/admin/find?bucket=${VB}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(post.status, 405);
    const other = await fetch(`${gw.url}/_floodgate/admin/nothing-here`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(other.status, 404);
    assert.match(((await other.json()) as { error: string }).error, /routes: GET \/_floodgate\/admin\/find/);
  });

  test('each filter selects what was written to match it', async () => {
    assert.equal(written.length, (await keys(`bucket=${VB}`)).length);
    assert.deepEqual(await keys(`bucket=${VB}`), want(() => true));
    assert.deepEqual(await keys('bucket=empty'), []);
    assert.deepEqual(await keys(`bucket=${VB}&prefix=img/`), want((w) => w.key.startsWith('img/')));
    assert.deepEqual(await keys(`bucket=${VB}&minSize=10000`), want((w) => w.size >= 10_000));
    assert.deepEqual(await keys(`bucket=${VB}&minSize=1Ki&maxSize=8Ki`), want((w) => w.size >= 1024 && w.size <= 8192));
    assert.deepEqual(await keys(`bucket=${VB}&contentType=image/*`), want((w) => w.contentType.startsWith('image/')));
    assert.deepEqual(await keys(`bucket=${VB}&contentType=${encodeURIComponent('text/plain')}`), want((w) => w.contentType === 'text/plain'));
    assert.deepEqual(await keys(`bucket=${VB}&meta=team=red`), want((w) => w.meta.team === 'red'));
    // Header names are case-insensitive and stored lower-cased; the header prefix may be given.
    assert.deepEqual(await keys(`bucket=${VB}&meta=${encodeURIComponent('X-Amz-Meta-Team=green')}`), want((w) => w.meta.team === 'green'));
    assert.deepEqual(await keys(`bucket=${VB}&meta=env&meta=team=blue`), want((w) => w.meta.env !== undefined && w.meta.team === 'blue'));
    assert.deepEqual(await keys(`bucket=${VB}&maxReplicas=1`), want(() => true));
    assert.deepEqual(await keys(`bucket=${VB}&minReplicas=2`), []);
    assert.deepEqual(await keys(`bucket=${VB}&prefix=docs/&contentType=image/*&meta=team`), want((w) => w.key.startsWith('docs/') && w.contentType.startsWith('image/') && 'team' in w.meta));
  });

  test('what is reported is what the backends hold: the backend filter, sizes, types, metadata, dates', async () => {
    const all = (await find(`bucket=${VB}`)).body.objects;
    const onA = await keys(`bucket=${VB}&backend=a`);
    const onB = await keys(`bucket=${VB}&backend=b`);
    assert.ok(onA.length > 0 && onB.length > 0, 'round-robin used both backends');
    assert.deepEqual([...onA, ...onB].sort(byteOrder), want(() => true));
    for (const [backend, bucket, ks] of [['a', 'find-a', onA], ['b', 'find-b', onB]] as const) {
      for (const key of ks) {
        const got = await direct.getObject(bucket, `${VB}/${key}`, { head: true });
        const w = written.find((x) => x.key === key)!;
        const f = all.find((o) => o.key === key)!;
        assert.equal(f.backend, backend);
        assert.equal(got.meta.size, w.size);
        assert.deepEqual([f.size, f.contentType, f.userMeta, f.etag, f.replicas], [w.size, w.contentType, w.meta, got.meta.etag, 1]);
      }
    }
    // Last-Modified windows are half-open: since ≤ t < before.
    const times = [...new Set(all.map((o) => o.lastModified))].sort();
    const mid = times[Math.floor(times.length / 2)]!;
    const since = await keys(`bucket=${VB}&modifiedSince=${encodeURIComponent(mid)}`);
    const before = await keys(`bucket=${VB}&modifiedBefore=${encodeURIComponent(mid)}`);
    assert.deepEqual(since, all.filter((o) => o.lastModified >= mid).map((o) => o.key));
    assert.deepEqual([...since, ...before].sort(byteOrder), want(() => true));
    assert.deepEqual(await keys(`bucket=${VB}&modifiedSince=2000-01-01&modifiedBefore=2000-01-02`), []);
  });

  test('pages of `limit` joined by continuation tokens give every match once; a token is bound to its query', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    for (let pages = 0; pages < 20; pages++) {
      const r = await find(`bucket=${VB}&meta=team&limit=4${token ? `&continuationToken=${token}` : ''}`);
      assert.equal(r.status, 200, r.body.error);
      assert.ok(r.body.objects.length <= 4);
      seen.push(...r.body.objects.map((o) => o.key));
      if (!r.body.isTruncated) break;
      token = r.body.nextContinuationToken;
    }
    assert.deepEqual(seen, want((w) => 'team' in w.meta));
    const first = await find(`bucket=${VB}&limit=3`);
    const t = first.body.nextContinuationToken!;
    const next = await find(`bucket=${VB}&limit=50&continuationToken=${t}`);
    assert.deepEqual(next.body.objects.map((o) => o.key), want(() => true).slice(3));
    const other = await find(`bucket=${VB}&prefix=img/&continuationToken=${t}`);
    assert.equal(other.status, 400);
    assert.match(other.body.error!, /^continuationToken: issued for a different query/);
  });
});

describe('floodgate gateway find', () => {
  const cli = async (args: string[], env: Record<string, string> = {}) => {
    try {
      const r = await execFileP(process.execPath, [join(ROOT, 'main.ts'), 'gateway', 'find', ...args], { env: { ...process.env, ...env }, timeout: 60_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code: number; stdout: string; stderr: string };
      return { code: x.code, stdout: x.stdout, stderr: x.stderr };
    }
  };

  test('prints every match, one line each, following pages', async () => {
    const r = await cli(['--endpoint', gw.url, '--admin-token-file', tokenFile, '--bucket', VB, '--content-type', 'image/*', '--page-size', '5']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    const expect = want((w) => w.contentType.startsWith('image/'));
    assert.deepEqual(lines.map((l) => l.split(/\s+/).slice(3).join(' ')), expect);
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT[\d:.]+Z +\d+ {2}[ab] {2}\S/);
  });

  test('--json and --limit stop with the token to resume; the token resumes', async () => {
    const env = { FLOODGATE_ADMIN_TOKEN: TOKEN, FLOODGATE_ENDPOINT: gw.url };
    const first = await cli(['--bucket', VB, '--meta', 'env=prod', '--min-size', '1', '--json', '--limit', '3'], env);
    assert.equal(first.code, 0, first.stderr);
    const expect = written.filter((w) => w.meta.env === 'prod' && w.size >= 1).map((w) => w.key).sort(byteOrder);
    const got = first.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as FoundView);
    assert.deepEqual(got.map((o) => o.key), expect.slice(0, 3));
    assert.equal(got[0]!.userMeta.env, 'prod');
    const m = /--continuation-token (\S+)/.exec(first.stderr);
    assert.ok(m, first.stderr);
    const rest = await cli(['--bucket', VB, '--meta', 'env=prod', '--min-size', '1', '--json', '--continuation-token', m[1]!], env);
    assert.equal(rest.code, 0, rest.stderr);
    assert.deepEqual(rest.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as FoundView).key), expect.slice(3));
  });

  test('usage errors exit 2 naming the flag (also when the gateway finds the filter bad); a refused token or an unknown bucket exits 1', async () => {
    const base = ['--endpoint', gw.url, '--admin-token-file', tokenFile];
    const usage: [string[], RegExp][] = [
      [[...base], /--bucket is required/],
      [[...base, '--bucket', VB, '--colour', 'red'], /Unknown option '--colour'/],
      [[...base, '--bucket', VB, '--min-size', 'big'], /--min-size: expected a size like 500Mi/],
      [[...base, '--bucket', VB, '--modified-since', 'yesterday'], /--modified-since: expected an ISO 8601 date/],
      [[...base, '--bucket', VB, '--limit', '0'], /--limit: expected a whole number/],
      [[...base, '--bucket', VB, '--continuation-token', 'junk'], /--continuation-token: not a token this API issued/],
      [['--endpoint', gw.url, '--bucket', VB], /needs the admin token/],
      [['--endpoint', 'not a url', '--admin-token', TOKEN, '--bucket', VB], /--endpoint: not a URL/],
    ];
    // In this process (each start of a process costs seconds on a loaded machine); the real
    // process is below and in the tests above.
    for (const [args, re] of usage) {
      let stderr = '';
      const code = await runFind(args, {}, { stdout: () => {}, stderr: (t) => { stderr += t; } });
      assert.equal(code, 2, `${args.join(' ')}: ${stderr}`);
      assert.match(stderr, re);
    }
    const bad = await cli([...base, '--bucket', VB, '--max-size', '5parsecs']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--max-size: expected a size/);
    const wrong = await cli(['--endpoint', gw.url, '--admin-token', 'not-the-token', '--bucket', VB]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /401: missing or wrong bearer token/);
    let stderr = '';
    assert.equal(await runFind([...base, '--bucket', 'nope'], {}, { stdout: () => {}, stderr: (t) => { stderr += t; } }), 1);
    assert.match(stderr, /404: bucket: no virtual bucket "nope"/);
  });
});

test('on the embedded store find says it needs virtual buckets; without a token nothing is mounted', async () => {
  // The route itself, as a gateway on the embedded store mounts it (no virtual store to search).
  await assert.rejects(findRoute(undefined).handle({} as never, new URLSearchParams('bucket=x')), (e: Error & { status?: number }) => e.status === 501 && /virtual buckets/.test(e.message));
  const none = await spawnGateway(join(dir, 'none'), newCredentials(), [], 90_000);
  try {
    // Just an S3 path then: anonymous, so AccessDenied in S3 XML.
    const r = await fetch(`${none.url}/_floodgate/admin/find?bucket=x`);
    assert.equal(r.status, 403);
    assert.match(await r.text(), /<Code>AccessDenied<\/Code>/);
    let stderr = '';
    const code = await runFind(['--endpoint', none.url, '--admin-token', TOKEN, '--bucket', 'x'], {}, { stdout: () => {}, stderr: (t) => { stderr += t; } });
    assert.equal(code, 1);
    assert.match(stderr, /answered 400 without the admin API's JSON: is the gateway started with --admin-token\?/);
  } finally {
    await none.stop();
  }
});

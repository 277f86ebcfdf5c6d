// Writers of one key through a balancing gateway over real MinIO: a PUT whose body trickles (held
// open by the client) does not hold up a second PUT of the same key; both bodies are stored
// whole, the one committed last is the object, and no other copy is left on the backends.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startMinio, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store, type S3Store } from '../proxy/backends/s3/store.ts';
import { openVirtualStore, parseBalancingConfig, type VirtualStore } from '../proxy/virtual/index.ts';
import { startTestGateway, tempDir, type TestGateway } from './lib/gateway.ts';
import { objectPath, rawRequest } from './lib/raw-s3.ts';
import { bytes } from './lib/s3.ts';

let minio: Minio;
let direct: S3Store;
let dir: string;
let gw: TestGateway;
let store: VirtualStore;
const REPLICA = 'writers';

before(async () => {
  minio = await startMinio();
  direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  for (const b of ['writers-a', 'writers-b']) await direct.createBucket(b);
  dir = tempDir('floodgate-writers-');
  store = await openVirtualStore(parseBalancingConfig({
    backends: [
      { name: 'a', endpoint: minio.endpoint, bucket: 'writers-a', credentials: minio.credentials },
      { name: 'b', endpoint: minio.endpoint, bucket: 'writers-b', credentials: minio.credentials },
    ],
    virtualBuckets: [{ name: 'same', backends: ['a'] }, { name: 'spread', backends: ['a', 'b'], strategy: 'round-robin' }],
    index: { kind: 'sqlite', path: join(dir, 'index.db') },
    replica: REPLICA,
  }));
  gw = await startTestGateway({ store, idleTimeoutMs: 120_000 });
});

after(async () => {
  await gw?.close();
  await direct?.close();
  await minio?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Every backend object that belongs to `key` of virtual bucket `vb`, wherever the gateway named it. */
async function copiesOf(vb: string, key: string): Promise<string[]> {
  const out: string[] = [];
  for (const b of ['writers-a', 'writers-b']) {
    for (const o of await direct.scan(b, { prefix: '', after: '', limit: 1000 })) {
      if (o.key === `${vb}/${key}` || (o.key.startsWith(`.floodgate/w/${vb}/`) && o.key.endsWith(`/${key}`))) out.push(`${b}:${o.key}`);
    }
  }
  return out;
}

for (const vb of ['same', 'spread']) {
  test(`${vb}: a trickling PUT does not hold up a second PUT of the key; the last commit wins and one copy is left`, { timeout: 60_000 }, async () => {
    const c = gw.client();
    await c.send(new PutObjectCommand({ Bucket: vb, Key: 'k', Body: 'old' }));
    const slowBody = Buffer.alloc(300_000, 's');
    const body = new PassThrough();
    body.write(slowBody.subarray(0, 4096));
    let slowAnswered = false;
    const slow = rawRequest(gw.url, {
      method: 'PUT', path: objectPath(vb, 'k'), headers: { 'content-length': String(slowBody.length) }, body, creds: gw.creds,
    }).finally(() => { slowAnswered = true; });
    // Its write intent in the index: the slow body is streaming to a backend now.
    for (let i = 0; !(await store.index.intents(REPLICA)).some((x) => x.key === 'k' && x.op === 'put') && i < 600; i++) await new Promise((res) => setTimeout(res, 50));
    assert.ok((await store.index.intents(REPLICA)).some((x) => x.key === 'k' && x.op === 'put'), 'the trickling PUT reached the store');
    // The second writer is answered while the first one's body is still open.
    const fast = await c.send(new PutObjectCommand({ Bucket: vb, Key: 'k', Body: 'fast' }));
    assert.equal(slowAnswered, false, 'the second PUT was answered while the first still streamed');
    assert.equal(fast.ETag, `"${createHash('md5').update('fast').digest('hex')}"`);
    assert.equal((await bytes((await c.send(new GetObjectCommand({ Bucket: vb, Key: 'k' }))).Body)).toString(), 'fast');
    body.end(slowBody.subarray(4096));
    const r = await slow;
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.headers.etag, `"${createHash('md5').update(slowBody).digest('hex')}"`);
    // The trickling PUT committed last: it is the object, whole.
    assert.ok((await bytes((await c.send(new GetObjectCommand({ Bucket: vb, Key: 'k' }))).Body)).equals(slowBody));
    for (let i = 0; (await copiesOf(vb, 'k')).length !== 1 && i < 200; i++) await new Promise((res) => setTimeout(res, 50));
    assert.equal((await copiesOf(vb, 'k')).length, 1, `one copy left: ${(await copiesOf(vb, 'k')).join(', ')}`);
  });
}

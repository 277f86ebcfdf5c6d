// The client matrix: rclone, MinIO's mc, an aws-sdk-go-v2 program (e2e/go) and s3cmd, each against
// the balancing gateway over two real MinIO servers and against the gateway on its embedded
// store: mb, put of 1 KiB and 100 MiB (multipart), ls, sync of 200 files up / again / down, get,
// rm, rm recursive, rb — with keys containing quotes, spaces, unicode and `+` — and bytes
// compared. rclone also purges (it asks GetBucketVersioning first). Go clients write `&#34;` and
// `&#39;` in XML bodies (CompleteMultipartUpload, DeleteObjects of keys with quotes), which is why
// the keys have quotes in them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { startMinio, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store } from '../proxy/backends/s3/store.ts';
import { openVirtualStore, parseBalancingConfig, type VirtualStore } from '../proxy/virtual/index.ts';
import { startFront } from '../proxy/front.ts';
import { createLogger } from '../proxy/observability/log.ts';
import { newCredentials, startTestGateway, tempDir, type TestGateway } from './lib/gateway.ts';
import { mc, missing, rclone, s3cmd, s3go, type Endpoint, type S3Cli } from './lib/clients.ts';
import { MiB } from './lib/s3.ts';

const ODD = `it's "quoted" a+b c ü 文件`;
const SMALL_KEY = `odd/${ODD}.txt`;
const BIG_KEY = `big/${ODD}.bin`;

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

let root: string;
let bigFile: string;
let bigSha: string;
const small = randomBytes(1024);
/** 200 files: nested, a few with the odd characters in their names. */
const TREE = new Map<string, Buffer>();
for (let i = 0; i < 200; i++) {
  const name = i % 25 === 0 ? `d${i % 7}/${ODD} ${i}.dat` : `d${i % 7}/f${i}.dat`;
  TREE.set(name, randomBytes(100 + ((i * 37) % 3000)));
}

function writeTree(dir: string): void {
  for (const [rel, data] of TREE) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), data);
  }
}

function readTree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const f of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (f.isFile()) out.set(join(f.parentPath, f.name).slice(dir.length + 1), readFileSync(join(f.parentPath, f.name)));
  }
  return out;
}

before(async () => {
  root = tempDir('floodgate-clients-');
  bigFile = join(root, 'big.bin');
  const fd = openSync(bigFile, 'w');
  const h = createHash('sha256');
  for (let i = 0; i < 100; i++) { const b = randomBytes(MiB); h.update(b); writeSync(fd, b); }
  closeSync(fd);
  bigSha = h.digest('hex');
  writeFileSync(join(root, 'small.txt'), small);
  writeTree(join(root, 'tree'));
});
after(() => rmSync(root, { recursive: true, force: true }));

type Make = (ep: Endpoint, dir: string) => S3Cli;
const CLIENTS: [string, Make][] = [['rclone', rclone], ['mc', mc], ['s3go', s3go], ['s3cmd', s3cmd]];

/**
 * The matrix for one gateway. `virtual`: buckets are defined in the gateway's configuration, so
 * mb finds the bucket already owned and rb is refused with AccessDenied — which the gateway says
 * only after checking the bucket is empty (BucketNotEmpty otherwise), so it still proves rm worked.
 */
function matrix(label: string, start: () => Promise<{ ep: Endpoint; close(): Promise<void> }>, virtual: boolean): void {
  describe(`S3 clients against ${label}`, () => {
    let gw: { ep: Endpoint; close(): Promise<void> };
    before(async () => { gw = await start(); });
    after(() => gw?.close());

    for (const [name, make] of CLIENTS) {
      describe(name, { skip: missing(name as 'rclone') }, () => {
        const bucket = `${name}-b`;
        let cli: S3Cli;
        let dir: string;
        before(() => {
          dir = join(root, `${label.replace(/\W+/g, '-')}-${name}`);
          cli = make(gw.ep, join(dir, 'conf'));
        });

        test('mb, put of 1 KiB and 100 MiB (multipart), ls, get: bytes equal', async () => {
          await cli.mb(bucket);
          await cli.put(join(root, 'small.txt'), bucket, SMALL_KEY);
          await cli.put(bigFile, bucket, BIG_KEY);
          assert.deepEqual((await cli.ls(bucket)).sort(), [BIG_KEY, SMALL_KEY].sort());
          await cli.get(bucket, SMALL_KEY, join(dir, 'small.back'));
          assert.ok(readFileSync(join(dir, 'small.back')).equals(small));
          await cli.get(bucket, BIG_KEY, join(dir, 'big.back'));
          assert.equal(await sha256File(join(dir, 'big.back')), bigSha);
          rmSync(join(dir, 'big.back'));
        });

        test('sync of 200 files up, again (uploads nothing), down: bytes equal', async () => {
          assert.equal(await cli.syncUp(join(root, 'tree'), bucket, 'tree/'), TREE.size);
          const keys = (await cli.ls(bucket)).filter((k) => k.startsWith('tree/'));
          assert.deepEqual(keys.sort(), [...TREE.keys()].map((k) => `tree/${k}`).sort());
          assert.equal(await cli.syncUp(join(root, 'tree'), bucket, 'tree/'), 0, 'a second sync uploads nothing');
          await cli.syncDown(bucket, 'tree/', join(dir, 'down'));
          const down = readTree(join(dir, 'down'));
          assert.deepEqual([...down.keys()].sort(), [...TREE.keys()].sort());
          for (const [k, v] of TREE) assert.ok(down.get(k)!.equals(v), k);
        });

        test('rm, rm recursive, rb', async () => {
          await cli.rm(bucket, SMALL_KEY);
          assert.deepEqual((await cli.ls(bucket)).filter((k) => !k.startsWith('tree/')), [BIG_KEY]);
          await cli.rmRecursive(bucket, 'tree/');
          assert.deepEqual(await cli.ls(bucket), [BIG_KEY]);
          await cli.rm(bucket, BIG_KEY);
          assert.deepEqual(await cli.ls(bucket), []);
          if (virtual) await assert.rejects(cli.rb(bucket), /AccessDenied|Access Denied/);
          else await cli.rb(bucket);
        });

        if (name === 'rclone') {
          test('purge removes everything under a path (GetBucketVersioning answers an empty configuration)', async () => {
            const rc = cli as ReturnType<typeof rclone>;
            const b = `${name}-purge`;
            await rc.mb(b);
            await rc.syncUp(join(root, 'tree'), b, 'p/');
            await rc.purge(`${b}/p`);
            assert.deepEqual(await rc.ls(b), []);
            if (!virtual) {
              await rc.put(join(root, 'small.txt'), b, SMALL_KEY);
              await rc.purge(b);
            }
          });
        }
      });
    }
  });
}

const VIRTUAL_BUCKETS = ['rclone-b', 'mc-b', 's3go-b', 's3cmd-b', 'rclone-purge'];

matrix('the balancing gateway over two MinIO servers', async () => {
  const minios: Minio[] = await Promise.all([0, 1].map(() => startMinio()));
  const backendBucket = 'fg-clients';
  for (const m of minios) {
    const d = openS3Store({ name: 'setup', endpoint: m.endpoint, region: 'us-east-1', credentials: m.credentials, pathStyle: true });
    await d.createBucket(backendBucket);
    await d.close();
  }
  const creds = newCredentials();
  const store: VirtualStore = await openVirtualStore(parseBalancingConfig({
    backends: minios.map((m, i) => ({ name: `minio-${i}`, endpoint: m.endpoint, bucket: backendBucket, credentials: m.credentials })),
    virtualBuckets: VIRTUAL_BUCKETS.map((name) => ({ name, backends: minios.map((_, i) => `minio-${i}`), strategy: 'round-robin' })),
    index: { kind: 'sqlite', path: join(root, 'clients-index.db') },
  }));
  const front = await startFront({
    store, virtual: store, keys: (id) => (id === creds.accessKeyId ? creds.secretAccessKey : undefined),
    host: '127.0.0.1', port: 0, domains: ['localhost'], region: 'us-east-1', idleTimeoutMs: 30_000, logger: createLogger('warn', () => {}),
  });
  return {
    ep: { url: front.url, creds },
    async close() { await front.close(); await store.close(); for (const m of minios) await m.close(); },
  };
}, true);

matrix('the gateway on its embedded store', async () => {
  const gw: TestGateway = await startTestGateway({ idleTimeoutMs: 30_000 });
  return { ep: { url: gw.url, creds: gw.creds }, close: () => gw.close() };
}, false);

// Real S3 clients against a virtual bucket spread over three real MinIO servers, through the
// gateway's S3 front: the JS SDK (default integrity settings, lib-storage multipart, presigned
// URLs), boto3 and the AWS CLI; a backend killed and restarted under SDK traffic; and the
// gateway process itself killed with SIGKILL under load, after which index and backends agree.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import {
  CopyObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand,
  S3Client, ListMultipartUploadsCommand, CreateMultipartUploadCommand, AbortMultipartUploadCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startMinios, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import type { S3Store } from '../proxy/backends/s3/store.ts';
import { openVirtualStore, openVirtualStoreFromFile, parseBalancingConfig, type VirtualStore } from '../proxy/virtual/index.ts';
import { OWN_NAMES, keyOfOwnName } from '../proxy/virtual/location.ts';
import { startFront } from '../proxy/front.ts';
import { createLogger } from '../proxy/observability/log.ts';
import { VENV_BIN as venv, noPython } from './lib/python.ts';
import { MiB, bytes, s3Error } from './lib/s3.ts';

const ROOT = resolve(import.meta.dirname, '..');
const run = promisify(execFile);
const creds = { accessKeyId: 'AKVIRTUAL' + randomBytes(4).toString('hex').toUpperCase(), secretAccessKey: randomBytes(24).toString('base64url') };
const BUCKET = 'fg-backend';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

let minios: Minio[] = [];
let direct: S3Store[] = [];
let dir: string;

before(async () => {
  ({ minios, direct } = await startMinios(3));
  for (const d of direct) await d.createBucket(BUCKET);
  dir = mkdtempSync(join(tmpdir(), 'floodgate-vclients-'));
});

after(async () => {
  for (const d of direct) await d.close();
  for (const m of minios) await m.close();
  rmSync(dir, { recursive: true, force: true });
});

function rawConfig(vb: string, extra: object = {}) {
  return {
    backends: minios.map((m, i) => ({ name: `minio-${i}`, endpoint: m.endpoint, bucket: BUCKET, credentials: m.credentials })),
    virtualBuckets: [{ name: vb, backends: minios.map((_, i) => `minio-${i}`), strategy: 'round-robin' }],
    health: { interval: '200ms', recoveryInterval: '100ms', failureThreshold: 2, recoveryThreshold: 2, probeTimeout: '1s' },
    timeouts: { connect: '1s', firstByte: '10s', idle: '10s' },
    ...extra,
  };
}

interface VirtualGateway {
  url: string;
  store: VirtualStore;
  close(): Promise<void>;
}

/** The gateway's real front over a virtual store, in this process (the CLI wires the same). */
async function gatewayFor(vb: string): Promise<VirtualGateway> {
  const store = await openVirtualStore(parseBalancingConfig({ ...rawConfig(vb), index: { kind: 'sqlite', path: join(dir, `${vb}.db`) } }));
  const gateway = await startFront({
    store, virtual: store, keys: (id) => (id === creds.accessKeyId ? creds.secretAccessKey : undefined),
    host: '127.0.0.1', port: 0, domains: ['localhost'], region: 'us-east-1', idleTimeoutMs: 10_000, logger: createLogger('warn', () => {}),
  });
  return { url: gateway.url, store, async close() { await gateway.close(); await store.close(); } };
}

const client = (url: string) => new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 4 });

/** Objects of a virtual bucket on each backend, read directly from MinIO. */
async function spread(vb: string): Promise<number[]> {
  return Promise.all(direct.map(async (d) => (await d.scan(BUCKET, { prefix: `${vb}/`, after: '', limit: 100_000 })).length));
}

describe('S3 clients against a virtual bucket over three MinIO backends', () => {
  let gw: VirtualGateway;
  let s3: S3Client;
  const vb = 'clients';
  before(async () => {
    gw = await gatewayFor(vb);
    s3 = client(gw.url);
  });
  after(async () => {
    s3.destroy();
    await gw.close();
  });

  test('JS SDK: put (default checksums), get, head, range, conditional, copy, list with pagination, delete', async () => {
    const body = randomBytes(300_000);
    const put = await s3.send(new PutObjectCommand({ Bucket: vb, Key: 'sdk/a.bin', Body: body, ContentType: 'application/x-a', Metadata: { origin: 'sdk' } }));
    assert.equal(put.ETag, `"${md5(body)}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: vb, Key: 'sdk/a.bin', ChecksumMode: 'ENABLED' }));
    assert.ok((await bytes(got.Body)).equals(body));
    assert.equal(got.ContentType, 'application/x-a');
    assert.deepEqual(got.Metadata, { origin: 'sdk' });
    const head = await s3.send(new HeadObjectCommand({ Bucket: vb, Key: 'sdk/a.bin' }));
    assert.equal(head.ContentLength, body.length);
    const ranged = await s3.send(new GetObjectCommand({ Bucket: vb, Key: 'sdk/a.bin', Range: 'bytes=100-199' }));
    assert.ok((await bytes(ranged.Body)).equals(body.subarray(100, 200)));
    assert.equal((await s3Error(s3.send(new GetObjectCommand({ Bucket: vb, Key: 'sdk/a.bin', IfNoneMatch: put.ETag })))).$metadata.httpStatusCode, 304);
    await s3.send(new CopyObjectCommand({ Bucket: vb, Key: 'sdk/copy.bin', CopySource: `${vb}/sdk/a.bin` }));
    assert.ok((await bytes((await s3.send(new GetObjectCommand({ Bucket: vb, Key: 'sdk/copy.bin' }))).Body)).equals(body));
    for (const k of ['list/a', 'list/b/1', 'list/b/2', 'list/c', 'list/d/1', 'list/e']) await s3.send(new PutObjectCommand({ Bucket: vb, Key: k, Body: k }));
    const pages: string[][] = [];
    let token: string | undefined;
    do {
      const r = await s3.send(new ListObjectsV2Command({ Bucket: vb, Prefix: 'list/', Delimiter: '/', MaxKeys: 2, ContinuationToken: token }));
      pages.push([...(r.Contents ?? []).map((c) => c.Key!), ...(r.CommonPrefixes ?? []).map((p) => p.Prefix!)]);
      token = r.NextContinuationToken;
    } while (token);
    assert.deepEqual(pages.flat().sort(), ['list/a', 'list/b/', 'list/c', 'list/d/', 'list/e']);
    const del = await s3.send(new DeleteObjectsCommand({ Bucket: vb, Delete: { Objects: [{ Key: 'list/a' }, { Key: 'list/b/1' }, { Key: 'never' }] } }));
    assert.equal(del.Deleted?.length, 3);
    assert.equal((await s3Error(s3.send(new GetObjectCommand({ Bucket: vb, Key: 'list/a' })))).name, 'NoSuchKey');
    const counts = await spread(vb);
    assert.ok(counts.every((c) => c >= 1), `objects on every backend: ${counts}`);
  });

  test('JS SDK: lib-storage multipart upload lands whole on one backend; presigned GET; uploads listed and aborted', async () => {
    const body = randomBytes(12 * MiB + 3);
    await new Upload({ client: s3, params: { Bucket: vb, Key: 'mp/big.bin', Body: body }, partSize: 5 * MiB, queueSize: 3 }).done();
    const got = await s3.send(new GetObjectCommand({ Bucket: vb, Key: 'mp/big.bin' }));
    assert.ok((await bytes(got.Body)).equals(body));
    const holders = (await Promise.all(direct.map((d) => d.scan(BUCKET, { prefix: `${vb}/mp/`, after: '', limit: 10 })))).map((l) => l.length);
    assert.equal(holders.reduce((a, b) => a + b), 1);
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: vb, Key: 'mp/big.bin' }), { expiresIn: 300 });
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(md5(Buffer.from(await res.arrayBuffer())), md5(body));
    const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: vb, Key: 'mp/pending' }));
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: vb }));
    assert.deepEqual(listed.Uploads?.map((u) => u.UploadId), [up.UploadId]);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: vb, Key: 'mp/pending', UploadId: up.UploadId }));
    assert.equal((await s3.send(new ListMultipartUploadsCommand({ Bucket: vb }))).Uploads?.length ?? 0, 0);
  });

  test('boto3: put, get, paginated list, managed multipart upload, delete', { skip: noPython }, async () => {
    const script = join(dir, 'suite.py');
    writeFileSync(script, `
import boto3, sys, json
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
endpoint, ak, sk, bucket, tmp = sys.argv[1:6]
s3 = boto3.client('s3', endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk, region_name='us-east-1',
                  config=Config(s3={'addressing_style': 'path'}, retries={'mode': 'standard', 'max_attempts': 4}))
body = bytes(range(256)) * 4096
for i in range(5):
    s3.put_object(Bucket=bucket, Key='py/%d' % i, Body=body, Metadata={'i': str(i)})
assert s3.get_object(Bucket=bucket, Key='py/3')['Body'].read() == body
keys = [o['Key'] for page in s3.get_paginator('list_objects_v2').paginate(Bucket=bucket, Prefix='py/', PaginationConfig={'PageSize': 2}) for o in page.get('Contents', [])]
with open(tmp + '/up.bin', 'wb') as f: f.write(b'x' * (11 * 1024 * 1024))
cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
s3.upload_file(tmp + '/up.bin', bucket, 'py/big.bin', Config=cfg)
s3.download_file(bucket, 'py/big.bin', tmp + '/down.bin', Config=cfg)
same = open(tmp + '/down.bin', 'rb').read() == open(tmp + '/up.bin', 'rb').read()
meta = s3.head_object(Bucket=bucket, Key='py/2')['Metadata']
s3.delete_objects(Bucket=bucket, Delete={'Objects': [{'Key': 'py/%d' % i} for i in range(5)]})
left = [o['Key'] for o in s3.list_objects_v2(Bucket=bucket, Prefix='py/').get('Contents', [])]
print(json.dumps({'keys': keys, 'same': same, 'meta': meta, 'left': left}))
`);
    const { stdout } = await run(join(venv, 'python'), [script, gw.url, creds.accessKeyId, creds.secretAccessKey, vb, dir], { timeout: 180_000 });
    const out = JSON.parse(stdout) as { keys: string[]; same: boolean; meta: Record<string, string>; left: string[] };
    assert.deepEqual(out.keys, ['py/0', 'py/1', 'py/2', 'py/3', 'py/4']);
    assert.equal(out.same, true);
    assert.deepEqual(out.meta, { i: '2' });
    assert.deepEqual(out.left, ['py/big.bin']);
  });

  test('AWS CLI: cp up (multipart) and down, ls, rm --recursive', { skip: noPython }, async () => {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey, AWS_DEFAULT_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' };
    const aws = (...args: string[]) => run(join(venv, 'aws'), ['--endpoint-url', gw.url, ...args], { env, timeout: 180_000 });
    const src = join(dir, 'cli-src.bin');
    const back = join(dir, 'cli-back.bin');
    const data = randomBytes(9 * MiB + 5);
    writeFileSync(src, data);
    await aws('s3', 'cp', src, `s3://${vb}/cli/big.bin`);
    await aws('s3', 'cp', src, `s3://${vb}/cli/again.bin`);
    await aws('s3', 'cp', `s3://${vb}/cli/big.bin`, back);
    assert.ok(readFileSync(back).equals(data));
    const { stdout } = await aws('s3', 'ls', `s3://${vb}/cli/`);
    assert.match(stdout, /big\.bin/);
    assert.match(stdout, /again\.bin/);
    await aws('s3', 'rm', '--recursive', `s3://${vb}/cli/`);
    assert.equal((await aws('s3', 'ls', `s3://${vb}/cli/`).catch((e: { stdout: string }) => e)).stdout, '');
    assert.deepEqual((await spread(vb)).length, 3);
    for (const d of direct) assert.deepEqual(await d.scan(BUCKET, { prefix: `${vb}/cli/`, after: '', limit: 10 }), []);
  });
});

describe('failover seen by the JS SDK', () => {
  test('a backend killed: SDK writes keep succeeding, its objects answer 503 ServiceUnavailable, and come back with it', async () => {
    const vb = 'failover-sdk';
    const gw = await gatewayFor(vb);
    const s3 = client(gw.url);
    try {
      const acked = new Map<string, string>();
      for (let i = 0; i < 9; i++) {
        const body = randomBytes(1000 + i);
        await s3.send(new PutObjectCommand({ Bucket: vb, Key: `k${i}`, Body: body }));
        acked.set(`k${i}`, md5(body));
      }
      // Round-robin: k1, k4, k7 are on minio-1.
      await minios[1]!.stop('SIGKILL');
      for (let i = 9; i < 39; i++) {
        const body = randomBytes(1000 + i);
        await s3.send(new PutObjectCommand({ Bucket: vb, Key: `k${i}`, Body: body }));
        acked.set(`k${i}`, md5(body));
      }
      const e = await s3Error(s3.send(new GetObjectCommand({ Bucket: vb, Key: 'k4' })));
      assert.equal(e.$metadata.httpStatusCode, 503);
      assert.equal(e.name, 'ServiceUnavailable');
      assert.match(e.message, /minio-1/);
      const status = await (await fetch(`${gw.url}/status`)).json() as { backends: { name: string; state: string }[] };
      assert.equal(status.backends.find((b) => b.name === 'minio-1')!.state, 'down');
      await minios[1]!.start();
      for (let t = 0; !gw.store.health.healthy('minio-1'); t++) {
        assert.ok(t < 300, 'minio-1 recovered');
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const [k, sum] of acked) assert.equal(md5(await bytes((await s3.send(new GetObjectCommand({ Bucket: vb, Key: k }))).Body)), sum, k);
      const metrics = await (await fetch(`${gw.url}/metrics`)).text();
      assert.match(metrics, /floodgate_backend_up\{backend="minio-1"\} 1/);
    } finally {
      s3.destroy();
      await gw.close();
    }
  });
});

describe('the gateway process killed with SIGKILL under load', () => {
  test('after a restart the index and the backends agree, and every acknowledged write is there', async () => {
    const vb = 'crash-sdk';
    const configPath = join(dir, 'crash-sdk.yaml');
    writeFileSync(configPath, stringify({ ...rawConfig(vb), replica: 'crash-sdk', index: { kind: 'sqlite', path: join(dir, 'crash-sdk.db') } }));
    const start = async (): Promise<{ url: string; proc: ChildProcess; exited: Promise<void> }> => {
      const proc = spawn(process.execPath, [join(ROOT, 'main.ts'), 'gateway', '--config', configPath, '--data-dir', dir, '--listen', '127.0.0.1:0'], {
        env: { ...process.env, FLOODGATE_ACCESS_KEY: creds.accessKeyId, FLOODGATE_SECRET_KEY: creds.secretAccessKey },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      let stderr = '';
      proc.stderr!.on('data', (d: Buffer) => { stderr += d; });
      const url = await new Promise<string>((ok, fail) => {
        createInterface({ input: proc.stdout! }).on('line', (line) => {
          try {
            const rec = JSON.parse(line) as { msg?: string; url?: string };
            if (rec.msg === 'gateway listening' && rec.url) ok(rec.url);
          } catch { /* not JSON */ }
        });
        void exited.then(() => fail(new Error(`gateway exited: ${stderr}`)));
      });
      return { url, proc, exited };
    };
    const gw = await start();
    const s3 = new S3Client({ endpoint: gw.url, region: 'us-east-1', forcePathStyle: true, credentials: creds, maxAttempts: 1 });
    const acked = new Map<string, string | null>();
    const inflight = new Map<string, string | null>();
    let n = 0;
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop && n < 2000; i++) {
        n++;
        const key = `w${w}/k${i % 5}`;
        const del = i % 6 === 5;
        const body = randomBytes(1 + ((i * 7919) % 200_000));
        inflight.set(key, del ? null : md5(body));
        try {
          if (del) await s3.send(new DeleteObjectsCommand({ Bucket: vb, Delete: { Objects: [{ Key: key }] } }));
          else await s3.send(new PutObjectCommand({ Bucket: vb, Key: key, Body: body }));
          acked.set(key, del ? null : md5(body));
          inflight.delete(key);
        } catch {
          return; // the gateway is gone: this key's last op stays "in flight"
        }
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
    while (acked.size < 30 || n < 200) await new Promise((r) => setTimeout(r, 10));
    gw.proc.kill('SIGKILL');
    await gw.exited;
    stop = true;
    await load;
    s3.destroy();

    const store = await openVirtualStoreFromFile(configPath, { dataDir: dir });
    try {
      const records = new Map((await store.index.scan(vb, { prefix: '', after: '', limit: 100_000 })).map((r) => [r.key, r]));
      for (const key of new Set([...acked.keys(), ...inflight.keys()])) {
        const now = records.get(key)?.etag ?? null;
        const allowed = [acked.has(key) ? acked.get(key) : null, ...(inflight.has(key) ? [inflight.get(key)] : [])];
        assert.ok(allowed.includes(now), `${key}: found ${now}, expected one of ${JSON.stringify(allowed)}`);
      }
      // An interrupted write's own-named copy may still be within its removal grace (virtual/removals.ts).
      for (let t = 0; (await store.index.intents('crash-sdk')).length && t < 600; t++) await new Promise((r) => setTimeout(r, 100));
      const copies = new Map<string, string>();
      for (let i = 0; i < direct.length; i++) {
        // A copy is at <vb>/<key>, or under a name of its own when that one was busy (virtual/location.ts).
        const listed = [
          ...(await direct[i]!.scan(BUCKET, { prefix: `${vb}/`, after: '', limit: 100_000 })).map((o) => ({ ...o, key: o.key.slice(vb.length + 1) })),
          ...(await direct[i]!.scan(BUCKET, { prefix: `${OWN_NAMES}${vb}/`, after: '', limit: 100_000 })).map((o) => ({ ...o, key: keyOfOwnName(vb, o.key)! })),
        ];
        for (const o of listed) {
          const key = o.key;
          assert.ok(!copies.has(key), `${key} on two backends, or twice on one`);
          copies.set(key, `minio-${i}:${o.etag}:${o.size}`);
          const r = records.get(key);
          assert.ok(r, `${key} on minio-${i} but not in the index`);
        }
      }
      for (const [key, r] of records) assert.equal(copies.get(key), `${r.backend}:${r.etag}:${r.size}`, `${key} recorded as on ${r.backend}`);
      assert.deepEqual(await store.index.intents('crash-sdk'), []);
    } finally {
      await store.close();
    }
  });
});

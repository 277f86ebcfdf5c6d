// What a small PUT costs the disk: `floodgate gateway --config` as a child process over two
// buckets of a real MinIO, traced with strace while the AWS SDK writes new keys and overwrites
// them (each overwrite replaces a copy and queues its removal). The write intent, the removal queued ahead of the commit and the cleanup after
// it are lazy index writes (docs/balancing.md): the record's commit is the one fsync per PUT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startMinio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store } from '../proxy/backends/s3/store.ts';
import { newCredentials, spawnGateway, tempDir, until } from './lib/gateway.ts';

const KEYS = 30;
/** Checkpoints of the WAL (a few fsyncs each) and start-up writes that land inside the trace. */
const SLACK = 10;

const hasStrace = spawnSync('strace', ['-V'], { stdio: 'ignore' }).status === 0;

test('a 4 KiB PUT, new key or overwrite, fsyncs the placement index once: its record\'s commit', { skip: hasStrace ? false : 'strace not installed' }, async (t) => {
  const dir = tempDir('floodgate-put-fsync-');
  const minio = await startMinio();
  const creds = newCredentials();
  const direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  const plain = { accessKeyId: minio.credentials.accessKeyId, secretAccessKey: minio.credentials.secretAccessKey };
  for (const b of ['fsync-a', 'fsync-b']) await direct.createBucket(b);
  const config = join(dir, 'gateway.yaml');
  writeFileSync(config, stringify({
    backends: ['a', 'b'].map((n) => ({ name: n, endpoint: minio.endpoint, bucket: `fsync-${n}`, credentials: plain })),
    virtualBuckets: [{ name: 'small', backends: ['a', 'b'], strategy: 'round-robin' }],
    credentials: [{ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey }],
  }));
  const gw = await spawnGateway(join(dir, 'data'), creds, ['--config', config]);
  const s3 = new S3Client({ endpoint: gw.url, region: 'us-east-1', forcePathStyle: true, credentials: { ...creds }, maxAttempts: 1 });
  const trace = join(dir, 'fsync.trace');
  const strace = spawn('strace', ['-f', '-qq', '-e', 'trace=fsync,fdatasync', '-o', trace, '-p', String(gw.proc.pid)], { stdio: 'ignore' });
  const traced = new Promise((r) => strace.once('exit', r));
  try {
    // strace writes its file once attached; a first PUT outside the count warms the connection.
    await until('strace attached', () => { try { readFileSync(trace); return true; } catch { return false; } }, 10_000);
    await s3.send(new PutObjectCommand({ Bucket: 'small', Key: 'warm', Body: randomBytes(4096) }));
    const before = readFileSync(trace, 'utf8').split('\n').filter((l) => /fsync|fdatasync/.test(l)).length;
    const last = new Map<string, Buffer>();
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < KEYS; i++) {
        const body = randomBytes(4096);
        await s3.send(new PutObjectCommand({ Bucket: 'small', Key: `k${i}`, Body: body }));
        last.set(`k${i}`, body);
      }
    }
    // The background removals (lazy) have run once the backends hold one copy per key.
    const copies = async (b: string) => (await direct.scan(b, { prefix: '', after: '', limit: 1000 })).filter((o) => /\/(k\d+|warm)$/.test(o.key)).length;
    await until('old copies removed', async () => (await copies('fsync-a')) + (await copies('fsync-b')) === KEYS + 1, 30_000);
    strace.kill('SIGINT');
    await traced;
    const fsyncs = readFileSync(trace, 'utf8').split('\n').filter((l) => /fsync|fdatasync/.test(l)).length - before;
    const puts = 2 * KEYS;
    t.diagnostic(`${fsyncs} fsyncs for ${puts} PUTs`);
    // Before lazy intents: about 2 per new key and 4 per overwrite (intent, removal intent,
    // removal job, record), and 2 more per overwrite in the background (their cleanup).
    assert.ok(fsyncs <= puts + SLACK, `${fsyncs} fsyncs of the index for ${puts} PUTs`);
    for (const [key, body] of last) {
      const got = Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket: 'small', Key: key }))).Body!.transformToByteArray());
      assert.ok(got.equals(body), key);
    }
  } finally {
    if (strace.exitCode === null) { strace.kill('SIGINT'); await traced; }
    s3.destroy();
    await gw.stop();
    await direct.close();
    await minio.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// Faults in `floodgate gateway` (a real child process over a real MinIO and an fs directory),
// injected through the gateway's own control API and observed by @aws-sdk/client-s3 as an
// application sees them: SlowDown retried then success, a fault matched by backend, a corrupted
// body failing the SDK's checksum check, backendDown steering writes away and failing reads of
// that backend with 503 until the fault stops, and the control API's token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { startMinio, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store } from '../proxy/backends/s3/store.ts';
import type { StatusSnapshot } from '../proxy/health/status.ts';
import { newCredentials, spawnGateway, tempDir, type SpawnedGateway } from './lib/gateway.ts';
import { s3Error } from './lib/s3.ts';

const TOKEN = randomBytes(16).toString('hex');
const creds = newCredentials();
const VB = 'chaos';
/** A copy: the AWS SDK adds fields to the credentials objects it is given. */
const plain = (c: { accessKeyId: string; secretAccessKey: string }) => ({ accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey });
const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
let minio: Minio;
let dir: string;
let gw: SpawnedGateway;
let s3: S3Client;

before(async () => {
  minio = await startMinio();
  const direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  await direct.createBucket('fg-a');
  await direct.close();
  dir = tempDir('floodgate-gwfaults-');
  mkdirSync(join(dir, 'data'));
  const path = join(dir, 'gateway.yaml');
  writeFileSync(path, stringify({
    backends: [
      { name: 'remote', endpoint: minio.endpoint, bucket: 'fg-a', credentials: plain(minio.credentials) },
      { name: 'local', kind: 'fs', path: join(dir, 'local') },
    ],
    virtualBuckets: [{ name: VB, backends: ['remote', 'local'], strategy: 'round-robin' }],
    health: { interval: '500ms', recoveryInterval: '200ms', failureThreshold: 2, recoveryThreshold: 1, probeTimeout: '2s' },
    credentials: [plain(creds)],
    faults: { defaultDuration: '2m', maxDuration: '10m' },
  }));
  gw = await spawnGateway(join(dir, 'data'), creds, ['--config', path, '--fault-token', TOKEN]);
  s3 = new S3Client({ endpoint: gw.url, region: 'us-east-1', forcePathStyle: true, credentials: plain(creds), maxAttempts: 1 });
});

after(async () => {
  s3?.destroy();
  await gw?.stop();
  await minio?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const api = (method: string, path: string, body?: unknown, token = TOKEN) =>
  fetch(`${gw.url}/_floodgate/${path}`, { method, headers: { authorization: `Bearer ${token}` }, body: body === undefined ? undefined : JSON.stringify(body) });

async function inject(spec: object): Promise<string> {
  const r = await api('POST', 'faults', spec);
  assert.equal(r.status, 201, await r.clone().text());
  return ((await r.json()) as { id: string }).id;
}

const status = async () => (await (await fetch(`${gw.url}/status`)).json()) as StatusSnapshot;
const objects = (s: StatusSnapshot) => Object.fromEntries(s.backends.map((b) => [b.name, b.objects]));

describe('faults through the gateway control API', () => {
  test('SlowDown on the first two GETs: the SDK retries and then succeeds; the ledger records it', async () => {
    await s3.send(new PutObjectCommand({ Bucket: VB, Key: 'slow/obj', Body: 'patience' }));
    const id = await inject({ kind: 'error', code: 'SlowDown', status: 503, match: { operations: ['GetObject'], buckets: [VB], keyPrefix: 'slow/' }, trigger: { firstN: 2 } });
    const direct = await s3Error(s3.send(new GetObjectCommand({ Bucket: VB, Key: 'slow/obj' })));
    assert.equal(direct.name, 'SlowDown');
    assert.equal(direct.$metadata.httpStatusCode, 503);
    const retrying = new S3Client({ endpoint: gw.url, region: 'us-east-1', forcePathStyle: true, credentials: plain(creds), maxAttempts: 3, retryMode: 'standard' });
    try {
      const got = await retrying.send(new GetObjectCommand({ Bucket: VB, Key: 'slow/obj' }));
      assert.equal(await got.Body!.transformToString(), 'patience');
      assert.equal(got.$metadata.attempts, 2, 'one SlowDown left, then success');
    } finally {
      retrying.destroy();
    }
    const ledger = (await (await api('GET', `faults/ledger?faultId=${id}`)).json()) as { entries?: { decision: string }[] } | { decision: string }[];
    const entries = Array.isArray(ledger) ? ledger : ledger.entries ?? [];
    assert.equal(entries.filter((e) => e.decision === 'fired').length, 2);
    assert.match(await (await fetch(`${gw.url}/metrics`)).text(), /floodgate_fault_injections_total\{kind="error",outcome="fired"\} 2/);
    await api('DELETE', `faults/${id}`);
  });

  test('a fault matched by backend hits only objects placed on that backend', async () => {
    const keys = ['by/0', 'by/1', 'by/2', 'by/3'];
    for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: VB, Key: k, Body: k }));
    const id = await inject({ kind: 'error', code: 'InternalError', status: 500, match: { operations: ['GetObject'], backends: ['local'] } });
    const outcomes = [];
    for (const k of keys) {
      outcomes.push(await s3.send(new GetObjectCommand({ Bucket: VB, Key: k })).then((r) => r.Body!.transformToString(), (e: S3ServiceException) => e.name));
    }
    // Round-robin alternates the two backends: two objects on each.
    assert.equal(outcomes.filter((o) => o === 'InternalError').length, 2, JSON.stringify(outcomes));
    assert.equal(outcomes.filter((o) => o.startsWith('by/')).length, 2, JSON.stringify(outcomes));
    await api('DELETE', `faults/${id}`);
  });

  test('latency before an upload: the body waits and arrives whole', async () => {
    const id = await inject({ kind: 'latency', ms: 300, match: { operations: ['PutObject'], keyPrefix: 'late/' } });
    const body = randomBytes(2 * 1024 * 1024);
    const t0 = performance.now();
    await s3.send(new PutObjectCommand({ Bucket: VB, Key: 'late/obj', Body: body }));
    const took = performance.now() - t0;
    assert.ok(took >= 290 && took < 5000, `took ${took} ms`);
    const got = await s3.send(new GetObjectCommand({ Bucket: VB, Key: 'late/obj' }));
    assert.equal(md5(Buffer.from(await got.Body!.transformToByteArray())), md5(body));
    await api('DELETE', `faults/${id}`);
  });

  test('corrupt: the SDK validating checksums rejects the body', async () => {
    const body = randomBytes(100_000);
    await s3.send(new PutObjectCommand({ Bucket: VB, Key: 'corrupt/obj', Body: body, ChecksumAlgorithm: 'CRC32' }));
    const id = await inject({ kind: 'corrupt', bytes: 3, match: { keyPrefix: 'corrupt/' } });
    const r = await s3.send(new GetObjectCommand({ Bucket: VB, Key: 'corrupt/obj', ChecksumMode: 'ENABLED' }));
    await assert.rejects(r.Body!.transformToByteArray(), /Checksum mismatch/i);
    await api('DELETE', `faults/${id}`);
    const ok = await s3.send(new GetObjectCommand({ Bucket: VB, Key: 'corrupt/obj', ChecksumMode: 'ENABLED' }));
    assert.equal(md5(Buffer.from(await ok.Body!.transformToByteArray())), md5(body));
  });

  test('backendDown: writes go to the other backend, reads of its objects 503, all recovers after stop', async () => {
    const before = [];
    for (let i = 0; i < 4; i++) {
      const key = `down/before-${i}`;
      await s3.send(new PutObjectCommand({ Bucket: VB, Key: key, Body: key }));
      before.push(key);
    }
    const id = await inject({ kind: 'backendDown', backend: 'local' });
    const s = await status();
    assert.equal(s.backends.find((b) => b.name === 'local')!.state, 'down');
    assert.deepEqual(s.virtualBuckets[0]!.writable, ['remote']);

    const counts = objects(s);
    for (let i = 0; i < 6; i++) await s3.send(new PutObjectCommand({ Bucket: VB, Key: `down/during-${i}`, Body: 'x' }));
    const afterWrites = objects(await status());
    assert.equal(afterWrites.local, counts.local, 'no write reached the down backend');
    assert.equal(afterWrites.remote, counts.remote! + 6);

    const reads = await Promise.all(before.map((k) => s3.send(new GetObjectCommand({ Bucket: VB, Key: k })).then((r) => r.Body!.transformToString(), (e: S3ServiceException) => e)));
    const failed = reads.filter((r): r is S3ServiceException => typeof r !== 'string');
    assert.equal(failed.length, 2, 'the two objects on local fail');
    for (const e of failed) {
      assert.equal(e.name, 'ServiceUnavailable');
      assert.equal(e.$metadata.httpStatusCode, 503);
      assert.match(e.message, /local.*backendDown fault/);
    }

    assert.equal((await api('DELETE', `faults/${id}`)).status, 200);
    for (const k of before) assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: VB, Key: k }))).Body!.transformToString(), k);
    assert.equal((await status()).backends.find((b) => b.name === 'local')!.state, 'up');
  });

  test('the control API needs the token; resource faults are refused in the gateway', async () => {
    assert.equal((await api('GET', 'faults', undefined, 'not-the-token')).status, 401);
    assert.equal((await fetch(`${gw.url}/_floodgate/faults`)).status, 401);
    assert.equal((await api('POST', 'faults', { kind: 'error', code: 'SlowDown', status: 503 }, 'wrong')).status, 401);
    const cpu = await api('POST', 'faults', { kind: 'cpu', cores: 0.5 });
    assert.equal(cpu.status, 400);
    assert.equal((await api('GET', 'faults')).status, 200);
  });
});

test('without a token the gateway has no control API', async () => {
  const data = join(dir, 'plain');
  const plain = await spawnGateway(data, creds, []);
  try {
    const r = await fetch(`${plain.url}/_floodgate/faults`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '{"kind":"error","code":"SlowDown","status":503}' });
    assert.notEqual(r.status, 201);
    assert.match(await r.text(), /<Error>/, 'an S3 error: the path is not a control route');
  } finally {
    await plain.stop();
  }
});

test('floodgate injector is a subcommand of the one command', async () => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { ROOT } = await import('./lib/gateway.ts');
  const run = promisify(execFile);
  const { stdout } = await run(join(ROOT, 'bin', 'floodgate'), ['injector', '--help'], { timeout: 30_000 });
  assert.match(stdout, /^Usage: floodgate injector --upstream URL/);
  const bad = await run(process.execPath, [join(ROOT, 'main.ts'), 'injector', '--listen', '127.0.0.1:0'], { timeout: 30_000 }).then(() => undefined, (e: { code: number; stderr: string }) => e);
  assert.equal(bad?.code, 2);
  assert.match(bad!.stderr, /floodgate injector: --upstream is required/);
});

// The gateway's memory under a stream of small requests (issue 11, docs/performance.md "Memory"):
// V8 grows its young generation with the machine's memory (two semi-spaces of up to 64 MiB each
// on a machine with several GiB), and a steady load of small requests grows it to that size for
// good. ./bin/floodgate and the image cap it with node flags (and fix glibc's mmap threshold);
// these tests check that both say the same and that a gateway started by ./bin/floodgate keeps
// its young generation within the cap however many requests it serves — read from its own
// /metrics (nodejs_heap_space_size_total_bytes), nothing timed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { newCredentials, ROOT, spawnGateway, tempDir } from './lib/gateway.ts';

const MiB = 1024 * 1024;

/** The node flags ./bin/floodgate passes (its `node_flags=(…)` line). */
function binFlags(): string[] {
  const m = /^node_flags=\(([^)]*)\)$/m.exec(readFileSync(join(ROOT, 'bin', 'floodgate'), 'utf8'));
  assert.ok(m, 'bin/floodgate has a node_flags=(…) line');
  return m[1]!.split(/\s+/).filter(Boolean);
}

test('./bin/floodgate and the image give node the same flags (a capped semi-space among them) and malloc setting', () => {
  const flags = binFlags();
  assert.ok(flags.some((f) => /^--max-semi-space-size=\d+$/.test(f)), `a semi-space cap in ${flags.join(' ')}`);
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const entry = /^ENTRYPOINT (\[.*"\/app\/main\.ts"\])$/m.exec(dockerfile);
  assert.ok(entry, 'the Dockerfile has the floodgate ENTRYPOINT');
  assert.deepEqual(JSON.parse(entry[1]!), ['/usr/local/bin/node', ...flags, '/app/main.ts']);
  const malloc = /^export MALLOC_MMAP_THRESHOLD_=\$\{MALLOC_MMAP_THRESHOLD_:-(\d+)\}$/m.exec(readFileSync(join(ROOT, 'bin', 'floodgate'), 'utf8'));
  assert.ok(malloc, 'bin/floodgate sets MALLOC_MMAP_THRESHOLD_');
  assert.match(dockerfile, new RegExp(`^ENV MALLOC_MMAP_THRESHOLD_=${malloc[1]}$`, 'm'));
});

test('a gateway started by ./bin/floodgate keeps its young generation within the cap under small requests', async () => {
  const cap = Number(binFlags().find((f) => f.startsWith('--max-semi-space-size='))!.split('=')[1]) * MiB;
  const dir = tempDir('floodgate-memory-');
  const creds = newCredentials();
  const gw = await spawnGateway(join(dir, 'data'), creds, [], 20_000, true);
  const s3 = new S3Client({ endpoint: gw.url, region: 'us-east-1', forcePathStyle: true, credentials: creds });
  const newSpace = async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const m = /^nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)$/m.exec(text);
    assert.ok(m, 'the new space is in /metrics');
    return Number(m[1]);
  };
  try {
    await s3.send(new CreateBucketCommand({ Bucket: 'mem' }));
    const body = Buffer.alloc(4096, 'm');
    // Bounded: 8 workers x 150 rounds of one 4 KiB PUT and one GET.
    await Promise.all(Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; i < 150; i++) {
        const Key = `k/${w}/${i % 16}`;
        await s3.send(new PutObjectCommand({ Bucket: 'mem', Key, Body: body }));
        await (await s3.send(new GetObjectCommand({ Bucket: 'mem', Key }))).Body!.transformToByteArray();
      }
    }));
    // Both semi-spaces: at most twice the cap (the default on this machine may be 2 x 64 MiB).
    const size = await newSpace();
    assert.ok(size <= 2 * cap, `new space ${(size / MiB).toFixed(1)} MiB, cap 2 x ${cap / MiB} MiB`);
  } finally {
    s3.destroy();
    await gw.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a first start on a cold compile cache: the gateway ./bin/floodgate starts strips no TypeScript itself (the stripper stays out of its memory)', async () => {
  const dir = tempDir('floodgate-coldcache-');
  const cache = join(dir, 'cache');
  const creds = newCredentials();
  // Node's own compile-cache debug log, on the server's stderr: a module it has to strip is
  // "no transpile cache for StrippedTypeScript <url>" (the stripper loaded), a cached one "retrieving … success".
  const proc = spawn(join(ROOT, 'bin', 'floodgate'), ['gateway', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data')], {
    env: { ...process.env, NODE_COMPILE_CACHE: cache, NODE_DEBUG_NATIVE: 'COMPILE_CACHE', FLOODGATE_ACCESS_KEY: creds.accessKeyId, FLOODGATE_SECRET_KEY: creds.secretAccessKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d; });
  try {
    await new Promise<void>((res, rej) => {
      createInterface({ input: proc.stdout! }).on('line', (line) => { if (line.includes('"gateway listening"')) res(); });
      void exited.then(() => rej(new Error(`gateway exited: ${stderr.slice(-2000)}`)));
    });
    const stripped = [...stderr.matchAll(/no transpile cache for StrippedTypeScript (\S+)/g)].map((m) => m[1]);
    assert.deepEqual(stripped, [], 'modules the server stripped itself');
    assert.match(stderr, /retrieving transpile cache for StrippedTypeScript \S+\/proxy\/cli\.ts\.\.\.success/);
    assert.ok(readdirSync(cache).some((f) => f.startsWith('floodgate-warm-')), 'bin/floodgate stamped the cache it filled');
  } finally {
    proc.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
});

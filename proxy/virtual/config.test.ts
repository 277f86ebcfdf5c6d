import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBalancingConfig, parseBalancingConfig, selectBackends, BalancingConfigError } from './config.ts';
import { resolveCredentials } from './backends.ts';
import { parseDuration, parseSize } from './units.ts';

const dir = mkdtempSync(join(tmpdir(), 'floodgate-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const s3 = (name: string, extra: object = {}) => ({ name, endpoint: 'http://127.0.0.1:9000', bucket: `${name}-data`, credentials: { accessKeyId: 'k', secretAccessKey: 's' }, ...extra });
const base = () => ({ backends: [s3('minio-a', { labels: { tier: 'hot' } }), s3('minio-b'), { name: 'local', kind: 'fs', path: '/srv/data', labels: { tier: 'hot' } }], virtualBuckets: [{ name: 'photos', backends: ['minio-a'] }] });

function refused(raw: unknown, pattern: RegExp): void {
  assert.throws(() => parseBalancingConfig(raw), (e: Error) => e instanceof BalancingConfigError && pattern.test(e.message), `expected ${pattern}`);
}

test('defaults: s3 kind, path style, weight 1, round-robin, proxy mode, 60 s redirects, health and upload cleanup', () => {
  const c = parseBalancingConfig(base());
  const a = c.backends[0]!;
  assert.equal(a.kind, 's3');
  assert.equal(a.pathStyle, true);
  assert.equal(a.region, 'us-east-1');
  assert.equal(a.weight, 1);
  assert.equal(a.maxSize, undefined);
  const v = c.virtualBuckets[0]!;
  assert.equal(v.strategy, 'round-robin');
  assert.equal(v.mode, 'proxy');
  assert.equal(v.redirectExpiry, 60_000);
  assert.deepEqual(c.health, { interval: 5000, recoveryInterval: 1000, failureThreshold: 3, recoveryThreshold: 2, probeTimeout: 5000 });
  assert.equal(c.uploads.maxAge, 86_400_000);
  assert.equal(c.readRepair, true);
  assert.ok(c.replica.length > 0);
});

test('bad configurations are refused with the field and the reason', () => {
  const cases: [string, (c: ReturnType<typeof base>) => unknown, RegExp][] = [
    ['unknown strategy', (c) => ({ ...c, virtualBuckets: [{ name: 'photos', backends: ['minio-a'], strategy: 'least-space' }] }), /virtualBuckets\.0\.strategy: .*round-robin/],
    ['weight below zero', (c) => ({ ...c, backends: [s3('minio-a', { weight: -1 })] }), /backends\.0\.weight/],
    ['a duration like "5 parsecs"', (c) => ({ ...c, health: { interval: '5 parsecs' } }), /health\.interval: expected a duration/],
    ['a size that is not one', (c) => ({ ...c, backends: [s3('minio-a', { maxSize: 'lots' })] }), /backends\.0\.maxSize: expected a size/],
    ['an unknown field', (c) => ({ ...c, backends: [s3('minio-a', { wieght: 2 })] }), /unknown field "wieght"/],
    ['s3 without endpoint', (c) => ({ ...c, backends: [{ name: 'minio-a', bucket: 'abc', credentials: { accessKeyId: 'k', secretAccessKey: 's' } }] }), /backends\.0\.endpoint: an s3 backend needs an endpoint/],
    ['an endpoint with user info', (c) => ({ ...c, backends: [s3('minio-a', { endpoint: 'http://admin:hunter22@127.0.0.1:9000' })] }), /backends\.0\.endpoint: must not contain user info/],
    ['s3 without credentials', (c) => ({ ...c, backends: [{ name: 'minio-a', bucket: 'abc', endpoint: 'http://x' }] }), /needs credentials/],
    ['fs without path', (c) => ({ ...c, backends: [{ name: 'minio-a', kind: 'fs' }] }), /needs a path/],
    ['a non-http endpoint', (c) => ({ ...c, backends: [s3('minio-a', { endpoint: 'ftp://x' })] }), /backends\.0\.endpoint/],
    ['an unknown backend reference', (c) => ({ ...c, virtualBuckets: [{ name: 'photos', backends: ['nope'] }] }), /no backend named "nope"/],
    ['duplicate backends', (c) => ({ ...c, backends: [s3('minio-a'), s3('minio-a')] }), /duplicate backend "minio-a"/],
    ['duplicate virtual buckets', (c) => ({ ...c, virtualBuckets: [{ name: 'photos', backends: ['minio-a'] }, { name: 'photos', backends: ['minio-a'] }] }), /duplicate virtual bucket/],
    ['no backends for a bucket', (c) => ({ ...c, virtualBuckets: [{ name: 'photos' }] }), /list backends or give a backendSelector/],
    ['a selector that matches nothing', (c) => ({ ...c, virtualBuckets: [{ name: 'photos', backendSelector: { matchLabels: { tier: 'cold' } } }] }), /selects no backend/],
    ['a bad bucket name', (c) => ({ ...c, virtualBuckets: [{ name: 'Photos_1', backends: ['minio-a'] }] }), /expected an S3 bucket name/],
    ['a bad mode', (c) => ({ ...c, virtualBuckets: [{ name: 'photos', backends: ['minio-a'], mode: 'mirror' }] }), /mode/],
  ];
  for (const [name, edit, pattern] of cases) {
    try {
      refused(edit(base()), pattern);
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`, { cause: e });
    }
  }
});

test('label selectors choose backends in configuration order', () => {
  const c = parseBalancingConfig({ ...base(), virtualBuckets: [{ name: 'photos', backendSelector: { matchLabels: { tier: 'hot' } } }] });
  assert.deepEqual(selectBackends(c.backends, c.virtualBuckets[0]!).map((b) => b.name), ['minio-a', 'local']);
});

test('sizes and durations', () => {
  assert.equal(parseSize('10Gi'), 10 * 2 ** 30);
  assert.equal(parseSize('1.5TB'), 1.5e12);
  assert.equal(parseSize('500M'), 5e8);
  assert.equal(parseSize(1024), 1024);
  assert.equal(parseSize('12 parsecs'), undefined);
  assert.equal(parseSize(-1), undefined);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('5 parsecs'), undefined);
  assert.equal(parseDuration(''), undefined);
});

test('a YAML file with the gateway\'s own settings too; YAML errors name the file', () => {
  const path = join(dir, 'gateway.yaml');
  writeFileSync(path, `listen: 127.0.0.1:9000
region: eu-west-1
backends:
  - name: minio-a
    endpoint: http://127.0.0.1:9000
    bucket: data-a
    maxSize: 10Gi
    credentials: { accessKeyIdEnv: A_KEY, secretAccessKeyEnv: A_SECRET }
virtualBuckets:
  - name: photos
    backends: [minio-a]
    strategy: rendezvous
`);
  const c = loadBalancingConfig(path);
  assert.equal(c.backends[0]!.maxSize, 10 * 2 ** 30);
  assert.equal(c.region, 'eu-west-1');
  writeFileSync(path, 'backends: [\n');
  assert.throws(() => loadBalancingConfig(path), (e: Error) => e instanceof BalancingConfigError && e.message.startsWith(path));
});

test('credentials from the config, the environment, or a mounted Secret directory', () => {
  assert.deepEqual(resolveCredentials('x', { accessKeyId: 'a', secretAccessKey: 'b' }), { accessKeyId: 'a', secretAccessKey: 'b' });
  process.env.FG_TEST_KEY = 'ek';
  process.env.FG_TEST_SECRET = 'es';
  assert.deepEqual(resolveCredentials('x', { accessKeyIdEnv: 'FG_TEST_KEY', secretAccessKeyEnv: 'FG_TEST_SECRET' }), { accessKeyId: 'ek', secretAccessKey: 'es' });
  assert.throws(() => resolveCredentials('x', { accessKeyIdEnv: 'FG_TEST_KEY', secretAccessKeyEnv: 'FG_UNSET_VAR' }), /FG_UNSET_VAR/);
  const secret = join(dir, 'secret');
  mkdirSync(secret);
  writeFileSync(join(secret, 'accessKeyId'), 'dk\n');
  writeFileSync(join(secret, 'secretAccessKey'), 'ds\n');
  assert.deepEqual(resolveCredentials('x', { secretDir: secret }), { accessKeyId: 'dk', secretAccessKey: 'ds' });
  assert.throws(() => resolveCredentials('x', { secretDir: join(dir, 'none') }), /backend x: cannot read accessKeyId/);
});

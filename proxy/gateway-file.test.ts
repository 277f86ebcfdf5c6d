// The gateway's config file as `floodgate gateway` reads it: plain vs balancing files, unknown
// fields in both, the faults section and where the fault token comes from.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadGatewayConfig } from './config.ts';
import { readGatewayFile } from './gateway-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'floodgate-gwfile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const BALANCING = `
listen: 127.0.0.1:9100
backends:
  - { name: local, kind: fs, path: ${dir}/local }
virtualBuckets:
  - { name: photos, backends: [local] }
`;

const load = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  let balancing: unknown;
  const c = loadGatewayConfig(argv, env, (p) => {
    const r = readGatewayFile(p);
    balancing = r.balancing;
    return r.file;
  });
  return { c, balancing };
};

test('a file without balancing fields is a plain gateway file; with them, a balancing configuration', () => {
  const plain = load(['--config', file('plain.yaml', 'listen: 127.0.0.1:9100\nregion: eu-west-1\n')]);
  assert.equal(plain.balancing, undefined);
  assert.equal(plain.c.region, 'eu-west-1');
  const bal = load(['--config', file('bal.yaml', BALANCING)]);
  assert.deepEqual((bal.balancing as { virtualBuckets: { name: string }[] }).virtualBuckets.map((v) => v.name), ['photos']);
  assert.deepEqual(bal.c.listen, { host: '127.0.0.1', port: 9100 });
  // Any balancing field switches: health alone still needs backends.
  assert.throws(() => readGatewayFile(file('health.yaml', 'health: { interval: 1s }\n')), (e: Error) => e instanceof ConfigError && /backends: /.test(e.message));
});

test('unknown fields are refused in both kinds of file, one line per problem, naming the field', () => {
  assert.throws(() => readGatewayFile(file('u1.yaml', 'listen: 127.0.0.1:9100\nlistne: x\n')), /u1\.yaml: \(root\): unknown field "listne"/);
  const p = file('u2.yaml', `${BALANCING}  - { name: second, backends: [local], strategy: fastest, colour: red }\n`);
  assert.throws(() => readGatewayFile(p), (e: Error) => {
    assert.ok(e instanceof ConfigError);
    const lines = e.message.split('\n');
    assert.ok(lines.some((l) => /u2\.yaml: virtualBuckets\.1: unknown field "colour"/.test(l)), e.message);
    assert.ok(lines.some((l) => /u2\.yaml: virtualBuckets\.1\.strategy: Invalid option/.test(l)), e.message);
    return true;
  });
});

test('faults: no token means off; token from flag > env > token file > file', () => {
  assert.equal(load([]).c.faults.token, undefined);
  const tokenFile = file('token', 'from-the-token-file\n');
  const cfg = file('faults.yaml', `faults: { token: from-the-yaml-file, defaultDuration: 2m, maxDuration: 2h }\n`);
  assert.equal(load(['--config', cfg]).c.faults.token, 'from-the-yaml-file');
  assert.deepEqual(load(['--config', cfg]).c.faults, { token: 'from-the-yaml-file', defaultDurationMs: 120_000, maxDurationMs: 7_200_000 });
  assert.equal(load(['--config', cfg, '--fault-token-file', tokenFile]).c.faults.token, 'from-the-token-file');
  assert.equal(load(['--config', cfg], { FLOODGATE_FAULT_TOKEN: 'from-the-environment' }).c.faults.token, 'from-the-environment');
  assert.equal(load(['--config', cfg, '--fault-token', 'from-the-flag-1'], { FLOODGATE_FAULT_TOKEN: 'from-the-environment' }).c.faults.token, 'from-the-flag-1');
  assert.throws(() => load(['--fault-token', 'short']), /fault token: must be at least 8 characters/);
  assert.throws(() => load(['--fault-token-file', join(dir, 'missing')]), /--fault-token-file: cannot read/);
  assert.throws(() => load(['--config', file('f2.yaml', 'faults: { tokn: x }\n')]), /faults: unknown field "tokn"/);
});

// `floodgate gateway` as a new user runs it: no credentials configured, so it generates a pair,
// keeps it under the data dir and prints a ready-to-paste AWS CLI line that really works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GATEWAY_FLAGS } from '../proxy/config.ts';
import { ROOT, tempDir } from './lib/gateway.ts';
import { isolatedAwsEnv, noPython, VENV_BIN } from './lib/python.ts';

const run = promisify(execFile);

interface Started {
  url: string;
  stderr: () => string;
  signal(s: NodeJS.Signals): void;
  exited: Promise<number | null>;
}

/** Starts the gateway with no credentials in the environment; resolves once it prints its banner. */
async function start(dataDir: string): Promise<Started> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.FLOODGATE_ACCESS_KEY;
  delete env.FLOODGATE_SECRET_KEY;
  const proc = spawn(join(ROOT, 'bin/floodgate'), ['gateway', '--listen', '127.0.0.1:0', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => { stdout += d; });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner in 20 s: ${stderr}`)), 20_000);
    proc.stderr!.on('data', (d: Buffer) => {
      stderr += d;
      const m = /aws --endpoint-url (\S+) s3 ls/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`exited ${code}: ${stderr}${stdout}`)); });
  });
  return { url, stderr: () => stderr, signal: (s) => proc.kill(s), exited };
}

const printedKeys = (banner: string) => {
  const m = /export AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)/.exec(banner);
  assert.ok(m, banner);
  return { accessKeyId: m[1]!, secretAccessKey: m[2]! };
};

test('--help documents every flag', async () => {
  const { stdout } = await run(join(ROOT, 'bin/floodgate'), ['gateway', '--help']);
  for (const flag of Object.keys(GATEWAY_FLAGS)) assert.match(stdout, new RegExp(`--${flag}\\b`), flag);
});

test('first start generates and prints a key pair whose aws line works; SIGHUP keeps serving; restart reuses the pair without printing its secret', { skip: noPython }, async () => {
  const dir = tempDir('floodgate-cli-');
  try {
    const first = await start(join(dir, 'data'));
    const keys = printedKeys(first.stderr());
    assert.match(first.stderr(), /Generated credentials/);
    assert.equal(statSync(join(dir, 'data', '.floodgate', 'credentials.json')).mode & 0o777, 0o600);
    // The printed command line, run as printed, with the printed keys.
    const line = /^\s*(aws --endpoint-url .*)$/m.exec(first.stderr())![1]!;
    const env = { ...isolatedAwsEnv(dir, keys), PATH: `${VENV_BIN}:${process.env.PATH}` };
    const { stdout } = await run('bash', ['-c', line], { env });
    assert.match(stdout, /make_bucket: demo/);
    assert.match(stdout, /\bdemo\b.*$/m);

    first.signal('SIGHUP');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await fetch(`${first.url}/healthz`)).status, 200, 'SIGHUP does not stop the gateway');
    first.signal('SIGTERM');
    assert.equal(await first.exited, 0);

    const second = await start(join(dir, 'data'));
    assert.ok(!second.stderr().includes(keys.secretAccessKey), 'the secret is printed only when generated');
    assert.match(second.stderr(), new RegExp(`Access key ${keys.accessKeyId}; its secret is in`));
    const ls = await run(join(VENV_BIN, 'aws'), ['--endpoint-url', second.url, 's3', 'ls'], { env });
    assert.match(ls.stdout, /\bdemo$/m, 'the bucket survived the restart');
    second.signal('SIGTERM');
    assert.equal(await second.exited, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

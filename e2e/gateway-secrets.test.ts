// `floodgate gateway` as a process, on the credentials it prints: the full secret only on the
// start that generated it; later starts name the key and the file; a short secret is one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from './lib/gateway.ts';

/** Starts the gateway, waits until it listens (or exits), stops it; returns its stderr and exit code. */
function runOnce(dataDir: string, env: Record<string, string> = {}): Promise<{ stderr: string; code: number | null }> {
  const cleanEnv = { ...process.env };
  delete cleanEnv.FLOODGATE_ACCESS_KEY;
  delete cleanEnv.FLOODGATE_SECRET_KEY;
  const proc = spawn(process.execPath, [join(ROOT, 'main.ts'), 'gateway', '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
    env: { ...cleanEnv, FLOODGATE_LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => { stderr += d; });
  proc.stdout.on('data', (d: Buffer) => { if (d.includes('gateway listening')) setTimeout(() => proc.kill('SIGTERM'), 200); });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  return new Promise((resolve) => proc.once('exit', (code) => { clearTimeout(timer); resolve({ stderr, code }); }));
}

test('the generated secret is printed on the first start only', async () => {
  const dir = tempDir('floodgate-secrets-');
  try {
    const first = await runOnce(dir);
    const creds = JSON.parse(readFileSync(join(dir, '.floodgate', 'credentials.json'), 'utf8')) as { accessKeyId: string; secretAccessKey: string };
    assert.ok(first.stderr.includes(creds.secretAccessKey), first.stderr);
    const second = await runOnce(dir);
    assert.equal(second.code, 0);
    assert.ok(!second.stderr.includes(creds.secretAccessKey), second.stderr);
    assert.match(second.stderr, new RegExp(`Access key ${creds.accessKeyId}; its secret is in .*credentials\\.json`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a one-character FLOODGATE_SECRET_KEY: one line, exit 2, no stack', async () => {
  const dir = tempDir('floodgate-secrets-');
  try {
    const r = await runOnce(dir, { FLOODGATE_ACCESS_KEY: 'AKIDSHORT', FLOODGATE_SECRET_KEY: 'x' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^floodgate gateway: FLOODGATE_SECRET_KEY: must be at least 8 characters\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

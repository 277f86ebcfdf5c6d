import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { join } from 'node:path';

const MAIN = join(import.meta.dirname, 'main.ts');

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const { FLOODGATE_INJECTOR_TOKEN: _, ...rest } = process.env;
    execFile(process.execPath, [MAIN, ...args], { env: { ...rest, ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr });
    });
  });
}

test('--help documents every flag', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--listen', '--upstream', '--control-listen', '--token', '--token-file', '--domain', '--default-duration', '--max-duration',
    '--max-cpu-cores', '--max-memory', '--max-disk', '--disk-path', '--max-network-rate', '--max-network-connections', '--network-target', '--process-name', '--state-file']) {
    assert.ok(r.stdout.includes(flag), flag);
  }
});

test('bad flags exit 2 with a message naming the flag; no token, no start', async () => {
  const noToken = await run(['--upstream', 'http://127.0.0.1:1', '--listen', '127.0.0.1:0']);
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /control token is required/);
  const shortToken = await run(['--upstream', 'http://127.0.0.1:1', '--listen', '127.0.0.1:0'], { FLOODGATE_INJECTOR_TOKEN: 't' });
  assert.equal(shortToken.code, 2);
  assert.match(shortToken.stderr, /control token .*: must be at least 8 characters/);
  const TOKEN = 'main-test-token';
  const badSize = await run(['--upstream', 'http://127.0.0.1:1', '--listen', '127.0.0.1:0', '--max-memory', 'lots'], { FLOODGATE_INJECTOR_TOKEN: TOKEN });
  assert.equal(badSize.code, 2);
  assert.match(badSize.stderr, /--max-memory: expected a positive value, got "lots"/);
  const badListen = await run(['--upstream', 'http://127.0.0.1:1', '--listen', 'nowhere'], { FLOODGATE_INJECTOR_TOKEN: TOKEN });
  assert.equal(badListen.code, 2);
  assert.match(badListen.stderr, /--listen: expected HOST:PORT/);
  const noUpstream = await run([], { FLOODGATE_INJECTOR_TOKEN: TOKEN });
  assert.equal(noUpstream.code, 2);
  assert.match(noUpstream.stderr, /--upstream is required/);
  const badUpstream = await run(['--upstream', 'ftp://x:1', '--listen', '127.0.0.1:0'], { FLOODGATE_INJECTOR_TOKEN: TOKEN });
  assert.equal(badUpstream.code, 2);
  assert.match(badUpstream.stderr, /upstream must be http/);
});

test('state file: an explicit one that cannot be written stops the start; the default one only warns', async () => {
  const TOKEN = 'main-test-token';
  const bad = await run(['--upstream', 'http://127.0.0.1:1', '--listen', '127.0.0.1:0', '--state-file', '/nonexistent-dir/state.json'], { FLOODGATE_INJECTOR_TOKEN: TOKEN });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--state-file \/nonexistent-dir\/state\.json: /);

  // The default lives in the temp dir; a read-only root filesystem (the injected sidecar's) must not stop the injector.
  const port = await new Promise<number>((r) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => r(p)); }); });
  const { FLOODGATE_INJECTOR_TOKEN: _, ...rest } = process.env;
  const child = spawn(process.execPath, [MAIN, '--upstream', 'http://127.0.0.1:1', '--listen', `127.0.0.1:${port}`], { env: { ...rest, FLOODGATE_INJECTOR_TOKEN: TOKEN, TMPDIR: '/nonexistent-dir' }, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (l) => { seen.push(l); if (l.includes('injector listening')) resolve(); });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${seen.join('\n')}`)));
    });
    assert.ok(seen.some((l) => l.includes('no state file')), seen.join('\n'));
  } finally {
    child.kill('SIGTERM');
  }
});

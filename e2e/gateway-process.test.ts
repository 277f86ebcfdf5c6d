// The command and the processes around it: a fresh clone without dependencies, `make clean`,
// startup failures as one line, SIGTERM draining in-flight requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, tempDir } from './lib/gateway.ts';

const run = promisify(execFile);

test('./bin/floodgate before `make deps` says in one line what to run', async () => {
  const clone = tempDir('floodgate-clone-');
  try {
    for (const p of ['bin', 'tools', 'main.ts', 'package.json']) cpSync(join(ROOT, p), join(clone, p), { recursive: true });
    const r = await run(join(clone, 'bin', 'floodgate'), ['gateway']).then(() => undefined, (e: { code: number; stderr: string }) => e);
    assert.ok(r, 'exits non-zero');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^floodgate: dependencies are not installed; run 'make deps' \(or 'npm ci'\) in .*\n$/);
  } finally {
    rmSync(clone, { recursive: true, force: true });
  }
});

test('make clean never deletes ./data', async () => {
  const { stdout } = await run('make', ['-n', 'clean'], { cwd: ROOT });
  assert.match(stdout, /rm -rf node_modules/);
  assert.doesNotMatch(stdout, /\bdata\b/);
});

/** `floodgate gateway` with these args; resolves with exit code and output once it exits (or is stopped after listening). */
function gateway(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const proc = spawn(process.execPath, [join(ROOT, 'main.ts'), 'gateway', ...args], {
    env: { ...process.env, FLOODGATE_ACCESS_KEY: 'AKIDPROCESS', FLOODGATE_SECRET_KEY: 'secret-process-1', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '', stdout = '';
  proc.stderr.on('data', (d: Buffer) => { stderr += d; });
  proc.stdout.on('data', (d: Buffer) => { stdout += d; });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  return new Promise((resolve) => proc.once('exit', (code) => { clearTimeout(timer); resolve({ code, stderr, stdout }); }));
}

test('start-up failures are one line and a non-zero exit, never a stack trace', async () => {
  const dir = tempDir('floodgate-startup-');
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (blocker.address() as AddressInfo).port;
    writeFileSync(join(dir, 'a-file'), 'x');
    const cases: [string[], RegExp][] = [
      [['--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data')], /^floodgate gateway: cannot listen on 127\.0\.0\.1:\d+: the address is already in use\n$/],
      [['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'a-file')], /^floodgate gateway: data dir .*a-file: not a directory\n$/],
      [['--listen', '127.0.0.1:0', '--data-dir', join(dir, 'a-file', 'below')], /^floodgate gateway: data dir .*below: not a directory\n$/],
      [['--listen', '127.0.0.1:0', '--data-dir', '/proc/self'], /^floodgate gateway: data dir \/proc\/self: .+\n$/],
    ];
    for (const [args, expected] of cases) {
      const r = await gateway(args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, expected);
      assert.doesNotMatch(r.stderr + r.stdout, /\n\s+at /, 'no stack trace');
    }
  } finally {
    blocker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

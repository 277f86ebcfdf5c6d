// The command and the processes around it: a fresh clone without dependencies, `make clean`,
// startup failures as one line, SIGTERM draining in-flight requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
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

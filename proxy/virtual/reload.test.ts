import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, renameSync, symlinkSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchConfig } from './reload.ts';

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('reloads on content changes (in place, by rename), not on touches; SIGHUP always reloads; failures are logged', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-reload-'));
  const path = join(dir, 'gateway.yaml');
  writeFileSync(path, 'v: 1\n');
  let reloads = 0;
  let fail = false;
  const logs: string[] = [];
  const stop = watchConfig(path, async () => { if (fail) throw new Error('bad config'); reloads++; }, (_l, msg, f) => { logs.push(`${msg} ${String(f?.error)}`); }, 20);
  try {
    writeFileSync(path, 'v: 2\n');
    await until(() => reloads === 1, 'reload after an in-place write');
    writeFileSync(join(dir, 'tmp'), 'v: 3\n');
    renameSync(join(dir, 'tmp'), path);
    await until(() => reloads === 2, 'reload after a rename');
    writeFileSync(path, 'v: 3\n');
    writeFileSync(join(dir, 'unrelated.txt'), 'x');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(reloads, 2, 'same content, other files: no reload');
    process.kill(process.pid, 'SIGHUP');
    await until(() => reloads === 3, 'reload on SIGHUP');
    fail = true;
    writeFileSync(path, 'v: 4\n');
    await until(() => logs.some((l) => l.includes('keeping the running one bad config')), 'the failure logged');
    assert.equal(reloads, 3);
  } finally {
    stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a Kubernetes ConfigMap update (..data symlink swap) triggers a reload', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-reload-'));
  mkdirSync(join(dir, 'rev1'));
  mkdirSync(join(dir, 'rev2'));
  writeFileSync(join(dir, 'rev1', 'gateway.yaml'), 'v: 1\n');
  writeFileSync(join(dir, 'rev2', 'gateway.yaml'), 'v: 2\n');
  symlinkSync('rev1', join(dir, '..data'));
  symlinkSync(join('..data', 'gateway.yaml'), join(dir, 'gateway.yaml'));
  let reloads = 0;
  const stop = watchConfig(join(dir, 'gateway.yaml'), async () => { reloads++; }, () => {}, 20);
  try {
    symlinkSync('rev2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    await until(() => reloads === 1, 'reload after the swap');
  } finally {
    stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

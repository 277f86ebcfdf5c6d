// The one `floodgate` command and every subcommand: --version, -h, and unknown flags refused
// with exit 2 before anything runs (`crds --bogus` used to rewrite the CRD files).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './lib/gateway.ts';
import { VERSION } from '../version.ts';

const run = promisify(execFile);
const SUBCOMMANDS = ['gateway', 'operator', 'injector', 'crds'];

async function floodgate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [join(ROOT, 'main.ts'), ...args], { timeout: 30_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

test('--version on floodgate and every subcommand', async () => {
  for (const args of [['--version'], ...SUBCOMMANDS.map((c) => [c, '--version'])]) {
    const r = await floodgate(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.equal(r.stdout, `floodgate ${VERSION}\n`, args.join(' '));
  }
});

test('-h on every subcommand prints its usage and exits 0', async () => {
  for (const c of SUBCOMMANDS) {
    const r = await floodgate([c, '-h']);
    assert.equal(r.code, 0, `${c}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Usage: floodgate ${c}`), c);
  }
});

test('unknown flags exit 2 with one line and do nothing (crds --bogus writes no file)', async () => {
  const yamls = readdirSync(join(ROOT, 'crds')).filter((f) => f.endsWith('.yaml')).map((f) => join(ROOT, 'crds', f));
  const before = yamls.map((p) => statSync(p).mtimeMs);
  for (const c of SUBCOMMANDS) {
    const r = await floodgate([c, '--bogus']);
    assert.equal(r.code, 2, `${c}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^floodgate ${c}: .*--bogus.*\\n$`), c);
  }
  assert.equal((await floodgate(['crds', '--print', '--check'])).code, 2);
  assert.deepEqual(yamls.map((p) => statSync(p).mtimeMs), before);
});

test('the admin API commands (gateway find, jobs, gc): --version, -h, and an unknown flag exits 2 before anything is asked', async () => {
  for (const c of ['find', 'jobs', 'gc']) {
    const version = await floodgate(['gateway', c, '--version']);
    assert.deepEqual([version.code, version.stdout], [0, `floodgate ${VERSION}\n`], c);
    const help = await floodgate(['gateway', c, '-h']);
    assert.equal(help.code, 0, `${c}: ${help.stderr}`);
    assert.match(help.stdout, new RegExp(`^Usage: floodgate gateway ${c} .*--admin-token-file`, 's'), c);
    // Pointed at a port nobody listens on: a flag refused first exits 2, not 1 for the unreachable gateway.
    const bogus = await floodgate(['gateway', c, '--bogus', '--endpoint', 'http://127.0.0.1:1', '--admin-token', 't']);
    assert.equal(bogus.code, 2, `${c}: ${bogus.stderr}`);
    assert.match(bogus.stderr, new RegExp(`^floodgate gateway ${c}: .*--bogus.*\\nRun \`floodgate gateway ${c} --help\``), c);
  }
});

// `floodgate operator` with no API server to talk to: one line and exit 1, not a Lease loop
// logging "lease request failed" forever.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../e2e/lib/ports.ts';

const MAIN = resolve(import.meta.dirname, '..', 'main.ts');

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [MAIN, ...args], { env, timeout: 120_000 }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

test('an API server nobody answers at: one line naming it, exit 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-reach-'));
  try {
    const port = await freePort();
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t0ken}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`);
    const r = await run(['operator', '--kubeconfig', kubeconfig, '--http-listen', '127.0.0.1:0'], { ...process.env });
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`^floodgate operator: cannot reach the API server at https://127\\.0\\.0\\.1:${port} `));
    assert.doesNotMatch(r.stdout + r.stderr, /lease request failed/);
    assert.doesNotMatch(r.stderr, /t0ken/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('outside a cluster with no kubeconfig at all: says so', async () => {
  const home = mkdtempSync(join(tmpdir(), 'floodgate-nohome-'));
  try {
    const { KUBECONFIG: _k, KUBERNETES_SERVICE_HOST: _h, ...env } = process.env;
    const r = await run(['operator', '--http-listen', '127.0.0.1:0'], { ...env, HOME: home });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.trim(), 'floodgate operator: no kubeconfig found (not in a cluster, no --kubeconfig, no $KUBECONFIG, no ~/.kube/config)');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

// The command and the processes around it: a fresh clone without dependencies, `make clean`,
// startup failures as one line, SIGTERM draining in-flight requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { closeSync, cpSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { connect as netConnect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { newCredentials, ROOT, spawnGateway, tempDir } from './lib/gateway.ts';
import { rawRequest, signHeaders } from './lib/raw-s3.ts';

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

/** Opens a signed PUT of `size` bytes, sends `first` bytes now; returns the socket and the response text. */
async function slowPut(url: string, creds: { accessKeyId: string; secretAccessKey: string }, key: string, size: number, first: number) {
  const base = new URL(url);
  const path = `/drain/${key}`;
  const h = signHeaders(base, { method: 'PUT', path, creds, payloadHash: 'UNSIGNED-PAYLOAD', headers: { 'content-length': String(size) } });
  const s = netConnect(Number(base.port), base.hostname);
  await new Promise((r) => s.once('connect', r));
  let answer = '';
  s.on('data', (d: Buffer) => { answer += d; });
  s.on('error', () => {});
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  s.write(`PUT ${path} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`);
  s.write(Buffer.alloc(first, 1));
  return { socket: s, answer: () => answer, closed };
}

test('SIGTERM drains: no new connections, in-flight requests finish within the grace period, the rest are cut and counted', async () => {
  const dir = tempDir('floodgate-drain-');
  const creds = newCredentials();
  try {
    const gw = await spawnGateway(join(dir, 'data'), creds, ['--shutdown-grace', '1m30s', '--idle-timeout', '1h30m']);
    let logs = '';
    gw.proc.stdout!.on('data', (d: Buffer) => { logs += d; });
    assert.equal((await rawRequest(gw.url, { method: 'PUT', path: '/drain', creds })).status, 200);
    const put = await slowPut(gw.url, creds, 'finishes', 1000, 400);
    await new Promise((r) => setTimeout(r, 300));
    gw.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await assert.rejects(fetch(`${gw.url}/healthz`), 'no new connections while draining');
    put.socket.write(Buffer.alloc(600, 1));
    await put.closed;
    assert.match(put.answer(), /^HTTP\/1\.1 200 /);
    assert.equal(await gw.exited, 0);
    assert.match(logs, /every in-flight request finished/);

    const again = await spawnGateway(join(dir, 'data'), creds, ['--shutdown-grace', '1s']);
    let logs2 = '';
    again.proc.stdout!.on('data', (d: Buffer) => { logs2 += d; });
    const stuck = await slowPut(again.url, creds, 'never-finishes', 1000, 10);
    await new Promise((r) => setTimeout(r, 300));
    again.proc.kill('SIGTERM');
    await stuck.closed;
    assert.equal(await again.exited, 0);
    assert.match(logs2, /"cut":1/);
    const check = await spawnGateway(join(dir, 'data'), creds);
    assert.equal((await rawRequest(check.url, { method: 'HEAD', path: '/drain/finishes', creds })).status, 200);
    assert.equal((await rawRequest(check.url, { method: 'HEAD', path: '/drain/never-finishes', creds })).status, 404);
    await check.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every duration flag takes the one duration format; a bad one is one line and exit 2', async () => {
  const r = await gateway(['--listen', '127.0.0.1:0', '--idle-timeout', '5 parsecs']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^floodgate gateway: configuration: idleTimeout: expected a duration like 500ms, 30s, 5m or 24h\n$/);
});

test('/readyz of the embedded store on a full disk is 503 and says so; a PUT is InsufficientStorage, a DELETE works', async (t) => {
  const dir = tempDir('floodgate-fulldisk-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    t.skip('cannot mount a tmpfs here (needs root)');
    return;
  }
  const creds = newCredentials();
  let gw: Awaited<ReturnType<typeof spawnGateway>> | undefined;
  try {
    gw = await spawnGateway(join(dir, 'data'), creds);
    assert.equal((await fetch(`${gw.url}/readyz`)).status, 200);
    assert.equal((await rawRequest(gw.url, { method: 'PUT', path: '/full', creds })).status, 200);
    assert.equal((await rawRequest(gw.url, { method: 'PUT', path: '/full/small', body: 'x', creds })).status, 200);
    const filler = openSync(join(dir, 'filler'), 'w');
    try { for (;;) writeSync(filler, Buffer.alloc(65536)); } catch { /* full */ } finally { closeSync(filler); }
    const put = await rawRequest(gw.url, { method: 'PUT', path: '/full/big', body: Buffer.alloc(1024 * 1024), creds });
    assert.equal(put.status, 507, put.body.toString());
    assert.match(put.body.toString(), /<Code>InsufficientStorage<\/Code>/);
    const ready = await fetch(`${gw.url}/readyz`);
    assert.equal(ready.status, 503);
    assert.match(await ready.text(), /disk full/);
    assert.equal((await rawRequest(gw.url, { method: 'DELETE', path: '/full/small', creds })).status, 204);
  } finally {
    // Stopped whatever failed, so a failure is reported at once rather than at the file's timeout.
    await gw?.stop();
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

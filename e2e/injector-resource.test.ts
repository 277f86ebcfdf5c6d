// Resource faults of `floodgate injector`, measured from outside its process: CPU share and RSS
// from /proc, disk bytes on the filesystem, network bytes on a loopback listener, process state.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuShareOfRunnableTime, processState, rssBytes, sleep, spawnInjector, waitFor, type SpawnedInjector } from '../injector/testing/spawn.ts';

const MiB = 1024 * 1024;

function allocatedBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const s = statSync(join(dir, f));
    if (s.isFile()) n += s.blocks * 512;
  }
  return n;
}

describe('resource faults measured from outside the injector', () => {
  let inj: SpawnedInjector;
  let disk: string;
  const sleeper = `sleep 1000.${process.pid}`;
  before(async () => {
    disk = mkdtempSync(join(tmpdir(), 'floodgate-disk-'));
    inj = await spawnInjector(['--max-cpu-cores', '1', '--max-memory', '300Mi', '--max-disk', '100Mi', '--disk-path', disk,
      '--max-network-rate', '1Mi', '--max-network-connections', '8', '--process-name', sleeper]);
  });
  after(async () => {
    await inj.stop();
    rmSync(disk, { recursive: true, force: true });
  });

  // Measured against the time each thread could run (not wall time), so a loaded machine, where
  // the burner waits for a core, does not read as a burner burning too little.
  test('cpu: half a core burned within ±15 % of the time it could run, back to idle after stop', async () => {
    const r = await inj.api('POST', '/_floodgate/faults', { kind: 'cpu', cores: 0.5, duration: '1m' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await sleep(300);
    const share = await cpuShareOfRunnableTime(inj.pid, 3000);
    assert.ok(share > 0.425 && share < 0.575, `cpu share ${share.toFixed(3)} not within 0.5 ± 15 %`);
    assert.equal((await inj.api('DELETE', `/_floodgate/faults/${r.body.id}`)).status, 200);
    await sleep(200);
    const idle = await cpuShareOfRunnableTime(inj.pid, 1000);
    assert.ok(idle < 0.1, `cpu share after stop ${idle.toFixed(3)}`);
  });

  test('memory: RSS grows by the target within ±10 % and shrinks back after stop', async () => {
    const base = rssBytes(inj.pid);
    const target = 200 * MiB;
    const r = await inj.api('POST', '/_floodgate/faults', { kind: 'memory', bytes: '200Mi', duration: '1m' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.resource.heldBytes, target);
    const grown = rssBytes(inj.pid) - base;
    assert.ok(Math.abs(grown - target) < target * 0.1, `RSS grew by ${(grown / MiB).toFixed(1)} MiB, target 200 MiB`);
    await inj.api('DELETE', `/_floodgate/faults/${r.body.id}`);
    const after = await waitFor(() => { const v = rssBytes(inj.pid); return v - base < target * 0.1 ? v : 0; }, 'RSS back to baseline');
    assert.ok(after - base < target * 0.1);
  });

  test('disk: bytes written on the filesystem, removed on stop; over-cap refused', async () => {
    const r = await inj.api('POST', '/_floodgate/faults', { kind: 'disk', path: disk, bytes: '40Mi', duration: '1m' });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const used = allocatedBytes(disk);
    assert.ok(used >= 40 * MiB && used < 41 * MiB, `allocated ${used}`);
    await inj.api('DELETE', `/_floodgate/faults/${r.body.id}`);
    assert.equal(allocatedBytes(disk), 0);
    assert.deepEqual(readdirSync(disk), []);
    const over = await inj.api('POST', '/_floodgate/faults', { kind: 'disk', path: disk, bytes: '1Gi' });
    assert.equal(over.status, 400);
    assert.match(over.body.error, /^bytes: .*exceeds the cap/);
    const free = await inj.api('POST', '/_floodgate/faults', { kind: 'disk', path: disk, freePercent: 0 });
    assert.equal(free.status, 400);
    assert.match(free.body.error, /^freePercent: .*over the disk cap/);
    const outside = await inj.api('POST', '/_floodgate/faults', { kind: 'disk', path: '/etc', bytes: 1 });
    assert.equal(outside.status, 400);
    assert.match(outside.body.error, /^path: /);
    assert.equal(allocatedBytes(disk), 0);
  });

  test('network: a loopback target receives at most the configured rate on the configured connections', async () => {
    let received = 0;
    const conns = new Set<Socket>();
    let seen = 0;
    const server: Server = createServer((s) => { seen++; conns.add(s); s.on('data', (d) => { received += d.length; }); s.on('close', () => conns.delete(s)); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      const rate = 256 * 1024;
      const r = await inj.api('POST', '/_floodgate/faults', { kind: 'network', target: `127.0.0.1:${port}`, bytesPerSecond: '256Ki', connections: 4, duration: '1m' });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const t0 = performance.now();
      await waitFor(() => conns.size === 4, '4 connections');
      await sleep(2000);
      const elapsed = (performance.now() - t0) / 1000;
      const max = rate * elapsed * 1.1 + 64 * 1024;
      assert.ok(received <= max, `received ${received} > ${max}`);
      assert.ok(received >= rate * elapsed * 0.5, `received ${received}, expected about ${rate * elapsed}`);
      assert.equal(seen, 4);
      await inj.api('DELETE', `/_floodgate/faults/${r.body.id}`);
      await waitFor(() => conns.size === 0, 'connections closed');
      const after = received;
      await sleep(300);
      assert.equal(received, after);
      const over = await inj.api('POST', '/_floodgate/faults', { kind: 'network', target: `127.0.0.1:${port}`, bytesPerSecond: '2Mi' });
      assert.equal(over.status, 400);
      assert.match(over.body.error, /^bytesPerSecond: /);
      const external = await inj.api('POST', '/_floodgate/faults', { kind: 'network', target: '192.0.2.1:80', bytesPerSecond: 1 });
      assert.equal(external.status, 400);
      assert.match(external.body.error, /^target: /);
    } finally {
      server.close();
    }
  });

  test('process: pause and resume, then kill, only the test\'s own child', async () => {
    const child = spawn('sleep', [`1000.${process.pid}`], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, s) => r(s)));
    try {
      await waitFor(() => existsSync(`/proc/${child.pid}/cmdline`) && processState(child.pid!) === 'S', 'sleep started');
      const p = await inj.api('POST', '/_floodgate/faults', { kind: 'process', name: sleeper, action: 'pause', duration: '1m' });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      assert.deepEqual(p.body.resource.pids, [child.pid]);
      await waitFor(() => processState(child.pid!) === 'T', 'sleep stopped (state T)');
      await inj.api('DELETE', `/_floodgate/faults/${p.body.id}`);
      await waitFor(() => processState(child.pid!) === 'S', 'sleep resumed (state S)');
      const other = await inj.api('POST', '/_floodgate/faults', { kind: 'process', name: 'sshd', action: 'kill' });
      assert.equal(other.status, 400);
      assert.match(other.body.error, /^name: /);
      const k = await inj.api('POST', '/_floodgate/faults', { kind: 'process', name: sleeper, action: 'kill', duration: '1m' });
      assert.equal(k.status, 201);
      assert.equal(await exited, 'SIGKILL');
      await inj.api('DELETE', '/_floodgate/faults');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  test('expiry reverts on its own; SIGTERM reverts everything before exit', async () => {
    const base = rssBytes(inj.pid);
    const m = await inj.api('POST', '/_floodgate/faults', { kind: 'memory', bytes: '100Mi', duration: '1s' });
    assert.equal(m.status, 201);
    assert.ok(rssBytes(inj.pid) - base > 90 * MiB);
    const ended = await waitFor(async () => { const g = await inj.api('GET', `/_floodgate/faults/${m.body.id}`); return g.body.status === 'ended' ? g.body : undefined; }, 'expiry');
    assert.equal(ended.reason, 'expired');
    await waitFor(() => rssBytes(inj.pid) - base < 20 * MiB, 'RSS back after expiry');

    const second = await spawnInjector(['--disk-path', disk, '--max-disk', '20Mi']);
    const d = await second.api('POST', '/_floodgate/faults', { kind: 'disk', path: disk, bytes: '10Mi', duration: '1m' });
    assert.equal(d.status, 201);
    assert.ok(allocatedBytes(disk) >= 10 * MiB);
    await second.stop('SIGTERM');
    assert.equal((await second.exited).code, 0);
    assert.deepEqual(readdirSync(disk), []);
  });
});

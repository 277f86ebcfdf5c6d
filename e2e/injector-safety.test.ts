// Fault-engine safety of `floodgate injector`, from outside its process: caps hold for all active
// faults together, a disk fault cannot write through a symlink out of --disk-path, a fill being
// written when SIGTERM arrives is removed, and after a kill -9 the next start undoes the disk
// fills and pauses recorded in the state file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processState, spawnInjector, waitFor, type SpawnedInjector } from '../injector/testing/spawn.ts';

const MiB = 1024 * 1024;

function allocatedBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const s = statSync(join(dir, f), { throwIfNoEntry: false });
    if (s?.isFile()) n += s.blocks * 512;
  }
  return n;
}

describe('injector safety', () => {
  let root: string;
  let disk: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'floodgate-safety-'));
    disk = join(root, 'disk');
    mkdirSync(disk);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  describe('caps in aggregate', () => {
    let inj: SpawnedInjector;
    before(async () => { inj = await spawnInjector(['--max-memory', '64Mi', '--max-disk', '20Mi', '--disk-path', disk, '--max-cpu-cores', '1']); });
    after(() => inj.stop());

    test('memory: a fault that fits alone but not with the active ones is refused; room comes back on stop', async () => {
      const a = await inj.api('POST', '/_floodgate/faults', { kind: 'memory', bytes: '30Mi', duration: '1m' });
      const b = await inj.api('POST', '/_floodgate/faults', { kind: 'memory', bytes: '30Mi', duration: '1m' });
      assert.equal(a.status, 201, JSON.stringify(a.body));
      assert.equal(b.status, 201, JSON.stringify(b.body));
      const c = await inj.api('POST', '/_floodgate/faults', { kind: 'memory', bytes: '30Mi', duration: '1m' });
      assert.equal(c.status, 400, JSON.stringify(c.body));
      assert.match(c.body.error, /^bytes: 31457280 more with 62914560 already taken by active faults exceeds the cap of 67108864 \(--max-memory\)/);
      assert.equal((await inj.api('DELETE', `/_floodgate/faults/${a.body.id}`)).status, 200);
      const d = await inj.api('POST', '/_floodgate/faults', { kind: 'memory', bytes: '30Mi', duration: '1m' });
      assert.equal(d.status, 201, JSON.stringify(d.body));
      await inj.api('DELETE', '/_floodgate/faults');
    });

    test('disk and cpu: concurrent injects cannot all fit; what is written stays under the cap', async () => {
      const disks = await Promise.all([0, 1, 2].map(() => inj.api('POST', '/_floodgate/faults', { kind: 'disk', path: disk, bytes: '8Mi', duration: '1m' })));
      assert.deepEqual(disks.map((r) => r.status).sort(), [201, 201, 400], JSON.stringify(disks.map((r) => r.body)));
      assert.ok(allocatedBytes(disk) <= 20 * MiB, `allocated ${allocatedBytes(disk)}`);
      const cpus = await Promise.all([0, 1, 2].map(() => inj.api('POST', '/_floodgate/faults', { kind: 'cpu', cores: 0.4, duration: '1m' })));
      assert.deepEqual(cpus.map((r) => r.status).sort(), [201, 201, 400]);
      assert.equal((await inj.api('DELETE', '/_floodgate/faults')).body.stopped, 4);
      assert.deepEqual(readdirSync(disk), []);
    });
  });

  test('a disk fault through a symlink to outside --disk-path is refused; nothing is written there', async () => {
    const outside = join(root, 'outside');
    mkdirSync(outside);
    symlinkSync(outside, join(disk, 'escape'));
    const inj = await spawnInjector(['--max-disk', '20Mi', '--disk-path', disk]);
    try {
      const r = await inj.api('POST', '/_floodgate/faults', { kind: 'disk', path: join(disk, 'escape'), bytes: '1Mi', duration: '1m' });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(r.body.error, /^path: .*escape resolves to .*outside, which is not under an allowed disk path/);
      // A fill directory planted in advance (here a symlink out) is never written through either.
      symlinkSync(outside, join(disk, '.floodgate-fill-planted'));
      const p = await inj.api('POST', '/_floodgate/faults', { id: 'planted', kind: 'disk', path: disk, bytes: '1Mi', duration: '1m' });
      assert.equal(p.status, 422, JSON.stringify(p.body));
      assert.deepEqual(readdirSync(outside), []);
    } finally {
      await inj.stop();
      rmSync(join(disk, 'escape'));
      rmSync(join(disk, '.floodgate-fill-planted'));
    }
  });

  test('SIGTERM while a disk fill is still being written removes the partial fill', async () => {
    const inj = await spawnInjector(['--max-disk', '2Gi', '--disk-path', disk]);
    let answered = false;
    const post = inj.api('POST', '/_floodgate/faults', { kind: 'disk', path: disk, bytes: '2Gi', duration: '1m' }).then((r) => { answered = true; return r; }, () => { answered = true; });
    await waitFor(() => allocatedBytes(disk) >= 8 * MiB, 'fill under way');
    assert.equal(answered, false, 'the fill is still in progress when SIGTERM is sent');
    await inj.stop('SIGTERM');
    await post;
    assert.equal((await inj.exited).code, 0);
    assert.deepEqual(readdirSync(disk), []);
  });

  test('after kill -9 the next start removes the fill and resumes the paused process (state file)', async () => {
    const stateFile = join(root, 'injector.state.json');
    const sleeper = `sleep 1001.${process.pid}`;
    const child = spawn('sleep', [`1001.${process.pid}`], { stdio: 'ignore' });
    try {
      await waitFor(() => existsSync(`/proc/${child.pid}/cmdline`) && processState(child.pid!) === 'S', 'sleep started');
      const args = ['--max-disk', '20Mi', '--disk-path', disk, '--process-name', sleeper, '--state-file', stateFile];
      const first = await spawnInjector(args);
      assert.equal((await first.api('POST', '/_floodgate/faults', { kind: 'disk', path: disk, bytes: '4Mi', duration: '1h' })).status, 201);
      assert.equal((await first.api('POST', '/_floodgate/faults', { kind: 'process', name: sleeper, action: 'pause', duration: '1h' })).status, 201);
      await waitFor(() => processState(child.pid!) === 'T', 'sleep stopped');
      await first.stop('SIGKILL');
      assert.ok(allocatedBytes(disk) >= 4 * MiB, 'the fill outlives a kill -9');
      assert.equal(processState(child.pid!), 'T', 'and so does the pause');

      const second = await spawnInjector(args);
      try {
        assert.deepEqual(readdirSync(disk), []);
        await waitFor(() => processState(child.pid!) === 'S', 'sleep resumed by the restarted injector');
        assert.deepEqual((await second.api('GET', '/_floodgate/faults')).body.faults, []);
      } finally {
        await second.stop();
      }
    } finally {
      child.kill('SIGKILL');
    }
  });
});

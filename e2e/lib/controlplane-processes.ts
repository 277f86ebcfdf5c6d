// The processes of one control plane, tracked by pid so that only they are ever signalled.
// Three layers of cleanup: stop() (graceful, awaited), a synchronous SIGKILL on the test
// process's 'exit' event (a test that forgot stop()), and a tiny detached reaper that notices
// when the test process itself was killed (SIGKILL, runner timeout) and kills the recorded pids
// and removes the temp dir — otherwise etcd and kube-apiserver would outlive a crashed test.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Child {
  name: string;
  pid: number;
  running(): boolean;
  exited: Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** The last lines the process wrote to its log, for error messages. */
  logTail(lines?: number): string;
}

export interface ProcessGroup {
  spawn(name: string, bin: string, args: string[]): Child;
  children(): Child[];
  /** Stops every child (in reverse start order), the reaper, then removes the directory. */
  stopAll(): Promise<void>;
  /** Leaves the children running past this process (no exit hook, no reaper): for a cluster kept up to debug. */
  release(): void;
}

/**
 * `keepDir`: the directory (logs, pids) survives stop and crash, for a caller that owns it and
 * cleans it itself (the test cluster keeps its logs for debugging).
 */
export function processGroup(dir: string, opts: { keepDir?: boolean } = {}): ProcessGroup {
  const keep = opts.keepDir ?? false;
  const live = new Map<number, { child: Child; proc: ChildProcess }>();
  const pidFile = join(dir, 'pids');
  const writePids = () => writeFileSync(pidFile, [...live.keys()].join(' ') + '\n');
  writePids();

  // Polls once a second; exits on its own when the directory is gone (normal stop).
  const watcher = spawn('bash', ['-c',
    'while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done; ' +
    '[ -d "$2" ] || exit 0; kill -KILL $(cat "$2/pids") 2>/dev/null; [ "$3" = keep ] || rm -rf "$2"', 'reaper',
    String(process.pid), dir, keep ? 'keep' : 'remove'],
  { detached: true, stdio: 'ignore' });
  watcher.unref();

  const onExit = () => {
    for (const { proc } of live.values()) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    if (watcher.exitCode === null) watcher.kill('SIGKILL');
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', onExit);

  function spawnChild(name: string, bin: string, args: string[]): Child {
    const logPath = join(dir, `${name}.log`);
    const fd = openSync(logPath, 'a');
    const proc = spawn(bin, args, { stdio: ['ignore', fd, fd], cwd: dir });
    closeSync(fd);
    if (proc.pid === undefined) throw new Error(`could not start ${bin}`);
    const pid = proc.pid;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => {
      live.delete(pid);
      writePids();
      resolve();
    }));
    proc.once('error', () => { /* reported through exit / readiness timeout */ });
    const running = () => proc.exitCode === null && proc.signalCode === null;
    const child: Child = {
      name, pid, exited, running,
      async stop(graceMs = 20_000) {
        if (!running()) return exited;
        proc.kill('SIGTERM');
        const timer = setTimeout(() => { if (running()) proc.kill('SIGKILL'); }, graceMs);
        await exited;
        clearTimeout(timer);
      },
      logTail(lines = 30) {
        try {
          return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
        } catch {
          return '';
        }
      },
    };
    live.set(pid, { child, proc });
    writePids();
    return child;
  }

  return {
    spawn: spawnChild,
    children: () => [...live.values()].map((e) => e.child),
    async stopAll() {
      for (const { child } of [...live.values()].reverse()) await child.stop();
      process.off('exit', onExit);
      if (!keep) rmSync(dir, { recursive: true, force: true });
      if (watcher.exitCode === null) watcher.kill('SIGKILL');
    },
    release() {
      process.off('exit', onExit);
      if (watcher.exitCode === null) watcher.kill('SIGKILL');
      for (const { proc } of live.values()) proc.unref();
    },
  };
}

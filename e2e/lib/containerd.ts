// A private containerd for image tests and benches: Debian's containerd + runc, with root, state,
// socket and CNI config under a temp directory, so it never touches a containerd of the machine.
// Config is `containerd config default` with private paths and `restrict_oom_score_adj = true`
// (this VM has no CAP_SYS_RESOURCE; see ../shared notes). Needs root. stop() ends it by its PID,
// unmounts everything under its root and removes the directory.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CtrResult { code: number; stdout: string; stderr: string }

export interface Containerd {
  dir: string;
  socket: string;
  /** `ctr -a <socket> -n k8s.io ARGS`; rejects on a non-zero exit unless allowFail. */
  ctr(args: string[], opts?: { allowFail?: boolean; timeoutMs?: number }): Promise<CtrResult>;
  /** A long-running `ctr run` (or any ctr command) as a child process, stdout/stderr collected. */
  spawnCtr(args: string[]): CtrChild;
  stop(): Promise<void>;
}

export interface CtrChild {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** Whether this machine can run the private containerd (root, containerd, runc, ctr). */
export function containerdUsable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  for (const bin of ['containerd', 'ctr', 'runc']) {
    try { execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }); } catch { return `${bin} not installed (apt-get install containerd runc)`; }
  }
  return undefined;
}

function privateConfig(dir: string): string {
  const edits: [RegExp, string][] = [
    [/^root = .*$/m, `root = "${dir}/root"`],
    [/^state = .*$/m, `state = "${dir}/state"`],
    [/^(\[grpc\]\n\s+address = ).*$/m, `$1"${dir}/containerd.sock"`],
    [/restrict_oom_score_adj = false/, 'restrict_oom_score_adj = true'],
    [/bin_dir = "\/opt\/cni\/bin"/, 'bin_dir = "/usr/lib/cni"'],
    [/conf_dir = "\/etc\/cni\/net.d"/, `conf_dir = "${dir}/cni"`],
    [/path = "\/opt\/containerd"/, `path = "${dir}/opt"`],
  ];
  let cfg = execFileSync('containerd', ['config', 'default'], { encoding: 'utf8' });
  for (const [re, to] of edits) {
    if (!re.test(cfg)) throw new Error(`containerd config default: no match for ${re}`);
    cfg = cfg.replace(re, to);
  }
  return cfg;
}

function unmountUnder(dir: string): void {
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '')
    .map((m) => m.replace(/\\040/g, ' ')).filter((m) => m === dir || m.startsWith(dir + '/'));
  for (const m of mounts.sort().reverse()) {
    try { execFileSync('umount', ['-l', m], { stdio: 'ignore' }); } catch { /* already gone */ }
  }
}

export async function startContainerd(): Promise<Containerd> {
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-ctd-'));
  for (const d of ['root', 'state', 'cni', 'opt', 'fifo', 'runc']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'config.toml'), privateConfig(dir));
  const socket = join(dir, 'containerd.sock');
  const log: string[] = [];
  const proc = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (b: Buffer) => log.push(b.toString()));
  proc.stderr.on('data', (b: Buffer) => log.push(b.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const base = ['-a', socket, '-n', 'k8s.io'];
  // ctr's IO fifos and runc's state default to /run/containerd: keep them under dir too. (The shim
  // sockets stay in /run/containerd/s, which containerd 1.6 does not let us move.)
  const hadRun = existsSync('/run/containerd');
  const privatePaths = (args: string[]): string[] => {
    if (args[0] === 'run') return ['run', '--fifo-dir', join(dir, 'fifo'), '--runc-root', join(dir, 'runc'), ...args.slice(1)];
    if (args[0] === 'tasks' && args[1] === 'exec') return ['tasks', 'exec', '--fifo-dir', join(dir, 'fifo'), ...args.slice(2)];
    return args;
  };

  const ctr: Containerd['ctr'] = (args, opts = {}) => new Promise((resolve, reject) => {
    const c = spawn('ctr', [...base, ...privatePaths(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    c.stdout.on('data', (b: Buffer) => { stdout += b; });
    c.stderr.on('data', (b: Buffer) => { stderr += b; });
    const timer = setTimeout(() => c.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    c.once('close', (code) => {
      clearTimeout(timer);
      if (code !== 0 && !opts.allowFail) reject(new Error(`ctr ${args.join(' ')} exited ${code}: ${stderr}`));
      else resolve({ code: code ?? -1, stdout, stderr });
    });
  });
  const spawnCtr: Containerd['spawnCtr'] = (args) => {
    const child = spawn('ctr', [...base, ...privatePaths(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => { out += b; });
    child.stderr!.on('data', (b: Buffer) => { out += b; });
    const done = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    return { child, output: () => out, exited: done };
  };

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // Containers first (their shims are children of containerd's session, not of this process).
    const tasks = await ctr(['tasks', 'ls', '-q'], { allowFail: true, timeoutMs: 10_000 }).catch(() => ({ stdout: '' }));
    for (const id of tasks.stdout.split('\n').filter(Boolean)) {
      await ctr(['tasks', 'kill', '-s', 'SIGKILL', id], { allowFail: true, timeoutMs: 10_000 }).catch(() => {});
      await sleep(200);
      await ctr(['tasks', 'delete', '-f', id], { allowFail: true, timeoutMs: 10_000 }).catch(() => {});
    }
    const containers = await ctr(['containers', 'ls', '-q'], { allowFail: true, timeoutMs: 10_000 }).catch(() => ({ stdout: '' }));
    for (const id of containers.stdout.split('\n').filter(Boolean)) await ctr(['containers', 'delete', id], { allowFail: true, timeoutMs: 10_000 }).catch(() => {});
    if (proc.exitCode === null && proc.pid) {
      process.kill(proc.pid, 'SIGTERM');
      const t = setTimeout(() => { if (proc.exitCode === null && proc.pid) process.kill(proc.pid, 'SIGKILL'); }, 10_000);
      await exited;
      clearTimeout(t);
    }
    unmountUnder(dir);
    rmSync(dir, { recursive: true, force: true });
    // Only the empty directories this run created; another containerd may be using them.
    if (!hadRun) for (const d of ['/run/containerd/s', '/run/containerd/fifo', '/run/containerd/runc/k8s.io', '/run/containerd/runc', '/run/containerd']) {
      try { rmdirSync(d); } catch { /* not empty, or not there */ }
    }
  };

  for (let i = 0; !existsSync(socket); i++) {
    if (proc.exitCode !== null || i > 300) {
      await stop();
      throw new Error(`containerd did not start:\n${log.join('')}`);
    }
    await sleep(50);
  }
  await ctr(['version'], { timeoutMs: 30_000 });
  return { dir, socket, ctr, spawnCtr, stop };
}

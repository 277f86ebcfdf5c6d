// A throwaway PostgreSQL server for tests: Debian's binaries (tools/postgres.sh), a fresh
// cluster in a temp dir, listening on 127.0.0.1 on a free port, stopped by pid. PostgreSQL
// refuses to run as root, so as root it runs as the `postgres` system user (or `nobody`).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { freePort } from '../../e2e/lib/ports.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export interface PostgresServer {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

function unprivileged(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const id = (flag: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
      return { uid: id('-u'), gid: id('-g') };
    } catch { /* no such user */ }
  }
  throw new Error('running as root and found neither a postgres nor a nobody user to run PostgreSQL as');
}

/** argv run as the unprivileged user when we are root (setpriv execs: the pid stays the server's). */
function asUser(user: { uid: number; gid: number } | undefined, argv: string[]): [string, string[]] {
  return user ? ['setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--', ...argv]] : [argv[0]!, argv.slice(1)];
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = execFileSync(join(ROOT, 'tools', 'postgres.sh'), { encoding: 'utf8' }).trim();
  const user = unprivileged();
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-pg-'));
  chmodSync(dir, 0o755);
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  const [cmd, args] = asUser(user, [join(bin, 'initdb'), '-D', data, '-U', 'floodgate', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  const port = await freePort();
  const [pcmd, pargs] = asUser(user, [join(bin, 'postgres'), '-D', data, '-k', dir, '-p', String(port), '-h', '127.0.0.1', '-c', 'max_connections=200']);
  const proc: ChildProcess = spawn(pcmd, pargs, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => { stderr += d; });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const reap = () => { if (proc.exitCode === null) proc.kill('SIGKILL'); };
  process.once('exit', reap);
  const url = `postgres://floodgate@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const c = new pg.Client({ connectionString: url });
    try {
      await c.connect();
      await c.end();
      break;
    } catch {
      await c.end().catch(() => {});
      if (proc.exitCode !== null || Date.now() > deadline) {
        reap();
        throw new Error(`postgres did not start: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url, port, pid: proc.pid!,
    async stop() {
      process.off('exit', reap);
      // SIGINT: PostgreSQL's fast shutdown (disconnect clients, checkpoint, exit).
      if (proc.exitCode === null) proc.kill('SIGINT');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// The S3 command-line clients of the client matrix (e2e/gateway-clients.test.ts), each behind one
// small interface: rclone, MinIO's mc and s3go (aws-sdk-go-v2, e2e/go) from the cache that
// tools/s3clients.sh fills, s3cmd from the venv of tools/pydeps.sh. Every client gets its own
// config in a temp dir and never reads the user's ~/.aws, ~/.mc, ~/.s3cfg or rclone.conf.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { VENV_BIN } from './python.ts';

const exec = promisify(execFile);
export const CLIENTS_BIN = join(process.env.FLOODGATE_CACHE ?? join(homedir(), '.cache', 'floodgate'), 's3clients', 'bin');

export interface Endpoint {
  url: string;
  creds: { accessKeyId: string; secretAccessKey: string };
}

export interface S3Cli {
  name: string;
  mb(bucket: string): Promise<void>;
  put(file: string, bucket: string, key: string): Promise<void>;
  get(bucket: string, key: string, file: string): Promise<void>;
  /** Every key in the bucket. */
  ls(bucket: string): Promise<string[]>;
  rm(bucket: string, key: string): Promise<void>;
  rmRecursive(bucket: string, prefix: string): Promise<void>;
  /** Uploads what differs; returns how many files it uploaded. */
  syncUp(dir: string, bucket: string, prefix: string): Promise<number>;
  syncDown(bucket: string, prefix: string, dir: string): Promise<void>;
  rb(bucket: string): Promise<void>;
}

export class CliError extends Error {
  override name = 'CliError';
  readonly stderr: string;
  constructor(message: string, stderr: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.stderr = stderr;
  }
}

function runner(bin: string, env: NodeJS.ProcessEnv, base: string[] = []) {
  return async (...args: string[]): Promise<{ stdout: string; stderr: string }> => {
    try {
      return await exec(bin, [...base, ...args], { env, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
    } catch (e) {
      const err = e as Error & { stderr?: string; stdout?: string };
      const stderr = `${err.stderr ?? ''}${err.stdout ?? ''}`;
      throw new CliError(`${bin.split('/').pop()} ${args.join(' ')} failed: ${stderr.slice(-4000) || err.message}`, stderr, { cause: e });
    }
  };
}

/** The environment without the user's AWS or client settings. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(AWS_|MC_|RCLONE_)/.test(k)) env[k] = v;
  return { ...env, ...extra };
}

/** A node:test `skip` value per client: false when installed, else what to run. */
export function missing(name: 'rclone' | 'mc' | 's3go' | 's3cmd'): false | string {
  const path = name === 's3cmd' ? join(VENV_BIN, 's3cmd') : join(CLIENTS_BIN, name);
  if (existsSync(path)) return false;
  return `${name} not installed: run ${name === 's3cmd' ? 'tools/pydeps.sh' : 'tools/s3clients.sh'} (make testdeps does)`;
}

const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');

export function rclone(ep: Endpoint, dir: string): S3Cli & { purge(path: string): Promise<void> } {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'rclone.conf'), '');
  const env = cleanEnv({
    RCLONE_CONFIG: join(dir, 'rclone.conf'),
    RCLONE_CONFIG_FG_TYPE: 's3', RCLONE_CONFIG_FG_PROVIDER: 'Other', RCLONE_CONFIG_FG_ENDPOINT: ep.url,
    RCLONE_CONFIG_FG_ACCESS_KEY_ID: ep.creds.accessKeyId, RCLONE_CONFIG_FG_SECRET_ACCESS_KEY: ep.creds.secretAccessKey,
    RCLONE_CONFIG_FG_REGION: 'us-east-1', RCLONE_CONFIG_FG_FORCE_PATH_STYLE: 'true',
    // 100 MiB goes multipart in 16 MiB parts (the default cutoff is 200 MiB).
    RCLONE_CONFIG_FG_UPLOAD_CUTOFF: '16M', RCLONE_CONFIG_FG_CHUNK_SIZE: '16M',
    XDG_CACHE_HOME: join(dir, 'cache'),
  });
  const run = runner(join(CLIENTS_BIN, 'rclone'), env, ['--retries', '1', '--low-level-retries', '1']);
  return {
    name: 'rclone',
    async mb(b) { await run('mkdir', `fg:${b}`); },
    async put(f, b, k) { await run('copyto', f, `fg:${b}/${k}`); },
    async get(b, k, f) { await run('copyto', `fg:${b}/${k}`, f); },
    async ls(b) { return lines((await run('lsf', '-R', '--files-only', `fg:${b}`)).stdout); },
    async rm(b, k) { await run('deletefile', `fg:${b}/${k}`); },
    async rmRecursive(b, p) { await run('delete', `fg:${b}/${p}`); },
    async syncUp(d, b, p) {
      const r = await run('sync', '--log-level', 'INFO', d, `fg:${b}/${p}`);
      return lines(r.stderr).filter((l) => /: Copied \((new|replaced)/.test(l)).length;
    },
    async syncDown(b, p, d) { await run('sync', `fg:${b}/${p}`, d); },
    async rb(b) { await run('rmdir', `fg:${b}`); },
    /** Everything under `path` (a bucket or bucket/prefix); asks GetBucketVersioning first. */
    async purge(path) {
      const r = await run('purge', `fg:${path}`);
      // rclone logs some failures and still exits 0: an error line is a failure too.
      if (/ERROR/.test(r.stderr)) throw new CliError(`rclone purge fg:${path} logged an error: ${r.stderr}`, r.stderr);
    },
  };
}

export function mc(ep: Endpoint, dir: string): S3Cli {
  mkdirSync(dir, { recursive: true });
  const u = new URL(ep.url);
  const env = cleanEnv({ MC_HOST_fg: `${u.protocol}//${encodeURIComponent(ep.creds.accessKeyId)}:${encodeURIComponent(ep.creds.secretAccessKey)}@${u.host}` });
  const run = runner(join(CLIENTS_BIN, 'mc'), env, ['--config-dir', join(dir, 'mc'), '--json', '--quiet', '--disable-pager']);
  const records = (s: string) => lines(s).map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    name: 'mc',
    async mb(b) { await run('mb', '--ignore-existing', `fg/${b}`); },
    async put(f, b, k) { await run('cp', f, `fg/${b}/${k}`); },
    async get(b, k, f) { await run('cp', `fg/${b}/${k}`, f); },
    async ls(b) { return records((await run('ls', '--recursive', `fg/${b}`)).stdout).filter((r) => r.type === 'file').map((r) => r.key as string); },
    async rm(b, k) { await run('rm', `fg/${b}/${k}`); },
    async rmRecursive(b, p) { await run('rm', '--recursive', '--force', `fg/${b}/${p}`); },
    async syncUp(d, b, p) {
      const r = await run('mirror', `${d}/`, `fg/${b}/${p}`);
      return records(r.stdout).filter((x) => x.status === 'success' && typeof x.source === 'string' && typeof x.target === 'string').length;
    },
    async syncDown(b, p, d) { await run('mirror', `fg/${b}/${p}`, `${d}/`); },
    async rb(b) { await run('rb', `fg/${b}`); },
  };
}

export function s3go(ep: Endpoint, dir: string): S3Cli {
  mkdirSync(dir, { recursive: true });
  const env = cleanEnv({
    AWS_ENDPOINT_URL_S3: ep.url, AWS_ACCESS_KEY_ID: ep.creds.accessKeyId, AWS_SECRET_ACCESS_KEY: ep.creds.secretAccessKey,
    AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'), AWS_EC2_METADATA_DISABLED: 'true',
  });
  const run = runner(join(CLIENTS_BIN, 's3go'), env);
  const json = async (...a: string[]) => JSON.parse((await run(...a)).stdout) as Record<string, unknown>;
  return {
    name: 's3go',
    async mb(b) {
      try { await run('mb', b); } catch (e) { if (!/BucketAlreadyOwnedByYou/.test((e as CliError).stderr)) throw e; }
    },
    async put(f, b, k) { await run('put', f, b, k); },
    async get(b, k, f) { await run('get', b, k, f); },
    async ls(b) { return ((await json('ls', b)).keys as { key: string }[]).map((o) => o.key); },
    async rm(b, k) { await run('rm', b, k); },
    async rmRecursive(b, p) { await run('rm-recursive', b, p); },
    async syncUp(d, b, p) { return (await json('sync-up', d, b, p)).uploaded as number; },
    async syncDown(b, p, d) { await run('sync-down', b, p, d); },
    async rb(b) { await run('rb', b); },
  };
}

export function s3cmd(ep: Endpoint, dir: string): S3Cli {
  mkdirSync(dir, { recursive: true });
  const host = new URL(ep.url).host;
  const cfg = join(dir, 's3cfg');
  // host_bucket without %(bucket)s: path-style requests to the gateway's address.
  writeFileSync(cfg, `[default]\naccess_key = ${ep.creds.accessKeyId}\nsecret_key = ${ep.creds.secretAccessKey}\nhost_base = ${host}\nhost_bucket = ${host}\n` +
    'use_https = False\nsignature_v2 = False\nbucket_location = us-east-1\nmultipart_chunk_size_mb = 15\nprogress_meter = False\n');
  const run = runner(join(VENV_BIN, 's3cmd'), cleanEnv({ HOME: dir }), ['-c', cfg, '--no-check-certificate']);
  return {
    name: 's3cmd',
    async mb(b) {
      try { await run('mb', `s3://${b}`); } catch (e) { if (!/BucketAlreadyOwnedByYou|already own/i.test((e as CliError).stderr)) throw e; }
    },
    async put(f, b, k) { await run('put', f, `s3://${b}/${k}`); },
    async get(b, k, f) { await run('get', '--force', `s3://${b}/${k}`, f); },
    async ls(b) {
      const prefix = `s3://${b}/`;
      return lines((await run('ls', '-r', prefix)).stdout).map((l) => l.slice(l.indexOf(prefix) + prefix.length));
    },
    async rm(b, k) { await run('del', `s3://${b}/${k}`); },
    async rmRecursive(b, p) { await run('del', '--recursive', '--force', `s3://${b}/${p}`); },
    async syncUp(d, b, p) { return lines((await run('sync', `${d}/`, `s3://${b}/${p}`)).stdout).filter((l) => l.startsWith('upload:')).length; },
    async syncDown(b, p, d) { await run('sync', `s3://${b}/${p}`, `${d}/`); },
    async rb(b) { await run('rb', `s3://${b}`); },
  };
}

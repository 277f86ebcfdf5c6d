// The cached Python virtualenv with boto3 and the AWS CLI (tools/pydeps.sh builds it; `make
// testdeps` runs that): where it is, whether it is there, and how to run its python and aws.
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const VENV_BIN = join(process.env.FLOODGATE_CACHE ?? join(homedir(), '.cache', 'floodgate'), 'pyenv', 'bin');

/** A node:test `skip` value: false when the venv is ready, else the reason. */
export const noPython: false | string = existsSync(join(VENV_BIN, 'aws')) && existsSync(join(VENV_BIN, 'python'))
  ? false
  : 'boto3/AWS CLI not installed: run tools/pydeps.sh (make testdeps does)';

export interface RunOutput {
  stdout: string;
  stderr: string;
}

/** Environment for a python client run that never reads ~/.aws or an instance metadata service. */
export function isolatedAwsEnv(dir: string, creds: { accessKeyId: string; secretAccessKey: string }, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const config = join(dir, 'aws-config');
  const credentials = join(dir, 'aws-credentials');
  writeFileSync(config, '[default]\nregion = us-east-1\noutput = json\n');
  writeFileSync(credentials, `[default]\naws_access_key_id = ${creds.accessKeyId}\naws_secret_access_key = ${creds.secretAccessKey}\n`);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AWS_')) env[k] = v;
  return {
    ...env,
    AWS_CONFIG_FILE: config,
    AWS_SHARED_CREDENTIALS_FILE: credentials,
    AWS_EC2_METADATA_DISABLED: 'true',
    PYTHONDONTWRITEBYTECODE: '1',
    ...extra,
  };
}

/** Runs a script with the venv's python; rejects with stderr in the message when it fails. */
export async function runPython(script: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunOutput> {
  try {
    return await run(join(VENV_BIN, 'python'), [script, ...args], { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 180_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`python ${script} failed: ${err.message}\n${err.stderr ?? ''}`, { cause: e });
  }
}

/** A runner for the venv's `aws` against one endpoint. */
export function awsCli(endpoint: string, env: NodeJS.ProcessEnv, timeoutMs = 180_000): (...args: string[]) => Promise<RunOutput> {
  return async (...args: string[]) => {
    try {
      return await run(join(VENV_BIN, 'aws'), ['--endpoint-url', endpoint, ...args], { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    } catch (e) {
      const err = e as Error & { stderr?: string; stdout?: string; code?: number };
      throw Object.assign(new Error(`aws ${args.join(' ')} failed (${err.code}): ${err.stderr ?? err.message}`, { cause: e }), { stdout: err.stdout, stderr: err.stderr });
    }
  };
}

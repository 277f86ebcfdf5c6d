// Access keys: from the environment, from the config file, or generated once and kept (0600)
// under the data directory. There is no built-in default secret.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Credentials } from './auth/sigv4.ts';

/**
 * The one minimum length for every secret and token Floodgate accepts, however it arrives (flag,
 * environment, YAML, file): gateway secret keys, the fault control token, the injector's token.
 */
export const MIN_SECRET_LENGTH = 8;

/** Throws `make(message)` when `secret` is shorter than MIN_SECRET_LENGTH. */
export function checkSecretLength(what: string, secret: string, make: (message: string) => Error = (m) => new Error(m)): void {
  if (secret.length < MIN_SECRET_LENGTH) throw make(`${what}: must be at least ${MIN_SECRET_LENGTH} characters`);
}

export interface KeySet {
  keys: Map<string, string>;
  /** The pair to show the user, when it was generated or loaded from the data dir. */
  generated?: Credentials & { created: boolean; file: string };
  /** Said once at start: a credentials file others can read. */
  warning?: string;
}

function generate(): Credentials {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const id = [...randomBytes(16)].map((b) => alphabet[b % 32]).join('');
  return { accessKeyId: `FG${id}`, secretAccessKey: randomBytes(30).toString('base64url') };
}

export function loadKeys(dataDir: string, configured: Credentials[], env: NodeJS.ProcessEnv = process.env): KeySet {
  const keys = new Map<string, string>();
  for (const c of configured) keys.set(c.accessKeyId, c.secretAccessKey);
  if (env.FLOODGATE_ACCESS_KEY || env.FLOODGATE_SECRET_KEY) {
    if (!env.FLOODGATE_ACCESS_KEY || !env.FLOODGATE_SECRET_KEY) throw new Error('set both FLOODGATE_ACCESS_KEY and FLOODGATE_SECRET_KEY, or neither');
    checkSecretLength('FLOODGATE_SECRET_KEY', env.FLOODGATE_SECRET_KEY);
    keys.set(env.FLOODGATE_ACCESS_KEY, env.FLOODGATE_SECRET_KEY);
  }
  if (keys.size > 0) return { keys };
  const dir = join(dataDir, '.floodgate');
  const file = join(dir, 'credentials.json');
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as Credentials;
    keys.set(c.accessKeyId, c.secretAccessKey);
    const mode = statSync(file).mode & 0o777;
    const warning = mode & 0o077 ? `${file} is readable by others (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 it` : undefined;
    return { keys, generated: { ...c, created: false, file }, warning };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read ${file}`, { cause: e });
  }
  const c = generate();
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, JSON.stringify(c, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  keys.set(c.accessKeyId, c.secretAccessKey);
  return { keys, generated: { ...c, created: true, file } };
}

// Access keys: from the environment, from the config file, or generated once and kept (0600)
// under the data directory. There is no built-in default secret.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Credentials } from './auth/sigv4.ts';

export interface KeySet {
  keys: Map<string, string>;
  /** The pair to show the user, when it was generated or loaded from the data dir. */
  generated?: Credentials & { created: boolean };
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
    keys.set(env.FLOODGATE_ACCESS_KEY, env.FLOODGATE_SECRET_KEY);
  }
  if (keys.size > 0) return { keys };
  const dir = join(dataDir, '.floodgate');
  const file = join(dir, 'credentials.json');
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as Credentials;
    keys.set(c.accessKeyId, c.secretAccessKey);
    return { keys, generated: { ...c, created: false } };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read ${file}`, { cause: e });
  }
  const c = generate();
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, JSON.stringify(c, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  keys.set(c.accessKeyId, c.secretAccessKey);
  return { keys, generated: { ...c, created: true } };
}

// What the admin API's commands (`floodgate gateway find`, `jobs`, `gc`) share: the flags that
// name the gateway and its token, strict parsing with --help, asking the API, and errors reported
// as one line with the exit code — 0 done, 1 the gateway could not be asked or refused, 2 a usage
// error (with the hint to --help).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

export interface FlagSpec {
  type: 'string' | 'boolean';
  help: string;
  short?: string;
  multiple?: boolean;
}

/** The gateway and the token, the same on every command. */
export const ADMIN_FLAGS = {
  endpoint: { type: 'string', help: 'the gateway (env FLOODGATE_ENDPOINT, default http://127.0.0.1:9000)' },
  'admin-token': { type: 'string', help: 'the admin API bearer token (env FLOODGATE_ADMIN_TOKEN)' },
  'admin-token-file': { type: 'string', help: 'read the token from this file (env FLOODGATE_ADMIN_TOKEN_FILE)' },
} as const satisfies Record<string, FlagSpec>;

export const HELP_FLAG = { help: { type: 'boolean', short: 'h', help: 'show this help' } } as const satisfies Record<string, FlagSpec>;

/** A command's usage: its lines, then one line per flag. */
export function usageText(lines: string[], flags: Record<string, FlagSpec>): string {
  return [...lines, '', 'Flags:', ...Object.entries(flags).map(([n, f]) => `  --${n.padEnd(19)} ${f.help}`)].join('\n');
}

export class UsageError extends Error {}

export interface Out {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export const STDIO: Out = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) };

export type Fail = (code: number, msg: string) => number;

/** Reports an error of `floodgate gateway <cmd>` and returns its exit code (2: usage, with the hint to --help). */
export function failer(out: Out, cmd: string, what: string): Fail {
  return (code, msg) => {
    out.stderr(`floodgate gateway ${cmd}: ${msg}\n${code === 2 ? `Run \`floodgate gateway ${cmd} --help\` for the ${what}.\n` : ''}`);
    return code;
  };
}

export interface Command {
  /** `floodgate gateway <cmd>` */
  cmd: string;
  /** What --help lists, for the usage error's hint: 'flags', 'commands'. */
  what: string;
  flags: Record<string, FlagSpec>;
  usage: () => string;
  positionals: boolean;
}

/**
 * Parses `argv` strictly (an unknown flag is a usage error, before anything is asked). A number
 * is the exit code to return at once: 0 after printing --help, 2 for a usage error.
 */
export function parseCommand(argv: string[], c: Command, out: Out): { values: Record<string, unknown>; positionals: string[]; fail: Fail } | number {
  const fail = failer(out, c.cmd, c.what);
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: c.flags as never, strict: true, allowPositionals: c.positionals });
  } catch (e) {
    return fail(2, (e as Error).message);
  }
  if (parsed.values.help) {
    out.stdout(c.usage() + '\n');
    return 0;
  }
  return { ...parsed, fail };
}

export function tokenOf(values: Record<string, unknown>, env: NodeJS.ProcessEnv): string {
  const direct = (values['admin-token'] as string | undefined) ?? env.FLOODGATE_ADMIN_TOKEN;
  if (direct) return direct;
  const file = (values['admin-token-file'] as string | undefined) ?? env.FLOODGATE_ADMIN_TOKEN_FILE;
  if (!file) throw new UsageError('needs the admin token: --admin-token-file FILE, --admin-token, or FLOODGATE_ADMIN_TOKEN');
  let t: string;
  try {
    t = readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new UsageError(`--admin-token-file: cannot read ${file}: ${(e as Error).message}`);
  }
  if (!t) throw new UsageError(`--admin-token-file: ${file} is empty`);
  return t;
}

/** The admin API route `path` of the gateway named by --endpoint (or FLOODGATE_ENDPOINT). */
export function adminUrl(values: Record<string, unknown>, env: NodeJS.ProcessEnv, path: string): URL {
  const endpoint = (values.endpoint as string | undefined) ?? env.FLOODGATE_ENDPOINT ?? 'http://127.0.0.1:9000';
  let base: URL;
  try {
    base = new URL(`/_floodgate/admin/${path}`, endpoint);
  } catch {
    throw new UsageError(`--endpoint: not a URL: "${endpoint}"`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new UsageError(`--endpoint: expected http:// or https://, got "${endpoint}"`);
  return base;
}

/** Asks the admin API; a gateway that cannot be reached is an Error naming it. */
export async function adminFetch(url: URL, token: string, method = 'GET'): Promise<{ res: Response; body: Record<string, unknown> | undefined }> {
  let res: Response;
  try {
    res = await fetch(url, { method, headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(60_000) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`cannot reach ${url.origin}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  }
  return { res, body: await res.json().catch(() => undefined) as Record<string, unknown> | undefined };
}

/** Why an answer that is not a 200 is one: the API's error, or a hint that this is no admin API. */
export function adminRefusal(url: URL, res: Response, body: Record<string, unknown> | undefined): string {
  if (typeof body?.error !== 'string') return `${url.origin} answered ${res.status} without the admin API's JSON: is the gateway started with --admin-token?`;
  return `${res.status}: ${body.error}`;
}

/** Asks the API: its JSON body on a 200, else the exit code after saying why (2 for a 400: the input was bad). */
export async function ask(url: URL, token: string, method: string, fail: Fail): Promise<Record<string, unknown> | number> {
  let got: Awaited<ReturnType<typeof adminFetch>>;
  try {
    got = await adminFetch(url, token, method);
  } catch (e) {
    return fail(1, (e as Error).message);
  }
  const { res, body } = got;
  if (!res.ok) return fail(res.status === 400 ? 2 : 1, adminRefusal(url, res, body));
  return body ?? {};
}

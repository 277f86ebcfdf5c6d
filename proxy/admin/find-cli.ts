// `floodgate gateway find`: the metadata search of a running gateway (GET /_floodgate/admin/find),
// every page followed, one line per object (`--json`: one JSON object per line). Exit 0 when the
// search ran, 1 when the gateway could not be asked or refused the token, 2 for a usage error —
// also when the gateway finds a filter bad (its 400 names the flag).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { MAX_LIMIT } from './find-params.ts';
import type { FoundView } from './find-route.ts';

/** Flag → query parameter of the API (and what it takes, for --help). */
const FILTERS = {
  bucket: { param: 'bucket', help: 'the virtual bucket to search (required)' },
  prefix: { param: 'prefix', help: 'keys starting with this' },
  'min-size': { param: 'minSize', help: 'size ≥ this: bytes or 10Mi, 1.5GB…' },
  'max-size': { param: 'maxSize', help: 'size ≤ this' },
  'modified-since': { param: 'modifiedSince', help: 'Last-Modified ≥ this: 2026-01-31 or 2026-01-31T12:00:00Z' },
  'modified-before': { param: 'modifiedBefore', help: 'Last-Modified < this' },
  'content-type': { param: 'contentType', help: 'exact Content-Type, or type/* (image/*)' },
  meta: { param: 'meta', help: 'user metadata name=value, or a name for any value; repeatable (all must hold)' },
  backend: { param: 'backend', help: 'objects with a copy on this backend' },
  'min-replicas': { param: 'minReplicas', help: 'at least this many copies' },
  'max-replicas': { param: 'maxReplicas', help: 'at most this many copies' },
} as const;

const FLAGS = {
  endpoint: { type: 'string', help: 'the gateway (env FLOODGATE_ENDPOINT, default http://127.0.0.1:9000)' },
  'admin-token': { type: 'string', help: 'the admin API bearer token (env FLOODGATE_ADMIN_TOKEN)' },
  'admin-token-file': { type: 'string', help: 'read the token from this file (env FLOODGATE_ADMIN_TOKEN_FILE)' },
  ...Object.fromEntries(Object.entries(FILTERS).map(([k, f]) => [k, { type: 'string', help: f.help, ...(k === 'meta' ? { multiple: true } : {}) }])),
  limit: { type: 'string', help: 'print at most this many objects, then the token to go on (default: all)' },
  'page-size': { type: 'string', help: `objects per request, 1..${MAX_LIMIT} (default ${MAX_LIMIT})` },
  'continuation-token': { type: 'string', help: 'resume where a --limit run stopped' },
  json: { type: 'boolean', help: 'one JSON object per line instead of "lastModified size backend key"' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const satisfies Record<string, { type: 'string' | 'boolean'; help: string; multiple?: boolean; short?: string }>;

export function findUsage(): string {
  return ['Usage: floodgate gateway find --bucket NAME [filters] [--endpoint URL] [--admin-token-file FILE]', '',
    'Searches a running gateway\'s placement index (GET /_floodgate/admin/find, docs/gateway.md#admin-api):',
    'objects matching every filter given, in key order.', '', 'Flags:',
    ...Object.entries(FLAGS).map(([n, f]) => `  --${n.padEnd(19)} ${f.help}`)].join('\n');
}

export class UsageError extends Error {}

export interface Out {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const PARAM_TO_FLAG = new Map<string, string>(Object.entries(FILTERS).map(([flag, f]) => [f.param, `--${flag}`]));

function positive(name: string, v: string | undefined, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > max) throw new UsageError(`--${name}: expected a whole number 1..${max}, got "${v}"`);
  return n;
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

function line(o: FoundView): string {
  return `${o.lastModified}  ${String(o.size).padStart(12)}  ${o.backend}  ${o.key}`;
}

export const STDIO: Out = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) };

/** Reports an error of `floodgate gateway <cmd>` and returns its exit code (2: usage, with the hint to --help). */
export function failer(out: Out, cmd: string, what: string): (code: number, msg: string) => number {
  return (code, msg) => {
    out.stderr(`floodgate gateway ${cmd}: ${msg}\n${code === 2 ? `Run \`floodgate gateway ${cmd} --help\` for the ${what}.\n` : ''}`);
    return code;
  };
}

export async function runFind(argv: string[], env: NodeJS.ProcessEnv = process.env, out: Out = STDIO): Promise<number> {
  const fail = failer(out, 'find', 'flags');
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: argv, options: FLAGS as never, strict: true, allowPositionals: false }));
  } catch (e) {
    return fail(2, (e as Error).message);
  }
  if (values.help) {
    out.stdout(findUsage() + '\n');
    return 0;
  }
  let base: URL, token: string, limit: number | undefined, pageSize: number;
  const params = new URLSearchParams();
  try {
    if (!values.bucket) throw new UsageError('--bucket is required');
    base = adminUrl(values, env, 'find');
    token = tokenOf(values, env);
    limit = positive('limit', values.limit as string | undefined);
    pageSize = positive('page-size', values['page-size'] as string | undefined, MAX_LIMIT) ?? MAX_LIMIT;
    for (const [flag, f] of Object.entries(FILTERS)) {
      const v = values[flag] as string | string[] | undefined;
      for (const one of v === undefined ? [] : Array.isArray(v) ? v : [v]) params.append(f.param, one);
    }
  } catch (e) {
    if (e instanceof UsageError) return fail(2, e.message);
    throw e;
  }
  let next = values['continuation-token'] as string | undefined;
  let printed = 0;
  for (;;) {
    const url = new URL(base);
    url.search = params.toString();
    const want = limit === undefined ? pageSize : Math.min(pageSize, limit - printed);
    url.searchParams.set('limit', String(want));
    if (next !== undefined) url.searchParams.set('continuationToken', next);
    let got: Awaited<ReturnType<typeof adminFetch>>;
    try {
      got = await adminFetch(url, token);
    } catch (e) {
      return fail(1, (e as Error).message);
    }
    const { res } = got;
    const body = got.body as { error?: string; objects?: FoundView[]; isTruncated?: boolean; nextContinuationToken?: string } | undefined;
    if (!res.ok) {
      if (!body?.error) return fail(1, adminRefusal(base, res, body));
      const msg = body.error;
      if (res.status === 400) {
        // The API names its parameter; the user typed a flag.
        const m = /^(\w+): (.*)$/s.exec(msg);
        return fail(2, m && PARAM_TO_FLAG.has(m[1]!) ? `${PARAM_TO_FLAG.get(m[1]!)}: ${m[2]}` : m?.[1] === 'continuationToken' ? `--continuation-token: ${m[2]}` : msg);
      }
      return fail(1, adminRefusal(base, res, body));
    }
    if (!body?.objects) return fail(1, `${base.origin} did not answer like a Floodgate admin API (${res.status}, ${res.headers.get('content-type')})`);
    out.stdout(body.objects.map((o) => (values.json ? JSON.stringify(o) : line(o)) + '\n').join(''));
    printed += body.objects.length;
    if (!body.isTruncated) return 0;
    next = body.nextContinuationToken;
    if (limit !== undefined && printed >= limit) {
      out.stderr(`floodgate gateway find: stopped at --limit ${limit}; more match: --continuation-token ${next}\n`);
      return 0;
    }
  }
}

// `floodgate gateway find`: the metadata search of a running gateway (GET /_floodgate/admin/find),
// every page followed, one line per object (`--json`: one JSON object per line). Exit 0 when the
// search ran, 1 when the gateway could not be asked or refused the token, 2 for a usage error —
// also when the gateway finds a filter bad (its 400 names the flag).
import { ADMIN_FLAGS, adminFetch, adminRefusal, adminUrl, HELP_FLAG, parseCommand, STDIO, tokenOf, usageText, UsageError, type FlagSpec, type Out } from './admin-cli.ts';
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
  ...ADMIN_FLAGS,
  ...Object.fromEntries(Object.entries(FILTERS).map(([k, f]) => [k, { type: 'string', help: f.help, ...(k === 'meta' ? { multiple: true } : {}) }])),
  limit: { type: 'string', help: 'print at most this many objects, then the token to go on (default: all)' },
  'page-size': { type: 'string', help: `objects per request, 1..${MAX_LIMIT} (default ${MAX_LIMIT})` },
  'continuation-token': { type: 'string', help: 'resume where a --limit run stopped' },
  json: { type: 'boolean', help: 'one JSON object per line instead of "lastModified size backend key"' },
  ...HELP_FLAG,
} as const satisfies Record<string, FlagSpec>;

export function findUsage(): string {
  return usageText(['Usage: floodgate gateway find --bucket NAME [filters] [--endpoint URL] [--admin-token-file FILE]', '',
    'Searches a running gateway\'s placement index (GET /_floodgate/admin/find, docs/gateway.md#admin-api):',
    'objects matching every filter given, in key order.'], FLAGS);
}

const PARAM_TO_FLAG = new Map<string, string>(Object.entries(FILTERS).map(([flag, f]) => [f.param, `--${flag}`]));

function positive(name: string, v: string | undefined, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > max) throw new UsageError(`--${name}: expected a whole number 1..${max}, got "${v}"`);
  return n;
}

function line(o: FoundView): string {
  return `${o.lastModified}  ${String(o.size).padStart(12)}  ${o.backend}  ${o.key}`;
}

export async function runFind(argv: string[], env: NodeJS.ProcessEnv = process.env, out: Out = STDIO): Promise<number> {
  const parsed = parseCommand(argv, { cmd: 'find', what: 'flags', flags: FLAGS, usage: findUsage, positionals: false }, out);
  if (typeof parsed === 'number') return parsed;
  const { values, fail } = parsed;
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

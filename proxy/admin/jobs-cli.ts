// `floodgate gateway jobs`: the background job queue of a running gateway (admin/jobs-route.ts).
//   jobs list [--kind K] [--json]          every queued job, one line each (pages followed)
//   jobs cancel ID                         cancel one
//   jobs drain --bucket B --backend N      move every object off a backend; it takes no new writes
//   jobs undrain --bucket B --backend N    end a drain: the backend takes writes again
//   jobs rebalance --bucket B              move objects whose placement changed (rendezvous)
// Exit 0 when done, 1 when the gateway could not be asked or refused, 2 for a usage error.
import { ADMIN_FLAGS, adminUrl, ask, HELP_FLAG, parseCommand, STDIO, tokenOf, usageText, UsageError, type FlagSpec, type Out } from './admin-cli.ts';
import type { GcStatus } from '../health/status.ts';
import { gcCounts } from './gc-cli.ts';
import type { JobView } from './jobs-route.ts';

const FLAGS = {
  ...ADMIN_FLAGS,
  bucket: { type: 'string', help: 'drain, undrain, rebalance: the virtual bucket' },
  backend: { type: 'string', help: 'drain, undrain: the backend' },
  kind: { type: 'string', help: 'list: only jobs of this kind (copy, remove, repair, drain, rebalance)' },
  json: { type: 'boolean', help: 'one JSON object per line' },
  ...HELP_FLAG,
} as const satisfies Record<string, FlagSpec>;

export function jobsUsage(): string {
  return usageText(['Usage: floodgate gateway jobs <list|cancel ID|drain|undrain|rebalance> [flags]', '',
    'The background job queue of a running gateway (docs/balancing.md#background-jobs):',
    '  list                              queued jobs: id, kind, state, attempts, bucket, backend, progress, last error',
    '  cancel ID                         cancel a job',
    '  drain --bucket B --backend N      move every object off backend N; it takes no new writes from now on',
    '  undrain --bucket B --backend N    end the drain of N: it takes writes again',
    '  rebalance --bucket B              move the objects whose placement changed (rendezvous buckets)'], FLAGS);
}

function progressText(kind: JobView['kind'], p: unknown): string {
  if (!p || typeof p !== 'object') return '';
  const o = p as Record<string, unknown>;
  if (typeof o.moved === 'number') return `pass ${o.pass} scanned ${o.scanned} moved ${o.moved} (${o.movedBytes} B) failed ${o.failed}`;
  if (kind === 'gc') return `${o.phase} ${gcCounts(o as unknown as GcStatus)}`;
  if (typeof o.scanned === 'number') return `scanned ${o.scanned} queued ${o.queued ?? 0}`;
  return '';
}

function line(j: JobView): string {
  return [String(j.id).padStart(6), j.kind.padEnd(9), j.state.padEnd(7), `attempts=${j.attempts}`, j.bucket, j.backend ?? '-', j.key ?? '',
    progressText(j.kind, j.progress), j.lastError ? `error: ${j.lastError}` : ''].filter((x) => x !== '').join('  ');
}

export async function runJobs(argv: string[], env: NodeJS.ProcessEnv = process.env, out: Out = STDIO): Promise<number> {
  const parsed = parseCommand(argv, { cmd: 'jobs', what: 'commands', flags: FLAGS, usage: jobsUsage, positionals: true }, out);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals, fail } = parsed;
  const [cmd, ...rest] = positionals;
  let url: URL, token: string, method = 'GET';
  try {
    const need = (name: 'bucket' | 'backend') => {
      const v = values[name] as string | undefined;
      if (!v) throw new UsageError(`${cmd}: --${name} is required`);
      return v;
    };
    token = tokenOf(values, env);
    url = adminUrl(values, env, 'jobs');
    if (cmd === 'list') {
      if (values.kind) url.searchParams.set('kind', values.kind as string);
    } else if (cmd === 'cancel') {
      if (rest.length !== 1 || !/^\d+$/.test(rest[0]!)) throw new UsageError('cancel: expected one job id');
      url.searchParams.set('id', rest[0]!);
      method = 'DELETE';
    } else if (cmd === 'drain' || cmd === 'rebalance') {
      url.searchParams.set('kind', cmd);
      url.searchParams.set('bucket', need('bucket'));
      if (cmd === 'drain') url.searchParams.set('backend', need('backend'));
      method = 'POST';
    } else if (cmd === 'undrain') {
      url = adminUrl(values, env, 'drains');
      url.searchParams.set('bucket', need('bucket'));
      url.searchParams.set('backend', need('backend'));
      method = 'DELETE';
    } else {
      throw new UsageError(cmd ? `unknown command "${cmd}"` : 'a command is required: list, cancel, drain, undrain or rebalance');
    }
    if (cmd !== 'cancel' && rest.length) throw new UsageError(`${cmd}: unexpected argument "${rest[0]}"`);
  } catch (e) {
    if (e instanceof UsageError) return fail(2, e.message);
    throw e;
  }
  const show = (j: JobView) => out.stdout(`${values.json ? JSON.stringify(j) : line(j)}\n`);
  for (;;) {
    const body = await ask(url, token, method, fail);
    if (typeof body === 'number') return body;
    if (cmd !== 'list') {
      const j = (body.job ?? body.cancelled) as JobView | undefined;
      if (j) show(j);
      else if (cmd === 'undrain') out.stdout(`${values.backend} of ${values.bucket} takes writes again\n`);
      return 0;
    }
    for (const j of (body.jobs ?? []) as JobView[]) show(j);
    if (!body.isTruncated) return 0;
    url.searchParams.set('after', String(body.nextAfter));
  }
}

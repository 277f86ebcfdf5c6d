// `floodgate gateway gc`: garbage collection of a running gateway's virtual bucket
// (virtual/gc/admin.ts, docs/balancing.md#garbage-collection-orphans):
//   gc --bucket B [--backend N] [--wait [--timeout D]]   start a run on each backend (or N) that has none going
//   gc --list --bucket B                                  the last (or running) run on each backend
// One line per run (`--json`: one JSON object per line). Exit 0 when done, 1 when the gateway could
// not be asked or refused — or, with --wait, when a run was cancelled, counted errors or outlasted
// --timeout — and 2 for a usage error.
import { parseDuration } from '../../crds/units.ts';
import type { GcStatus } from '../health/status.ts';
import { ADMIN_FLAGS, adminUrl, ask, HELP_FLAG, parseCommand, STDIO, tokenOf, usageText, UsageError, type FlagSpec, type Out } from './admin-cli.ts';

const FLAGS = {
  ...ADMIN_FLAGS,
  bucket: { type: 'string', help: 'the virtual bucket (required)' },
  backend: { type: 'string', help: 'start: only on this backend of it' },
  list: { type: 'boolean', help: 'start nothing: show the last (or running) run on each backend' },
  wait: { type: 'boolean', help: 'start: wait until the runs end, then show them' },
  timeout: { type: 'string', help: 'with --wait: give up after this long, e.g. 30s, 10m (default 1h)' },
  json: { type: 'boolean', help: 'one JSON object per line' },
  ...HELP_FLAG,
} as const satisfies Record<string, FlagSpec>;

const POLL_MS = 500;

export function gcUsage(): string {
  return usageText(['Usage: floodgate gateway gc --bucket B [--backend N] [--wait] | --list --bucket B [flags]', '',
    'Garbage collection of a running gateway (docs/balancing.md#garbage-collection-orphans): a run deletes',
    'the backend objects of the bucket no record holds (orphans) once older than gc.minAge, and reports',
    'records whose copy is missing. Without --list, starts a run on each backend that has none going.',
    'Each run: backend, state, started, finished, objects scanned, orphans found and removed, young',
    '(kept, younger than gc.minAge), records checked, copies missing, errors.'], FLAGS);
}

/** A run's counts in a few words (also a gc job's progress in `jobs list`). */
export function gcCounts(g: Pick<GcStatus, 'scanned' | 'orphans' | 'removed' | 'removedBytes' | 'young' | 'records' | 'missing' | 'errors'>): string {
  return `scanned ${g.scanned} orphans ${g.orphans} removed ${g.removed} (${g.removedBytes} B) young ${g.young} records ${g.records} missing ${g.missing} errors ${g.errors}`;
}

function line(g: GcStatus): string {
  const lastError = g.lastErrors.at(-1);
  return [g.backend, g.state.padEnd(9), `started ${g.startedAt}`, `finished ${g.finishedAt ?? '-'}`, gcCounts(g),
    g.missingKeys.length ? `missing: ${g.missingKeys.join(', ')}` : '', lastError ? `error: ${lastError.key}: ${lastError.error}` : '']
    .filter((x) => x !== '').join('  ');
}

export async function runGc(argv: string[], env: NodeJS.ProcessEnv = process.env, out: Out = STDIO): Promise<number> {
  const parsed = parseCommand(argv, { cmd: 'gc', what: 'flags', flags: FLAGS, usage: gcUsage, positionals: false }, out);
  if (typeof parsed === 'number') return parsed;
  const { values, fail } = parsed;
  const bucket = values.bucket as string | undefined;
  const backend = values.backend as string | undefined;
  let url: URL, token: string, timeoutMs: number;
  try {
    if (!bucket) throw new UsageError('--bucket is required');
    if (values.list && (backend !== undefined || values.wait)) throw new UsageError('--list starts nothing: it takes no --backend or --wait');
    if (values.timeout !== undefined && !values.wait) throw new UsageError('--timeout is for --wait');
    const t = values.timeout === undefined ? 3_600_000 : parseDuration(values.timeout as string);
    if (t === undefined || t <= 0) throw new UsageError(`--timeout: expected a duration like 30s, 10m or 1h, got "${values.timeout}"`);
    timeoutMs = t;
    token = tokenOf(values, env);
    url = adminUrl(values, env, 'gc');
    url.searchParams.set('bucket', bucket);
  } catch (e) {
    if (e instanceof UsageError) return fail(2, e.message);
    throw e;
  }
  const show = (runs: GcStatus[]) => out.stdout(runs.map((g) => `${values.json ? JSON.stringify({ bucket, ...g }) : line(g)}\n`).join(''));
  if (values.list) {
    const body = await ask(url, token, 'GET', fail);
    if (typeof body === 'number') return body;
    show((body.runs ?? []) as GcStatus[]);
    return 0;
  }
  const start = new URL(url);
  if (backend !== undefined) start.searchParams.set('backend', backend);
  const started = await ask(start, token, 'POST', fail);
  if (typeof started === 'number') return started;
  const queued = (started.queued ?? []) as string[];
  out.stderr(queued.length ? `floodgate gateway gc: started on ${queued.join(', ')}\n` : 'floodgate gateway gc: a run is going on already; none started\n');
  const mine = (runs: GcStatus[]) => runs.filter((g) => backend === undefined || g.backend === backend);
  let runs = mine((started.runs ?? []) as GcStatus[]);
  if (values.wait) {
    // The runs asked for, started now or going on already, until none is running.
    const deadline = Date.now() + timeoutMs;
    while (runs.some((g) => g.state === 'running') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
      const body = await ask(url, token, 'GET', fail);
      if (typeof body === 'number') return body;
      runs = mine((body.runs ?? []) as GcStatus[]);
    }
  }
  show(runs);
  if (!values.wait) return 0;
  if (runs.some((g) => g.state === 'running')) return fail(1, `--timeout ${values.timeout ?? '1h'}: a run still going on`);
  const bad = runs.filter((g) => g.state === 'cancelled' || g.errors > 0);
  return bad.length ? fail(1, `${bad.map((g) => `${g.backend}: ${g.state === 'cancelled' ? 'cancelled' : `${g.errors} errors`}`).join(', ')}`) : 0;
}

// What the injector has done to its pod that would outlive its own process: disk-fill
// directories and paused processes. Every change is written (atomically, fsynced) *before* the
// effect happens, so after a kill -9 the next start of the injector finds the record and undoes
// it (recoverState). Memory, CPU and network faults die with the process and are not recorded; a
// killed process cannot be brought back and is not recorded either.
import { closeSync, fsyncSync, openSync, readFileSync, realpathSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { isWithin } from './caps.ts';

export const FILL_PREFIX = '.floodgate-fill-';

export interface PausedPid {
  pid: number;
  /** Start time in clock ticks (/proc/<pid>/stat field 22): tells a reused pid from the process we paused. */
  start: string;
}

export type StateEntry =
  | { id: string; kind: 'disk'; dir: string }
  | { id: string; kind: 'pause'; pids: PausedPid[] };

export interface StateFile {
  set(entry: StateEntry): void;
  delete(id: string): void;
}

export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function writeAtomic(path: string, entries: StateEntry[]): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify({ version: 1, entries }) + '\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function read(path: string): StateEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const parsed = JSON.parse(text) as { entries?: StateEntry[] };
  return Array.isArray(parsed.entries) ? parsed.entries : [];
}

/** A state file at `path`; undefined path: nothing is recorded (memory only). */
export function openStateFile(path: string | undefined): StateFile {
  const entries = new Map<string, StateEntry>();
  const flush = () => { if (path) writeAtomic(path, [...entries.values()]); };
  return {
    set(entry) { entries.set(entry.id, entry); flush(); },
    delete(id) { if (entries.delete(id)) flush(); },
  };
}

export interface Recovered {
  removed: string[];
  resumed: number[];
  /** Entries not acted on, with the reason (outside --disk-path, pid reused, …). */
  skipped: string[];
}

/**
 * Undoes what a previous injector recorded in `path` and empties the file. Only fill directories
 * (named .floodgate-fill-*) under the current disk paths are removed, and only a paused pid whose
 * start time still matches is continued, so a stale or edited file cannot point it elsewhere.
 */
export function recoverState(path: string, diskPaths: string[]): Recovered {
  const out: Recovered = { removed: [], resumed: [], skipped: [] };
  let entries: StateEntry[];
  try {
    entries = read(path);
  } catch (e) {
    out.skipped.push(`${path}: unreadable (${(e as Error).message})`);
    entries = [];
  }
  for (const e of entries) {
    if (e.kind === 'disk') {
      let parent: string | undefined;
      try { parent = realpathSync(dirname(e.dir)); } catch { /* gone */ }
      if (parent === undefined) { out.skipped.push(`${e.dir}: its directory is gone`); continue; }
      const roots = diskPaths.flatMap((r) => { try { return [realpathSync(r)]; } catch { return []; } });
      if (!basename(e.dir).startsWith(FILL_PREFIX) || !isWithin(parent, roots)) { out.skipped.push(`${e.dir}: not a fill directory under --disk-path`); continue; }
      rmSync(`${parent}/${basename(e.dir)}`, { recursive: true, force: true });
      out.removed.push(e.dir);
    } else if (e.kind === 'pause') {
      for (const p of e.pids) {
        if (processStart(p.pid) !== p.start) { out.skipped.push(`pid ${p.pid}: exited (or the pid was reused)`); continue; }
        try { process.kill(p.pid, 'SIGCONT'); out.resumed.push(p.pid); } catch (err) { out.skipped.push(`pid ${p.pid}: ${(err as Error).message}`); }
      }
    }
  }
  writeAtomic(path, []);
  return out;
}

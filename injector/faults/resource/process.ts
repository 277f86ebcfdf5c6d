// Resource fault: pause (SIGSTOP, reverted with SIGCONT) or kill (SIGKILL) processes found by
// name in /proc — the pod's processes when it shares its process namespace. A name matches a
// process's `comm` or its whole command line; the injector never signals itself.
import { readdirSync, readFileSync } from 'node:fs';
import type { Running } from './types.ts';
import { processStart, type PausedPid } from './state.ts';

export function findProcesses(name: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    if (pid === process.pid) continue;
    try {
      const comm = readFileSync(`/proc/${d}/comm`, 'utf8').trim();
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      if (comm === name || cmd === name) out.push(pid);
    } catch { /* gone meanwhile */ }
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** `record` is called with the pids about to be paused before any is stopped (the state file). */
export async function startProcess(name: string, action: 'pause' | 'kill', record?: (pids: PausedPid[]) => void): Promise<Running> {
  const pids = findProcesses(name);
  if (pids.length === 0) throw new Error(`no process named "${name}"`);
  if (action === 'pause') record?.(pids.flatMap((pid) => { const start = processStart(pid); return start ? [{ pid, start }] : []; }));
  const hit = pids.filter((p) => signal(p, action === 'pause' ? 'SIGSTOP' : 'SIGKILL'));
  let paused = action === 'pause' ? hit : [];
  const resume = () => { for (const p of paused) signal(p, 'SIGCONT'); paused = []; };
  return {
    status: () => ({ action, pids: hit }),
    async stop() { resume(); },
    stopSync: resume,
  };
}

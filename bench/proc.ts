// What the bench reads about a process from outside, through /proc: CPU seconds split into user
// and system time, current RSS and its high-water mark (VmHWM, the peak over the process's life).
import { readFileSync } from 'node:fs';

const CLK_TCK = 100; // Linux USER_HZ

export interface Cpu { user: number; sys: number }

/** utime and stime of the process (all its threads), in seconds. */
export function cpu(pid: number): Cpu {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / CLK_TCK, sys: Number(fields[12]) / CLK_TCK };
}

export const cpuSince = (pid: number, before: Cpu): Cpu => {
  const now = cpu(pid);
  return { user: now.user - before.user, sys: now.sys - before.sys };
};

function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Resident set size now, in bytes. */
export const rss = (pid: number) => statusKiB(pid, 'VmRSS');
/** Peak resident set size over the process's life, in bytes. */
export const peakRss = (pid: number) => statusKiB(pid, 'VmHWM');

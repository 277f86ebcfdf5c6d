// Shared by every `make bench` section: latency statistics and a plain-text table printer.

/** p-th percentile (0..100) of the samples, nearest-rank; NaN when empty. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Median of the samples (the mean of the middle two for an even count); NaN when empty. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

export type Cell = string | number;

function format(v: Cell): string {
  if (typeof v === 'string') return v;
  if (!Number.isFinite(v)) return '-';
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** Prints a titled table with right-aligned numeric columns to stdout. */
export function printTable(title: string, rows: readonly Record<string, Cell>[]): void {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const text = rows.map((r) => cols.map((c) => (r[c] === undefined ? '' : format(r[c]!))));
  const widths = cols.map((c, i) => Math.max(c.length, ...text.map((t) => t[i]!.length)));
  const line = (cells: string[]) => cells.map((s, i) => (i === 0 ? s.padEnd(widths[i]!) : s.padStart(widths[i]!))).join('  ');
  process.stdout.write(`\n${title}\n${line(cols)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const t of text) process.stdout.write(line(t) + '\n');
}

// Sizes and durations as people write them in YAML. Temporary home: crds/units.ts owns these
// once it lands, and this file re-exports it.
import { z } from 'zod';

const SIZE_UNITS: Record<string, number> = {
  '': 1, B: 1,
  K: 1e3, KB: 1e3, M: 1e6, MB: 1e6, G: 1e9, GB: 1e9, T: 1e12, TB: 1e12, P: 1e15, PB: 1e15,
  Ki: 2 ** 10, KiB: 2 ** 10, Mi: 2 ** 20, MiB: 2 ** 20, Gi: 2 ** 30, GiB: 2 ** 30, Ti: 2 ** 40, TiB: 2 ** 40, Pi: 2 ** 50, PiB: 2 ** 50,
};

/** "10Gi", "1.5TB", "500M", 1024 → bytes; undefined when not a size. */
export function parseSize(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(v);
  if (!m || !(m[2]! in SIZE_UNITS)) return undefined;
  const n = Math.floor(Number(m[1]) * SIZE_UNITS[m[2]!]!);
  return Number.isSafeInteger(n) ? n : undefined;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "30s", "1h30m", 2000 (ms) → milliseconds; undefined when not a duration. */
export function parseDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  const s = v.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
  return total;
}

export const sizeSchema = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const n = parseSize(v);
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a size like 500Mi, 10Gi or 2TB, got "${v}"` });
    return z.NEVER;
  }
  return n;
});

export const durationSchema = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const n = parseDuration(v);
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like 500ms, 30s, 5m or 24h, got "${v}"` });
    return z.NEVER;
  }
  return n;
});

// Sizes and durations as people write them in YAML and in custom resources: "10Gi", "30s", or a
// plain number (bytes, milliseconds). The gateway's balancing config and the CRDs share them.
// Each schema carries a CEL rule, so the API server refuses "5 parsecs" with the same sentence
// the gateway prints.
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

/** "1.5Gi" for status and printer columns. */
export function formatSize(bytes: number): string {
  const units = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${bytes}` : `${v >= 100 ? Math.round(v) : Math.round(v * 10) / 10}${units[i]}`;
}

export const SIZE_MESSAGE = 'expected a size like 500Mi, 10Gi or 2TB';
export const DURATION_MESSAGE = 'expected a duration like 500ms, 30s, 5m or 24h';

// The same grammar as parseSize/parseDuration, in RE2 for the API server.
const SIZE_RE2 = `^\\s*\\d+(\\.\\d+)?\\s*(${Object.keys(SIZE_UNITS).filter(Boolean).join('|')})?\\s*$`;
const DURATION_RE2 = '^\\s*(\\d+(\\.\\d+)?(ms|s|m|h|d))+\\s*$';

const intOrStringRule = (re: string, message: string) => ({
  'x-kubernetes-validations': [{ rule: `type(self) == int ? self >= 0 : self.matches('${re.replaceAll('\\', '\\\\')}')`, message }],
});

export const sizeSchema = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const n = parseSize(v);
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: `${SIZE_MESSAGE}, got "${v}"` });
    return z.NEVER;
  }
  return n;
}).meta(intOrStringRule(SIZE_RE2, SIZE_MESSAGE));

export const durationSchema = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const n = parseDuration(v);
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: `${DURATION_MESSAGE}, got "${v}"` });
    return z.NEVER;
  }
  return n;
}).meta(intOrStringRule(DURATION_RE2, DURATION_MESSAGE));

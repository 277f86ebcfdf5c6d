// Caps: the most any resource fault may take, set by whoever runs the injector (flags), checked
// at inject time so an over-cap request is a 400 naming the field, never a partial effect.
import { realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { isIP } from 'node:net';
import { parseDuration, parseSize, type FaultSpec } from '../model.ts';

/** A fault refused because of the caps (reported as 400). */
export class CapError extends Error {
  override name = 'CapError';
}

export interface Caps {
  maxCores: number;
  maxMemoryBytes: number;
  maxDiskBytes: number;
  /** Directories under which disk faults may write. Empty: disk faults refused. */
  diskPaths: string[];
  maxNetworkBytesPerSecond: number;
  maxNetworkConnections: number;
  /** host:port targets allowed besides loopback ones. */
  networkTargets: string[];
  /** Process names (comm or full command line) that process faults may signal. Empty: refused. */
  processNames: string[];
  maxDurationMs: number;
}

export const DEFAULT_CAPS: Caps = {
  maxCores: 1,
  maxMemoryBytes: 256 * 1024 * 1024,
  maxDiskBytes: 1024 * 1024 * 1024,
  diskPaths: [],
  maxNetworkBytesPerSecond: 10 * 1024 * 1024,
  maxNetworkConnections: 16,
  networkTargets: [],
  processNames: [],
  maxDurationMs: 60 * 60_000,
};

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

/** True when `path` is one of `roots` or below one, lexically (callers resolve symlinks first). */
export function isWithin(path: string, roots: string[]): boolean {
  return roots.some((r) => {
    const rel = relative(resolve(r), resolve(path));
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  });
}

/**
 * The real location of a disk fault's path (symlinks resolved), or "path: why" when it does not
 * exist or is not really under a --disk-path: a symlink inside an allowed directory that points
 * out of it must not let a fill write elsewhere.
 */
export function confineDiskPath(path: string, caps: Caps): { real: string } | { error: string } {
  const allowed = `--disk-path ${caps.diskPaths.join(', ') || 'not set'}`;
  if (!isWithin(path, caps.diskPaths)) return { error: `path: ${path} is not under an allowed disk path (${allowed})` };
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return { error: `path: ${path} does not exist` };
  }
  const roots = caps.diskPaths.flatMap((r) => { try { return [realpathSync(r)]; } catch { return []; } });
  if (!isWithin(real, roots)) return { error: `path: ${path} resolves to ${real}, which is not under an allowed disk path (${allowed})` };
  return { real };
}

/** The amounts of capped resources one fault takes (disk: bytes when given; a freePercent fill is sized at start). */
export interface Usage { cores?: number; memory?: number; disk?: number; rate?: number; connections?: number }

export function usageOf(spec: FaultSpec): Usage {
  switch (spec.kind) {
    case 'cpu': return { cores: spec.cores };
    case 'memory': return { memory: parseSize(spec.bytes) };
    case 'disk': return { disk: spec.bytes !== undefined ? parseSize(spec.bytes) : 0 };
    case 'network': return { rate: parseSize(spec.bytesPerSecond), connections: spec.connections };
    default: return {};
  }
}

const AGGREGATE: { key: keyof Usage; field: string; cap: (c: Caps) => number; flag: string }[] = [
  { key: 'cores', field: 'cores', cap: (c) => c.maxCores, flag: '--max-cpu-cores' },
  { key: 'memory', field: 'bytes', cap: (c) => c.maxMemoryBytes, flag: '--max-memory' },
  { key: 'disk', field: 'bytes', cap: (c) => c.maxDiskBytes, flag: '--max-disk' },
  { key: 'rate', field: 'bytesPerSecond', cap: (c) => c.maxNetworkBytesPerSecond, flag: '--max-network-rate' },
  { key: 'connections', field: 'connections', cap: (c) => c.maxNetworkConnections, flag: '--max-network-connections' },
];

/** "field: why" when `add` together with what active faults already take is over a cap. */
export function checkAggregate(add: Usage, active: Iterable<Usage>, caps: Caps): string | undefined {
  const list = [...active];
  for (const a of AGGREGATE) {
    const more = add[a.key] ?? 0;
    if (more === 0) continue;
    const held = list.reduce((n, u) => n + (u[a.key] ?? 0), 0);
    if (held + more > a.cap(caps)) return `${a.field}: ${more} more with ${held} already taken by active faults exceeds the cap of ${a.cap(caps)} (${a.flag}); the cap holds for all active faults together`;
  }
  return undefined;
}

/** "field: why" when the fault is over a cap or not allowed here; undefined when fine. */
export function checkCaps(spec: FaultSpec, caps: Caps): string | undefined {
  if (spec.duration && parseDuration(spec.duration) > caps.maxDurationMs) return `duration: ${spec.duration} is longer than the cap of ${caps.maxDurationMs / 1000}s (--max-duration)`;
  switch (spec.kind) {
    case 'cpu':
      return spec.cores > caps.maxCores ? `cores: ${spec.cores} exceeds the cap of ${caps.maxCores} (--max-cpu-cores)` : undefined;
    case 'memory': {
      const b = parseSize(spec.bytes);
      return b > caps.maxMemoryBytes ? `bytes: ${b} exceeds the cap of ${caps.maxMemoryBytes} (--max-memory)` : undefined;
    }
    case 'disk': {
      const c = confineDiskPath(spec.path, caps);
      if ('error' in c) return c.error;
      if (spec.bytes !== undefined && parseSize(spec.bytes) > caps.maxDiskBytes) return `bytes: ${parseSize(spec.bytes)} exceeds the cap of ${caps.maxDiskBytes} (--max-disk)`;
      return undefined;
    }
    case 'network': {
      const host = spec.target.slice(0, spec.target.lastIndexOf(':'));
      if (!isLoopbackHost(host) && !caps.networkTargets.includes(spec.target)) return `target: ${spec.target} is not loopback and not an allowed target (--network-target)`;
      const bps = parseSize(spec.bytesPerSecond);
      if (bps > caps.maxNetworkBytesPerSecond) return `bytesPerSecond: ${bps} exceeds the cap of ${caps.maxNetworkBytesPerSecond} (--max-network-rate)`;
      if (spec.connections > caps.maxNetworkConnections) return `connections: ${spec.connections} exceeds the cap of ${caps.maxNetworkConnections} (--max-network-connections)`;
      return undefined;
    }
    case 'process':
      return caps.processNames.includes(spec.name) ? undefined : `name: process "${spec.name}" is not an allowed target (--process-name)`;
    default:
      return undefined;
  }
}

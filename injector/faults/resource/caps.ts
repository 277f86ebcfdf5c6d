// Caps: the most any resource fault may take, set by whoever runs the injector (flags), checked
// at inject time so an over-cap request is a 400 naming the field, never a partial effect.
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

function within(path: string, roots: string[]): boolean {
  return roots.some((r) => {
    const rel = relative(resolve(r), resolve(path));
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  });
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
    case 'disk':
      if (!within(spec.path, caps.diskPaths)) return `path: ${spec.path} is not under an allowed disk path (--disk-path ${caps.diskPaths.join(', ') || 'not set'})`;
      if (spec.bytes !== undefined && parseSize(spec.bytes) > caps.maxDiskBytes) return `bytes: ${parseSize(spec.bytes)} exceeds the cap of ${caps.maxDiskBytes} (--max-disk)`;
      return undefined;
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

// An activation is a validated fault made concrete: an id, an absolute expiry, an optional lease,
// and its trigger state (seeded random stream and counters). Sizes are resolved to numbers here.
import { randomBytes, randomUUID } from 'node:crypto';
import { parseDuration, parseSize, type FaultSpec } from './model.ts';
import { mulberry32, type Rng } from './prng.ts';

export interface TriggerState {
  /** Matching requests seen after the afterBytes gate opened. */
  matched: number;
  /** Requests this fault fired on. */
  fired: number;
  /** Body bytes of matching requests (for trigger.afterBytes). */
  bytes: number;
  rng: Rng;
}

export interface Activation {
  id: string;
  spec: FaultSpec;
  seed: number;
  createdAt: number;
  /** Epoch ms; the fault reverts when this passes. */
  expiresAt: number;
  /** Dead-man's switch: revert when no heartbeat for this long. */
  leaseMs?: number;
  lastHeartbeat: number;
  afterBytes?: number;
  state: TriggerState;
}

export interface ActivateOptions {
  now: number;
  /** Used when the spec gives neither duration nor expiresAt. */
  defaultDurationMs: number;
  /** No activation lives longer than this. */
  maxDurationMs: number;
}

export function activate(spec: FaultSpec, o: ActivateOptions): Activation {
  const seed = spec.trigger?.seed ?? randomBytes(4).readUInt32BE(0);
  let expiresAt = o.now + (spec.duration ? parseDuration(spec.duration) : o.defaultDurationMs);
  if (spec.expiresAt) expiresAt = Math.min(expiresAt, Date.parse(spec.expiresAt));
  expiresAt = Math.min(expiresAt, o.now + o.maxDurationMs);
  return {
    id: spec.id ?? randomUUID(),
    spec,
    seed,
    createdAt: o.now,
    expiresAt,
    leaseMs: spec.lease ? parseDuration(spec.lease) : undefined,
    lastHeartbeat: o.now,
    afterBytes: spec.trigger?.afterBytes !== undefined ? parseSize(spec.trigger.afterBytes) : undefined,
    state: { matched: 0, fired: 0, bytes: 0, rng: mulberry32(seed) },
  };
}

/** Why an activation should end now, if it should. */
export function endReason(a: Activation, now: number): 'expired' | 'lease-lost' | undefined {
  if (now >= a.expiresAt) return 'expired';
  if (a.leaseMs !== undefined && now - a.lastHeartbeat > a.leaseMs) return 'lease-lost';
  return undefined;
}

/** The JSON the control API shows for an activation. */
export function activationView(a: Activation, status: string) {
  return {
    id: a.id,
    kind: a.spec.kind,
    status,
    spec: a.spec,
    seed: a.seed,
    createdAt: new Date(a.createdAt).toISOString(),
    expiresAt: new Date(a.expiresAt).toISOString(),
    leaseMs: a.leaseMs,
    lastHeartbeat: new Date(a.lastHeartbeat).toISOString(),
    matched: a.state.matched,
    fired: a.state.fired,
  };
}

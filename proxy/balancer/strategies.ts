// Placement strategies as pure functions: (candidates, request, state) → choice and next state.
// Each chooses only among backends that are healthy and have room for the object; none chooses
// when none qualifies. Candidates come in configuration order, which is what makes round-robin
// a real rotation (S3 Balance iterated a Go map, so its "round-robin" was random).
import { createHash } from 'node:crypto';

export const STRATEGIES = ['round-robin', 'most-free-space', 'weighted', 'rendezvous'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export interface Candidate {
  name: string;
  healthy: boolean;
  /** Relative share for `weighted` and `rendezvous`; 0 takes no new writes. */
  weight: number;
  /** Capacity in bytes; undefined = unlimited. */
  maxSize?: number;
  /** Bytes stored plus bytes of writes in flight. */
  used: number;
  /** Drained or being drained (virtual/drains.ts): never picked, as if down. */
  drained?: boolean;
}

export interface PickRequest {
  key: string;
  size: number;
}

export interface StrategyState {
  /** round-robin: index (in configuration order) of the next backend to try. */
  next: number;
  /** weighted: smooth weighted round-robin current weights by backend. */
  current: Record<string, number>;
}

export interface Pick {
  backend: string | undefined;
  state: StrategyState;
}

export type Strategy = (candidates: readonly Candidate[], req: PickRequest, state: StrategyState) => Pick;

export const initialState = (): StrategyState => ({ next: 0, current: {} });

export function fits(c: Candidate, size: number): boolean {
  return c.healthy && (c.maxSize === undefined || c.used + size <= c.maxSize);
}

/** The next backend after the last one chosen that can take the object. */
export const roundRobin: Strategy = (cands, req, state) => {
  const n = cands.length;
  for (let i = 0; i < n; i++) {
    const at = (state.next + i) % n;
    if (fits(cands[at]!, req.size)) return { backend: cands[at]!.name, state: { ...state, next: (at + 1) % n } };
  }
  return { backend: undefined, state };
};

const free = (c: Candidate) => (c.maxSize === undefined ? Number.POSITIVE_INFINITY : c.maxSize - c.used);

/**
 * The backend with the most free bytes; among unlimited ones (or exact ties) the one holding
 * the fewest bytes, then the rotation order, so equal backends still share the load.
 */
export const mostFreeSpace: Strategy = (cands, req, state) => {
  const n = cands.length;
  let best = -1;
  for (let i = 0; i < n; i++) {
    const at = (state.next + i) % n;
    const c = cands[at]!;
    if (!fits(c, req.size)) continue;
    if (best < 0) { best = at; continue; }
    const b = cands[best]!;
    if (free(c) > free(b) || (free(c) === free(b) && c.used < b.used)) best = at;
  }
  if (best < 0) return { backend: undefined, state };
  return { backend: cands[best]!.name, state: { ...state, next: (best + 1) % n } };
};

/**
 * Smooth weighted round-robin (as nginx): every pick adds each backend's weight to its current
 * value and takes the largest, which then pays back the total. Exact shares over any window of
 * sum(weights) picks, and no bursts to one backend.
 */
export const weighted: Strategy = (cands, req, state) => {
  const current = { ...state.current };
  let total = 0;
  let best: Candidate | undefined;
  for (const c of cands) {
    if (!fits(c, req.size) || c.weight <= 0) continue;
    current[c.name] = (current[c.name] ?? 0) + c.weight;
    total += c.weight;
    if (!best || current[c.name]! > current[best.name]!) best = c;
  }
  if (!best) return { backend: undefined, state };
  current[best.name]! -= total;
  return { backend: best.name, state: { ...state, current } };
};

/** A stable uniform number in (0, 1) for (key, backend). */
export function hashUnit(key: string, backend: string): number {
  const h = createHash('sha256').update(backend).update('\0').update(key).digest();
  // 52 bits, never 0 or 1, so ln() below is finite.
  return (Number(h.readBigUInt64BE(0) >> 12n) + 0.5) / 2 ** 52;
}

/**
 * Rendezvous (highest random weight) hashing by key: the same key goes to the same backend for
 * as long as that backend can take it, and removing a backend moves only its own keys. Weighted
 * by -w/ln(h), so shares follow the weights.
 */
export const rendezvous: Strategy = (cands, req, state) => {
  let best: string | undefined;
  let bestScore = Number.NEGATIVE_INFINITY;
  for (const c of cands) {
    if (!fits(c, req.size) || c.weight <= 0) continue;
    const score = -c.weight / Math.log(hashUnit(req.key, c.name));
    if (score > bestScore) { bestScore = score; best = c.name; }
  }
  return { backend: best, state };
};

export const STRATEGY: Record<StrategyName, Strategy> = {
  'round-robin': roundRobin,
  'most-free-space': mostFreeSpace,
  weighted,
  rendezvous,
};

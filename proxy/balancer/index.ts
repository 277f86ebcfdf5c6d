// A balancer: one strategy and its state for one virtual bucket. The state moves on only when
// a pick succeeds; picks are synchronous, so concurrent requests never share a stale state.
import { STRATEGY, initialState, type Candidate, type StrategyName, type StrategyState } from './strategies.ts';

export { STRATEGIES, type Candidate, type StrategyName } from './strategies.ts';

export interface Balancer {
  readonly strategy: StrategyName;
  pick(candidates: readonly Candidate[], key: string, size: number): string | undefined;
}

export function createBalancer(strategy: StrategyName, state: StrategyState = initialState()): Balancer {
  const fn = STRATEGY[strategy];
  let s = state;
  return {
    strategy,
    pick(candidates, key, size) {
      const r = fn(candidates, { key, size }, s);
      s = r.state;
      return r.backend;
    },
  };
}

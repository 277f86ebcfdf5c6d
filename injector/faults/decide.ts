// Per-request fault decisions. Pure apart from advancing each fault's counters and random stream:
// the same seeds and the same request sequence give the same decisions. Decided per request,
// never per connection, because SDKs keep connections alive across many requests.
import type { Activation } from './activation.ts';
import { matches, type RequestInfo } from './match.ts';
import { actionOf, PER_REQUEST_KINDS } from './kinds.ts';
import type { FaultOf, FaultSpec } from './model.ts';

/** A fault that fired on this request; `draw` seeds any randomness it needs (jitter, positions). */
export interface Fired {
  faultId: string;
  spec: FaultSpec;
  draw: number;
}

type Terminal = FaultOf<'error'> | FaultOf<'error200'> | FaultOf<'stall'> | FaultOf<'reset'> | FaultOf<'serviceDown'>;

export interface Decision {
  requestId: string;
  /** Faults whose match held (whether or not they fired): their body bytes feed afterBytes. */
  matched: Activation[];
  fired: Fired[];
  /** The first fault that replaces the response (error, 200-error, stall, reset, service down). */
  terminal?: Fired & { spec: Terminal };
  /** Delay before the first response byte (sum of fired latency faults). */
  delayMs: number;
  /** Faults acting on the response body, in activation order. */
  body: Fired[];
}

function fires(a: Activation): { fire: boolean; draw: number } | undefined {
  const t = a.spec.trigger;
  if (a.afterBytes !== undefined && a.state.bytes < a.afterBytes) return undefined;
  const n = a.state.matched++;
  // Both numbers are drawn for every matching request so that replays stay aligned whatever the
  // outcome of the other conditions.
  const p = a.state.rng();
  const draw = Math.floor(a.state.rng() * 2 ** 32);
  let fire = true;
  if (t?.firstN !== undefined && n >= t.firstN) fire = false;
  if (t?.everyNth !== undefined && (n + 1) % t.everyNth !== 0) fire = false;
  if (t?.probability !== undefined && !(p < t.probability)) fire = false;
  return { fire, draw };
}

export function decide(active: readonly Activation[], req: RequestInfo): Decision {
  const d: Decision = { requestId: req.requestId, matched: [], fired: [], delayMs: 0, body: [] };
  for (const a of active) {
    if (!PER_REQUEST_KINDS.has(a.spec.kind) || !matches(a.spec.match, req)) continue;
    d.matched.push(a);
    const r = fires(a);
    if (!r?.fire) continue;
    a.state.fired++;
    const f: Fired = { faultId: a.id, spec: a.spec, draw: r.draw };
    d.fired.push(f);
    const s = a.spec;
    const action = actionOf(s);
    if (action === 'terminal') d.terminal ??= { ...f, spec: s as Terminal };
    else if (s.kind === 'latency') d.delayMs += s.ms + (s.jitterMs ? Math.round(((r.draw / 2 ** 32) * 2 - 1) * s.jitterMs) : 0);
    else if (action === 'body') d.body.push(f);
  }
  d.delayMs = Math.max(0, d.delayMs);
  return d;
}

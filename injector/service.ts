// One fault service = registry (activations, expiry, leases) + engine (per-request decisions) +
// control API, wired together. The sidecar builds one with resource effects, the gateway without.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Activation } from './faults/activation.ts';
import { createControlHandler } from './control/handler.ts';
import { checkSecretLength } from '../proxy/credentials.ts';
import { createFaultEngine, type FaultEngine } from './faults/engine.ts';
import type { FaultSpec } from './faults/model.ts';
import { FaultRegistry, type Effects, type EndReason } from './faults/registry.ts';

export interface FaultServiceOptions {
  token: string;
  /** Resource faults allowed (sidecar) or refused with 400 (gateway). */
  resources: boolean;
  defaultDurationMs?: number;
  maxDurationMs?: number;
  effects?: Effects;
  checkCaps?: (spec: FaultSpec) => string | undefined;
  resourceStatus?: (id: string) => unknown;
  onEvent?: (msg: string, fields: Record<string, unknown>) => void;
}

export interface FaultService {
  engine: FaultEngine;
  registry: FaultRegistry;
  /** The control API; true when it handled the request (paths under /_floodgate/). */
  routes: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Reverts every fault and stops the expiry sweep. */
  close(): Promise<void>;
}

export function createFaultService(o: FaultServiceOptions): FaultService {
  if (!o.token) throw new Error('the fault control API needs a token (--token or FLOODGATE_INJECTOR_TOKEN)');
  checkSecretLength('fault control token', o.token);
  const event = o.onEvent ?? (() => {});
  let ended: ((a: Activation, r: EndReason) => void) | undefined;
  const registry = new FaultRegistry({
    defaultDurationMs: o.defaultDurationMs ?? 5 * 60_000,
    maxDurationMs: o.maxDurationMs ?? 60 * 60_000,
    effects: o.effects,
    onStart: (a) => {
      engine.metrics.activations.inc({ kind: a.spec.kind, outcome: 'started' });
      event('fault started', { id: a.id, kind: a.spec.kind, expiresAt: new Date(a.expiresAt).toISOString() });
    },
    onEnd: (a, reason) => {
      engine.metrics.activations.inc({ kind: a.spec.kind, outcome: reason });
      ended?.(a, reason);
      event('fault ended', { id: a.id, kind: a.spec.kind, reason });
    },
  });
  const engine = createFaultEngine(registry);
  const routes = createControlHandler({ engine, token: o.token, checkCaps: o.checkCaps, resourceStatus: o.resourceStatus, resources: o.resources });
  ended = routes.ended;
  return { engine, registry, routes, close: () => registry.close() };
}

// Every fault kind and how it is classified, in one table: where it may run (the gateway, the
// sidecar) and how it acts (on each request — answering in place, delaying, or shaping the
// response body — or on the pod's resources). The engine, the decision step, the control API,
// the gateway (proxy/server.ts), the FaultExperiment CRD's CEL rules (crds/faultexperiment.ts)
// and a docs test (kinds.test.ts) all read it; adding a kind to the model without a row here
// does not compile.
import type { FaultKind, FaultSpec } from './model.ts';

export type Place = 'gateway' | 'sidecar';

/**
 * terminal: replaces the response (first injected wins); latency: delays the first byte;
 * body: acts on the response body; backend: steers the gateway (no per-request effect);
 * resource: consumes the pod's CPU, memory, disk, network or processes.
 * `reset` is terminal before headers and a body fault mid-body: see `actionOf`.
 */
export type Action = 'terminal' | 'latency' | 'body' | 'backend' | 'resource';

export interface KindInfo {
  runsIn: readonly Place[];
  action: Action;
}

const BOTH: readonly Place[] = ['gateway', 'sidecar'];

export const KINDS = {
  error: { runsIn: BOTH, action: 'terminal' },
  error200: { runsIn: BOTH, action: 'terminal' },
  latency: { runsIn: BOTH, action: 'latency' },
  bandwidth: { runsIn: BOTH, action: 'body' },
  stall: { runsIn: BOTH, action: 'terminal' },
  reset: { runsIn: BOTH, action: 'terminal' },
  truncate: { runsIn: BOTH, action: 'body' },
  corrupt: { runsIn: BOTH, action: 'body' },
  serviceDown: { runsIn: BOTH, action: 'terminal' },
  backendDown: { runsIn: ['gateway'], action: 'backend' },
  cpu: { runsIn: ['sidecar'], action: 'resource' },
  memory: { runsIn: ['sidecar'], action: 'resource' },
  disk: { runsIn: ['sidecar'], action: 'resource' },
  network: { runsIn: ['sidecar'], action: 'resource' },
  process: { runsIn: ['sidecar'], action: 'resource' },
} as const satisfies Record<FaultKind, KindInfo>;

const kinds = Object.keys(KINDS) as FaultKind[];
const where = (p: (i: KindInfo) => boolean) => new Set(kinds.filter((k) => p(KINDS[k])));

/** Decided on each S3 request (terminal, latency, body). */
export const PER_REQUEST_KINDS: ReadonlySet<FaultKind> = where((i) => i.action === 'terminal' || i.action === 'latency' || i.action === 'body');
/** Faults on the S3/HTTP path (per request, and backendDown). */
export const S3_KINDS: ReadonlySet<FaultKind> = where((i) => i.action !== 'resource');
/** Faults that consume resources in the injector's pod (sidecar only). */
export const RESOURCE_KINDS: ReadonlySet<FaultKind> = where((i) => i.action === 'resource');

export const runsIn = (kind: FaultKind, place: Place): boolean => (KINDS[kind].runsIn as readonly Place[]).includes(place);

/** How this fault acts on a request; `reset` depends on `when`. */
export function actionOf(spec: FaultSpec): Action {
  if (spec.kind === 'reset') return spec.when === 'mid-body' ? 'body' : 'terminal';
  return KINDS[spec.kind].action;
}

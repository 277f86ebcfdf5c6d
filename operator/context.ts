// What every reconcile gets: clients, caches, the event recorder, the clock and the options.
// Injected, so reconciles run against any API server and tests control time.
import type { Kube } from './kube/api.ts';
import type { EventRecorder } from './kube/events.ts';
import type { Informer } from './kube/informer.ts';
import type { KubeObject } from './kube/types.ts';
import type { WorkQueue } from './workqueue.ts';

export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface OperatorOptions {
  gatewayImage: string;
  /** Where the gateway's /status is: {name} {namespace} {service} {port} are filled in. */
  gatewayStatusUrlTemplate: string;
  probeTimeoutMs: number;
}

export interface Ctx {
  kube: Kube;
  backendBuckets: Informer;
  virtualBuckets: Informer;
  deployments: Informer;
  events: EventRecorder;
  log: LogFn;
  now(): Date;
  options: OperatorOptions;
  queues: { backendBucket: WorkQueue; virtualBucket: WorkQueue };
}

export const FINALIZER = 'floodgate.dev/in-use-protection';

/** True when two statuses say the same (so the write can be skipped). */
export const sameStatus = (a: unknown, b: unknown) => JSON.stringify(a ?? {}) === JSON.stringify(b ?? {});

export function describeRef(o: KubeObject): string {
  return `${o.kind ?? 'object'} ${o.metadata.namespace}/${o.metadata.name}`;
}

// The resource types and the context of the FaultExperiment controller. Its own context (not
// Ctx): it needs the pod cache, the injector client and the kill switch, which the bucket
// controllers don't.
import type { EventRecorder } from '../kube/events.ts';
import type { Informer } from '../kube/informer.ts';
import type { Kube } from '../kube/api.ts';
import type { ResourceType } from '../kube/types.ts';
import type { LogFn } from '../context.ts';
import type { InjectorClient } from './injector-client.ts';

export const FX_TYPE = { group: 'floodgate.dev', version: 'v1alpha1', plural: 'faultexperiments', kind: 'FaultExperiment' } as const satisfies ResourceType;
export const POD_TYPE = { group: '', version: 'v1', plural: 'pods', kind: 'Pod' } as const satisfies ResourceType;

/** Holds an experiment until every target it touched is reverted. */
export const FX_FINALIZER = 'floodgate.dev/revert-faults';

export interface FxOptions {
  /** The operator's own namespace: protected, and where the kill-switch ConfigMap lives. */
  operatorNamespace?: string;
  /** Most of a namespace's running pods (percent) one experiment may select. */
  maxPodSharePercent: number;
  /** How long selection and injection may take before the experiment fails. */
  injectionDeadlineMs: number;
}

export interface FxCtx {
  kube: Kube;
  experiments: Informer;
  pods: Informer;
  virtualBuckets: Informer;
  backendBuckets: Informer;
  injector: InjectorClient;
  events: EventRecorder;
  log: LogFn;
  now(): Date;
  killSwitch(): boolean;
  options: FxOptions;
}

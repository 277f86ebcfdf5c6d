// Informer events → FaultExperiment keys. An experiment is looked at again when its spec,
// deletion, finalizers or abort annotation change, and when a pod in its namespace changes in a
// way selection or injection cares about (phase, IP, labels, annotations, deletion) — only
// while the experiment is not finished. Its own status writes never enqueue it.
import type { KubeObject } from '../kube/types.ts';
import { ANNOTATION_ABORT } from './contract.ts';
import { isTerminal } from './plan.ts';
import type { Phase } from '../../crds/faultexperiment.ts';
import type { Informer } from '../kube/informer.ts';

const json = (v: unknown) => JSON.stringify(v ?? null);

export function experimentChanged(obj: KubeObject | undefined, old: KubeObject | undefined): boolean {
  if (!obj || !old) return true;
  const m = obj.metadata;
  const o = old.metadata;
  return m.generation !== o.generation || m.deletionTimestamp !== o.deletionTimestamp || json(m.finalizers) !== json(o.finalizers)
    || m.annotations?.[ANNOTATION_ABORT] !== o.annotations?.[ANNOTATION_ABORT];
}

export function podChanged(obj: KubeObject | undefined, old: KubeObject | undefined): boolean {
  if (!obj || !old) return true;
  const s = (p: KubeObject) => p.status as { phase?: string; podIP?: string } | undefined;
  return s(obj)?.phase !== s(old)?.phase || s(obj)?.podIP !== s(old)?.podIP || obj.metadata.deletionTimestamp !== old.metadata.deletionTimestamp
    || json(obj.metadata.labels) !== json(old.metadata.labels) || json(obj.metadata.annotations) !== json(old.metadata.annotations);
}

export function onFaultExperiment(add: (key: string) => void, key: string, obj: KubeObject | undefined, old: KubeObject | undefined): void {
  if (experimentChanged(obj, old)) add(key);
}

export function onPod(add: (key: string) => void, experiments: Informer, obj: KubeObject | undefined, old: KubeObject | undefined): void {
  const pod = obj ?? old;
  if (!pod || !podChanged(obj, old)) return;
  for (const fx of experiments.list(pod.metadata.namespace)) {
    if (!isTerminal((fx.status as { phase?: Phase } | undefined)?.phase)) add(`${fx.metadata.namespace}/${fx.metadata.name}`);
  }
}

/** The kill switch flipped: every experiment not yet finished is looked at now. */
export function onKillSwitch(add: (key: string) => void, experiments: Informer): void {
  for (const fx of experiments.list()) {
    if (!isTerminal((fx.status as { phase?: Phase } | undefined)?.phase)) add(`${fx.metadata.namespace}/${fx.metadata.name}`);
  }
}

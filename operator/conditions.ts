// metav1.Conditions: Ready, Progressing, Degraded. `lastTransitionTime` moves only when a
// condition's status flips, so `kubectl wait` and dashboards see real transitions.
import type { Condition } from '../crds/meta.ts';

export type ConditionType = 'Ready' | 'Progressing' | 'Degraded' | 'Effective';
export type { Condition };

export interface ConditionInput {
  type: ConditionType;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export function setConditions(current: readonly Condition[] | undefined, next: readonly ConditionInput[], generation: number | undefined, now: Date): Condition[] {
  const out = [...(current ?? [])];
  for (const c of next) {
    const i = out.findIndex((o) => o.type === c.type);
    const prev = i >= 0 ? out[i] : undefined;
    const merged: Condition = {
      ...c,
      message: c.message.slice(0, 32_768),
      observedGeneration: generation,
      lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : now.toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    if (i >= 0) out[i] = merged;
    else out.push(merged);
  }
  return out;
}

export const findCondition = (cs: readonly Condition[] | undefined, type: ConditionType) => cs?.find((c) => c.type === type);

/** The three conditions for one outcome: ready, progressing (not yet ready), or degraded (broken). */
export function outcome(kind: 'ready' | 'progressing' | 'degraded', reason: string, message: string): ConditionInput[] {
  return [
    { type: 'Ready', status: kind === 'ready' ? 'True' : 'False', reason, message },
    { type: 'Progressing', status: kind === 'progressing' ? 'True' : 'False', reason, message },
    { type: 'Degraded', status: kind === 'degraded' ? 'True' : 'False', reason, message },
  ];
}

/** Did Ready or Degraded change status or reason? Those are the moments worth an Event. */
export function transitioned(before: readonly Condition[] | undefined, after: readonly Condition[]): boolean {
  return (['Ready', 'Degraded'] as const).some((t) => {
    const a = findCondition(before, t);
    const b = findCondition(after, t);
    return a?.status !== b?.status || a?.reason !== b?.reason;
  });
}

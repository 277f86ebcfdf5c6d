// One status write for both controllers: conditions merged (transition times kept), skipped when
// nothing changed, and the "did Ready/Degraded change?" question answered against the server.
// Why the server: a reconcile that adds the finalizer is started again by that update's watch
// event, and the second round can read the cache before the first round's status arrives. Judged
// against that stale cache, the same transition happened twice, and got two identical Events.
import type { Condition } from '../crds/meta.ts';
import { setConditions, transitioned, type ConditionInput } from './conditions.ts';
import { sameStatus, type Ctx } from './context.ts';
import { pathOf } from './kube/api.ts';
import { applyStatus } from './kube/apply.ts';
import type { KubeObject, ResourceType } from './kube/types.ts';

type WithConditions = { observedGeneration?: number; conditions?: Condition[] };

export interface StatusWrite<S> {
  prev: S | undefined;
  next: S;
  /** Ready or Degraded changed status or reason: worth an Event. */
  transitioned: boolean;
}

/** Writes status + conditions unless unchanged; undefined when nothing was written. */
export async function writeStatusOf<S extends WithConditions>(ctx: Ctx, t: ResourceType, obj: KubeObject, status: S, conditions: ConditionInput[]): Promise<StatusWrite<S> | undefined> {
  const { namespace, name, generation } = obj.metadata;
  const compute = (prev: S | undefined): S => ({ ...status, observedGeneration: generation, conditions: setConditions(prev?.conditions, conditions, generation, ctx.now()) });
  let prev = obj.status as S | undefined;
  let next = compute(prev);
  if (sameStatus(prev, next)) return undefined;
  if (transitioned(prev?.conditions, next.conditions!)) {
    const live = await ctx.kube.request('GET', pathOf(t, namespace, name));
    prev = live.status as S | undefined;
    next = compute(prev);
    if (sameStatus(prev, next)) return undefined;
  }
  await applyStatus(ctx.kube, t, namespace!, name, next);
  return { prev, next, transitioned: transitioned(prev?.conditions, next.conditions!) };
}

// Informer events → work-queue keys. Only changes a reconcile acts on enqueue (spec generation,
// labels, deletion, finalizers, owned Deployments' status): the operator's own status writes
// come back through the watch and must not start another round.
import type { KubeObject } from './kube/types.ts';
import { selects } from './selection.ts';
import type { Ctx } from './context.ts';

export function meaningfulChange(obj: KubeObject | undefined, old: KubeObject | undefined): boolean {
  if (!obj || !old) return true;
  const m = obj.metadata;
  const o = old.metadata;
  return m.generation !== o.generation || m.deletionTimestamp !== o.deletionTimestamp
    || JSON.stringify(m.labels ?? {}) !== JSON.stringify(o.labels ?? {})
    || JSON.stringify(m.finalizers ?? []) !== JSON.stringify(o.finalizers ?? []);
}

export function onBackendBucket(ctx: Ctx, key: string, obj: KubeObject | undefined, old: KubeObject | undefined): void {
  if (!meaningfulChange(obj, old)) return;
  ctx.queues.backendBucket.add(key);
  for (const bb of [obj, old]) {
    if (!bb) continue;
    for (const vb of ctx.virtualBuckets.list(bb.metadata.namespace)) {
      if (selects(vb, bb)) ctx.queues.virtualBucket.add(`${vb.metadata.namespace}/${vb.metadata.name}`);
    }
  }
}

export function onVirtualBucket(ctx: Ctx, key: string, obj: KubeObject | undefined, old: KubeObject | undefined): void {
  if (!meaningfulChange(obj, old)) return;
  ctx.queues.virtualBucket.add(key);
  // Their usedBy and deletion protection depend on who selects them.
  for (const vb of [obj, old]) {
    if (!vb) continue;
    for (const bb of ctx.backendBuckets.list(vb.metadata.namespace)) {
      if (selects(vb, bb)) ctx.queues.backendBucket.add(`${bb.metadata.namespace}/${bb.metadata.name}`);
    }
  }
}

export function onDeployment(ctx: Ctx, obj: KubeObject | undefined, old: KubeObject | undefined): void {
  const d = obj ?? old;
  const owner = d?.metadata.ownerReferences?.find((r) => r.kind === 'VirtualBucket' && r.controller);
  if (!d || !owner) return;
  const ready = (o?: KubeObject) => JSON.stringify((o?.status as { readyReplicas?: number } | undefined)?.readyReplicas ?? 0);
  if (obj && old && ready(obj) === ready(old) && obj.metadata.generation === old.metadata.generation) return;
  ctx.queues.virtualBucket.add(`${d.metadata.namespace}/${owner.name}`);
}

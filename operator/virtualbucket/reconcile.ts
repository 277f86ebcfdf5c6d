// VirtualBucket: select BackendBuckets, render the gateway (ConfigMap, Service, Deployment) and
// the access Secret, apply them server-side with owner references (deleting the VirtualBucket
// garbage-collects them), then report what the running gateway says on /status.
import { BackendBucketResourceSpec } from '../../crds/backendbucket.ts';
import { VirtualBucketResourceSpec, type VirtualBucketStatus } from '../../crds/virtualbucket.ts';
import { describeIssues } from '../../injector/faults/model.ts';
import { findCondition, outcome, setConditions, transitioned, type ConditionInput } from '../conditions.ts';
import { sameStatus, type Ctx } from '../context.ts';
import type { Result } from '../controller.ts';
import { apply, applyStatus } from '../kube/apply.ts';
import { TYPES, type KubeObject } from '../kube/types.ts';
import { selectBackends } from '../selection.ts';
import { ensureAccessSecret } from './access.ts';
import { fetchGatewayStatus, statusUrl } from './gateway-status.ts';
import { childName, render } from './render.ts';

type BackendRow = NonNullable<VirtualBucketStatus['backends']>[number];

async function writeStatus(ctx: Ctx, vb: KubeObject, status: VirtualBucketStatus, conditions: ConditionInput[]): Promise<void> {
  const prev = vb.status as VirtualBucketStatus | undefined;
  const next: VirtualBucketStatus = { ...status, observedGeneration: vb.metadata.generation, conditions: setConditions(prev?.conditions, conditions, vb.metadata.generation, ctx.now()) };
  if (sameStatus(prev, next)) return;
  await applyStatus(ctx.kube, TYPES.virtualBucket, vb.metadata.namespace!, vb.metadata.name, next);
  if (transitioned(prev?.conditions, next.conditions!)) {
    const ready = findCondition(next.conditions, 'Ready')!;
    const degraded = findCondition(next.conditions, 'Degraded')!;
    const shown = degraded.status === 'True' ? degraded : ready;
    ctx.events.record(vb, shown === ready && ready.status === 'True' ? 'Normal' : 'Warning', shown.reason, shown.message);
    ctx.log('info', 'VirtualBucket changed state', { virtualBucket: `${vb.metadata.namespace}/${vb.metadata.name}`, ready: ready.status, reason: shown.reason });
  }
}

export async function reconcileVirtualBucket(ctx: Ctx, key: string): Promise<Result> {
  const cached = ctx.virtualBuckets.get(key);
  if (!cached || cached.metadata.deletionTimestamp) return {};
  const vb: KubeObject = { ...cached, apiVersion: 'floodgate.dev/v1alpha1', kind: 'VirtualBucket' };
  const ns = vb.metadata.namespace!;
  const prev = (vb.status ?? {}) as VirtualBucketStatus;

  const parsed = VirtualBucketResourceSpec.safeParse(vb.spec);
  if (!parsed.success) {
    await writeStatus(ctx, vb, prev, outcome('degraded', 'InvalidSpec', describeIssues(parsed.error, 'spec')));
    return {};
  }
  const spec = parsed.data;
  if (spec.index?.kind === 'postgres') {
    await writeStatus(ctx, vb, prev, outcome('degraded', 'IndexUnsupported', 'a postgres index is not rendered yet: the gateway cannot read its URL from a Secret'));
    return {};
  }
  const bucketName = spec.bucketName ?? vb.metadata.name;
  const accessSecret = spec.accessSecretName ?? `${vb.metadata.name}-access`;
  const service = childName(vb);
  const endpoint = `http://${service}.${ns}.svc:${spec.port}`;
  const base: VirtualBucketStatus = { bucketName, endpoint, accessSecret, replicas: spec.replicas };

  const { found, missing } = selectBackends(vb, ctx.backendBuckets.list(ns));
  const usable: { name: string; labels: Record<string, string>; spec: BackendBucketResourceSpec; raw: Record<string, unknown> }[] = [];
  const invalid: string[] = [];
  for (const bb of found) {
    const p = BackendBucketResourceSpec.safeParse(bb.spec);
    if (p.success) usable.push({ name: bb.metadata.name, labels: bb.metadata.labels ?? {}, spec: p.data, raw: bb.spec as Record<string, unknown> });
    else invalid.push(bb.metadata.name);
  }
  if (usable.length === 0) {
    const why = missing.length ? `no BackendBucket named ${missing.join(', ')}` : invalid.length ? `BackendBucket ${invalid.join(', ')} has an invalid spec` : 'the backendSelector matches no BackendBucket';
    await writeStatus(ctx, vb, { ...base, backendCount: 0, backends: missing.map((name) => ({ name, health: 'Missing' as const })) }, outcome('degraded', 'NoBackends', why));
    return {};
  }

  await ensureAccessSecret(ctx.kube, vb, accessSecret, { endpoint, bucket: bucketName, region: usable[0]!.spec.region });
  const out = render({ vb, spec, rawSpec: vb.spec as Record<string, unknown>, backends: usable, image: ctx.options.gatewayImage, accessSecretName: accessSecret });
  await apply(ctx.kube, TYPES.configMap, out.configMap);
  await apply(ctx.kube, TYPES.service, out.service);
  await apply(ctx.kube, TYPES.deployment, out.deployment);

  const deployment = ctx.deployments.get(`${ns}/${service}`);
  const readyReplicas = (deployment?.status as { readyReplicas?: number } | undefined)?.readyReplicas ?? 0;
  const url = statusUrl(ctx.options.gatewayStatusUrlTemplate, { name: vb.metadata.name, namespace: ns, service, port: spec.port });
  const gw = await fetchGatewayStatus(url);

  const names = usable.map((b) => b.name);
  const rows: BackendRow[] = names.map((name) => {
    const s = gw.ok ? gw.snapshot.backends.find((b) => b.name === name) : undefined;
    const writable = gw.ok ? gw.snapshot.virtualBuckets.find((v) => v.name === bucketName)?.writable.includes(name) : undefined;
    if (!s) return { name, health: 'Unknown' };
    return { name, health: s.state === 'up' ? 'Up' : 'Down', latencyMs: s.latencyMs, usedBytes: s.usedBytes, objects: s.objects, maxSize: s.maxSize, freeBytes: s.freeBytes, writable };
  });
  rows.push(...missing.map((name) => ({ name, health: 'Missing' as const })));
  const status: VirtualBucketStatus = { ...base, readyReplicas, backendCount: usable.length, backends: rows, configHash: out.configHash };

  const deleting = found.filter((b) => b.metadata.deletionTimestamp).map((b) => b.metadata.name);
  const served = gw.ok ? gw.snapshot.virtualBuckets.find((v) => v.name === bucketName) : undefined;
  const current = served !== undefined && served.backends.join(',') === names.join(',');
  const down = rows.filter((r) => r.health === 'Down').map((r) => r.name);

  let conditions: ConditionInput[];
  let requeueAfterMs = 30_000;
  if (!gw.ok) {
    conditions = outcome('progressing', 'GatewayNotReady', gw.message);
    requeueAfterMs = 3_000;
  } else if (!current) {
    conditions = outcome('progressing', 'ConfigPending', `the gateway serves ${served ? `backends ${served.backends.join(', ')}` : 'no such bucket'}; waiting for it to load backends ${names.join(', ')}`);
    requeueAfterMs = 2_000;
  } else {
    const problems = [
      deleting.length && { reason: 'BackendDeleting', message: `BackendBucket ${deleting.join(', ')} is being deleted: remove it from this VirtualBucket` },
      missing.length && { reason: 'BackendMissing', message: `no BackendBucket named ${missing.join(', ')}` },
      invalid.length && { reason: 'BackendInvalid', message: `BackendBucket ${invalid.join(', ')} has an invalid spec` },
      down.length && { reason: 'BackendDown', message: `the gateway sees backend ${down.join(', ')} down` },
    ].filter((p): p is { reason: string; message: string } => Boolean(p));
    const writable = served.writable.length;
    const readyMsg = `the gateway serves bucket ${bucketName} over ${names.length} backend(s), ${writable} writable`;
    conditions = [
      { type: 'Ready', status: writable > 0 ? 'True' : 'False', reason: writable > 0 ? 'GatewayServing' : 'NoWritableBackend', message: readyMsg },
      { type: 'Progressing', status: 'False', reason: 'GatewayServing', message: readyMsg },
      problems.length
        ? { type: 'Degraded', status: 'True', reason: problems[0]!.reason, message: problems.map((p) => p.message).join('; ') }
        : { type: 'Degraded', status: 'False', reason: 'GatewayServing', message: readyMsg },
    ];
    if (problems.length) requeueAfterMs = 10_000;
  }
  await writeStatus(ctx, vb, status, conditions);
  return { requeueAfterMs };
}

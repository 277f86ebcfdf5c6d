// VirtualBucket: select BackendBuckets, render the gateway (ConfigMap, Service, Deployment) and
// the access Secret, apply them server-side with owner references (deleting the VirtualBucket
// garbage-collects them), then report what the running gateway says on /status (backends' health,
// copies, drains, the origin's migration, garbage collection).
import { BackendBucketResourceSpec } from '../../crds/backendbucket.ts';
import { VirtualBucketResourceSpec, type VirtualBucketStatus } from '../../crds/virtualbucket.ts';
import { describeIssues } from '../../injector/faults/model.ts';
import { findCondition, outcome, type ConditionInput } from '../conditions.ts';
import type { Ctx } from '../context.ts';
import type { Result } from '../controller.ts';
import { KubeError } from '../kube/api.ts';
import { apply } from '../kube/apply.ts';
import { writeStatusOf } from '../status.ts';
import { TYPES, type KubeObject } from '../kube/types.ts';
import { selectBackends } from '../selection.ts';
import { ensureAccessSecret } from './access.ts';
import { fetchGatewayStatus, statusUrl } from './gateway-status.ts';
import { gcProgress } from './gc-progress.ts';
import type { OriginStatus, StatusSnapshot } from '../../proxy/health/status.ts';
import { ensureTokenSecret } from './gateway-tokens.ts';
import { adminSecretName, childName, faultSecretName, render } from './render.ts';

type BackendRow = NonNullable<VirtualBucketStatus['backends']>[number];

const MIGRATION_STATES = { counting: 'Counting', running: 'Running', done: 'Done', cancelled: 'Cancelled', failed: 'Failed' } as const;

/** The gateway's origin progress (/status) as the resource's status.origin. */
export function originProgress(o: OriginStatus | undefined): VirtualBucketStatus['origin'] {
  if (!o) return undefined;
  const m = o.migration;
  return {
    reads: o.reads, copied: o.copied, copyFailures: o.copyFailures,
    ...(m ? {
      migration: MIGRATION_STATES[m.state], migrationRun: m.run, migratedObjects: m.copied, migratedBytes: m.copiedBytes,
      skippedObjects: m.skipped, failedObjects: m.failed, remainingObjects: m.remainingObjects, remainingBytes: m.remainingBytes,
      ...(m.lastError ? { lastError: m.lastError.slice(0, 1024) } : {}),
    } : {}),
  };
}

async function writeStatus(ctx: Ctx, vb: KubeObject, status: VirtualBucketStatus, conditions: ConditionInput[]): Promise<void> {
  const w = await writeStatusOf(ctx, TYPES.virtualBucket, vb, status, conditions);
  if (w?.transitioned) {
    const ready = findCondition(w.next.conditions, 'Ready')!;
    const degraded = findCondition(w.next.conditions, 'Degraded')!;
    const shown = degraded.status === 'True' ? degraded : ready;
    ctx.events.record(vb, shown === ready && ready.status === 'True' ? 'Normal' : 'Warning', shown.reason, shown.message);
    ctx.log('info', 'VirtualBucket changed state', { virtualBucket: `${vb.metadata.namespace}/${vb.metadata.name}`, ready: ready.status, reason: shown.reason });
  }
}

/** What the Deployment says about its pods: ready count and a rollout that gave up. */
function rollout(d: KubeObject | undefined): { ready: number; failed?: string } {
  const st = (d?.status ?? {}) as { readyReplicas?: number; conditions?: { type: string; status: string; reason?: string; message?: string }[] };
  const progressing = st.conditions?.find((c) => c.type === 'Progressing');
  const failed = progressing?.status === 'False' ? `${progressing.reason ?? 'rollout stopped'}: ${progressing.message ?? ''}`.trim() : undefined;
  return { ready: st.readyReplicas ?? 0, failed };
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
  const bucketName = spec.bucketName ?? vb.metadata.name;
  const accessSecret = spec.accessSecretName ?? `${vb.metadata.name}-access`;
  const service = childName(vb);
  const endpoint = `http://${service}.${ns}.svc:${spec.port}`;
  const base: VirtualBucketStatus = { bucketName, endpoint, accessSecret, adminSecret: adminSecretName(vb), replicas: spec.replicas };

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
  await ensureTokenSecret(ctx.kube, vb, faultSecretName(vb));
  await ensureTokenSecret(ctx.kube, vb, adminSecretName(vb));
  const out = render({ vb, spec, rawSpec: vb.spec as Record<string, unknown>, backends: usable, image: ctx.options.gatewayImage, accessSecretName: accessSecret });
  try {
    if (out.claim) await apply(ctx.kube, TYPES.persistentVolumeClaim, out.claim);
    await apply(ctx.kube, TYPES.configMap, out.configMap);
    await apply(ctx.kube, TYPES.service, out.service);
    await apply(ctx.kube, TYPES.deployment, out.deployment);
  } catch (e) {
    // The API server refusing what we rendered (a shrunk claim, resources it rejects) is the
    // spec's problem: say so instead of retrying forever.
    if (!(e instanceof KubeError) || (e.status !== 422 && e.status !== 400)) throw e;
    await writeStatus(ctx, vb, prev, outcome('degraded', 'RenderRejected', `the API server refused the rendered gateway: ${e.message}`));
    return {};
  }

  const deployment = ctx.deployments.get(`${ns}/${service}`);
  const { ready: readyReplicas, failed: rolloutFailed } = rollout(deployment);
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
  const served = gw.ok ? gw.snapshot.virtualBuckets.find((v) => v.name === bucketName) : undefined;
  const origin = originProgress(served?.origin);
  const gc = gcProgress(served?.gc);
  const status: VirtualBucketStatus = {
    ...base, readyReplicas, backendCount: usable.length, backends: rows, configHash: out.configHash,
    ...copiesStatus(served), ...(origin ? { origin } : {}), ...(gc ? { gc } : {}),
  };

  const deleting = found.filter((b) => b.metadata.deletionTimestamp).map((b) => b.metadata.name);
  const current = served !== undefined && served.backends.join(',') === names.join(',');
  const down = rows.filter((r) => r.health === 'Down').map((r) => r.name);

  let conditions: ConditionInput[];
  let requeueAfterMs = 30_000;
  // A Service without a ready pod serves nobody, whatever a /status reached some other way says.
  if (spec.replicas === 0) {
    conditions = [
      { type: 'Ready', status: 'False', reason: 'ScaledToZero', message: 'spec.replicas is 0: no gateway pod runs' },
      { type: 'Progressing', status: 'False', reason: 'ScaledToZero', message: 'spec.replicas is 0: no gateway pod runs' },
      { type: 'Degraded', status: 'False', reason: 'ScaledToZero', message: 'spec.replicas is 0: no gateway pod runs' },
    ];
  } else if (readyReplicas === 0 && rolloutFailed) {
    conditions = outcome('degraded', 'GatewayRolloutFailed', `0 of ${spec.replicas} gateway pods are ready; Deployment ${service}: ${rolloutFailed}`);
    requeueAfterMs = 10_000;
  } else if (readyReplicas === 0) {
    conditions = outcome('progressing', 'NoReadyReplicas', `0 of ${spec.replicas} gateway pods are ready (Deployment ${service})${deployment ? '' : ' — the Deployment is not in the cache yet'}`);
    requeueAfterMs = 5_000;
  } else if (!gw.ok) {
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

/** Copies kept and repair progress, as the gateway reports them (absent from gateways that predate copies). */
function copiesStatus(v: StatusSnapshot['virtualBuckets'][number] | undefined): Pick<VirtualBucketStatus, 'copies' | 'underReplicated' | 'repairs' | 'drains'> {
  if (!v || v.copies === undefined) return {};
  return {
    copies: v.copies,
    underReplicated: v.underReplicated ?? 0,
    repairs: (v.repairs ?? []).slice(0, 32).map((r) => ({ ...(r.backend ? { backend: r.backend } : {}), scanned: r.scanned, queued: r.queued })),
    // Gateways that predate drains report none.
    ...(v.drains?.length ? {
      drains: v.drains.slice(0, 256).map((d) => {
        const moved = d.progress?.moved ?? d.moved;
        const bytes = d.progress?.movedBytes ?? d.movedBytes;
        return {
          backend: d.backend, state: d.state === 'drained' ? 'Drained' as const : 'Draining' as const,
          ...(moved !== undefined ? { moved } : {}), ...(bytes !== undefined ? { movedBytes: bytes } : {}),
          ...(d.progress ? { failed: d.progress.failed } : {}), ...(d.progress?.lastError ? { lastError: d.progress.lastError.slice(0, 1024) } : {}),
        };
      }),
    } : {}),
  };
}

// BackendBucket: keep the finalizer while VirtualBuckets use it, read its credentials Secret,
// probe the endpoint with a signed S3 request, and write health, latency, usage and conditions.
// Every failure is a Degraded condition with a reason and a backoff retry, never a crash.
import { BackendBucketResourceSpec, type BackendBucketStatus } from '../../crds/backendbucket.ts';
import { formatSize } from '../../crds/units.ts';
import { describeIssues } from '../../injector/faults/model.ts';
import { findCondition, outcome, type ConditionInput } from '../conditions.ts';
import { FINALIZER, type Ctx } from '../context.ts';
import type { Result } from '../controller.ts';
import { isNotFound, pathOf } from '../kube/api.ts';
import { applyFinalizer } from '../kube/apply.ts';
import { writeStatusOf } from '../status.ts';
import { splitKey, TYPES, type KubeObject } from '../kube/types.ts';
import { selects } from '../selection.ts';
import { probeBackend } from './probe.ts';

type Credentials = { ok: true; accessKeyId: string; secretAccessKey: string } | { ok: false; reason: string; message: string };

async function readCredentials(ctx: Ctx, ns: string, ref: BackendBucketResourceSpec['credentialsSecret']): Promise<Credentials> {
  let secret: KubeObject;
  try {
    secret = await ctx.kube.request('GET', pathOf(TYPES.secret, ns, ref.name));
  } catch (e) {
    if (isNotFound(e)) return { ok: false, reason: 'SecretNotFound', message: `Secret ${ns}/${ref.name} does not exist` };
    throw e;
  }
  const get = (k: string) => (secret.data?.[k] === undefined ? undefined : Buffer.from(secret.data[k]!, 'base64').toString('utf8').trim());
  const accessKeyId = get(ref.accessKeyIdKey);
  const secretAccessKey = get(ref.secretAccessKeyKey);
  const missing = [!accessKeyId && ref.accessKeyIdKey, !secretAccessKey && ref.secretAccessKeyKey].filter(Boolean);
  if (missing.length) return { ok: false, reason: 'SecretKeyMissing', message: `Secret ${ns}/${ref.name} has no (or an empty) ${missing.join(' and ')}` };
  return { ok: true, accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! };
}

export function usersOf(ctx: Ctx, bb: KubeObject): KubeObject[] {
  return ctx.virtualBuckets.list(bb.metadata.namespace).filter((vb) => !vb.metadata.deletionTimestamp && selects(vb, bb));
}

async function writeStatus(ctx: Ctx, bb: KubeObject, status: BackendBucketStatus, conditions: ConditionInput[], eventType?: 'Normal' | 'Warning'): Promise<void> {
  const w = await writeStatusOf(ctx, TYPES.backendBucket, bb, status, conditions);
  if (w?.transitioned) {
    const ready = findCondition(w.next.conditions, 'Ready')!;
    ctx.events.record(bb, eventType ?? (ready.status === 'True' ? 'Normal' : 'Warning'), ready.reason, ready.message);
    ctx.log('info', 'BackendBucket changed state', { backendBucket: `${bb.metadata.namespace}/${bb.metadata.name}`, ready: ready.status, reason: ready.reason });
  }
}

export async function reconcileBackendBucket(ctx: Ctx, key: string): Promise<Result> {
  const cached = ctx.backendBuckets.get(key);
  if (!cached) return {};
  const bb: KubeObject = { ...cached, apiVersion: 'floodgate.dev/v1alpha1', kind: 'BackendBucket' };
  const { namespace, name } = splitKey(key);
  const prev = (bb.status ?? {}) as BackendBucketStatus;
  const users = usersOf(ctx, bb);
  const usedBy = users.map((v) => v.metadata.name).sort();

  if (bb.metadata.deletionTimestamp) {
    if (!bb.metadata.finalizers?.includes(FINALIZER)) return {};
    if (users.length) {
      const message = `still used by VirtualBucket ${usedBy.join(', ')}: remove it from their backends first`;
      const before = findCondition(prev.conditions, 'Degraded');
      await writeStatus(ctx, bb, { ...prev, usedBy }, outcome('degraded', 'DeletionBlocked', message), 'Warning');
      if (before?.reason !== 'DeletionBlocked') {
        for (const vb of users) ctx.events.record({ ...vb, apiVersion: 'floodgate.dev/v1alpha1', kind: 'VirtualBucket' }, 'Warning', 'BackendDeleting', `BackendBucket ${name} is being deleted but this VirtualBucket still uses it`);
        for (const vb of users) ctx.queues.virtualBucket.add(`${namespace}/${vb.metadata.name}`);
      }
      return { requeueAfterMs: 30_000 };
    }
    await applyFinalizer(ctx.kube, TYPES.backendBucket, namespace, name, FINALIZER, false);
    ctx.log('info', 'BackendBucket released', { backendBucket: key });
    return {};
  }
  if (!bb.metadata.finalizers?.includes(FINALIZER)) await applyFinalizer(ctx.kube, TYPES.backendBucket, namespace, name, FINALIZER, true);

  const parsed = BackendBucketResourceSpec.safeParse(bb.spec);
  if (!parsed.success) {
    await writeStatus(ctx, bb, { ...prev, usedBy, health: 'Unknown' }, outcome('degraded', 'InvalidSpec', describeIssues(parsed.error, 'spec')));
    return {};
  }
  const spec = parsed.data;

  // A probe a moment ago for this generation is still the truth: changes in who uses the
  // backend don't need another round trip.
  const last = prev.lastProbeTime ? Date.parse(prev.lastProbeTime) : 0;
  const fresh = prev.health === 'Up' && prev.observedGeneration === bb.metadata.generation && ctx.now().getTime() - last < Math.min(spec.probeInterval, 15_000);
  if (fresh) {
    await writeStatus(ctx, bb, { ...prev, usedBy }, outcome('ready', 'ProbeSucceeded', findCondition(prev.conditions, 'Ready')?.message ?? 'probe succeeded'));
    return { requeueAfterMs: Math.max(1_000, spec.probeInterval - (ctx.now().getTime() - last)) };
  }

  const creds = await readCredentials(ctx, namespace, spec.credentialsSecret);
  const probedAt = ctx.now().toISOString();
  if (!creds.ok) {
    await writeStatus(ctx, bb, { ...prev, usedBy, health: 'Unknown', lastProbeTime: probedAt, lastError: creds.message }, outcome('degraded', creds.reason, creds.message));
    return { retry: true };
  }
  const r = await probeBackend({ name, endpoint: spec.endpoint, bucket: spec.bucket, region: spec.region, pathStyle: spec.pathStyle, credentials: creds }, { timeoutMs: ctx.options.probeTimeoutMs });
  if (!r.ok) {
    await writeStatus(ctx, bb, { ...prev, usedBy, health: 'Down', lastProbeTime: probedAt, lastError: r.message }, outcome('degraded', r.reason, r.message));
    return { retry: true };
  }
  const { lastError: _gone, ...rest } = prev;
  const message = `${spec.endpoint}/${spec.bucket} answered in ${r.latencyMs} ms; ${r.objects}${r.complete ? '' : '+'} objects, ${formatSize(r.usedBytes)}`;
  await writeStatus(ctx, bb, {
    ...rest, usedBy, health: 'Up', latencyMs: r.latencyMs, usedBytes: r.usedBytes, used: formatSize(r.usedBytes),
    objectCount: r.objects, usageComplete: r.complete, lastProbeTime: probedAt,
  }, outcome('ready', 'ProbeSucceeded', message));
  return { requeueAfterMs: spec.probeInterval };
}

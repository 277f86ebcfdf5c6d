// FaultExperiment: refuse what is unsafe, choose the targets once, record the window, inject
// (idempotent ids) and heart-beat while it runs, and at the end — time up, deleted, aborted, kill
// switch, failed — stop every fault, read the injectors' counts and ledgers into the verdict and
// drop the finalizer. A restarted operator picks up from status and the injectors' own records.
import { FaultExperimentSpec, MATCH_REQUIRED, REQUEST_KINDS, type FaultExperimentStatus } from '../../crds/faultexperiment.ts';
import { describeIssues, parseDuration } from '../../injector/faults/model.ts';
import { sameStatus } from '../context.ts';
import type { Result } from '../controller.ts';
import { isNotFound } from '../kube/api.ts';
import { applyFinalizer, applyStatus } from '../kube/apply.ts';
import type { KubeObject } from '../kube/types.ts';
import { CREATED_BY_ANNOTATION, CREATOR_CAN_DELETE_PODS_ANNOTATION } from '../injection-contract.ts';
import { ANNOTATION_ABORT, PROTECTED_NAMESPACES } from './contract.ts';
import { InjectorError, observe } from './injector-client.ts';
import { activations, faultId, heartbeatMs, intent, isTerminal, report, type End, type Observation, type ResolvedTarget } from './plan.ts';
import { chooseTargets, chosenFromStatus, resolveTargets } from './targets.ts';
import { FX_FINALIZER, FX_TYPE, type FxCtx } from './types.ts';

/**
 * Status this operator wrote last, per key: the cache can lag one write behind, and a reconcile
 * that read the window (expiresAt) from a stale cache would send a different expiry.
 */
const written = new Map<string, { rv: number; status: FaultExperimentStatus }>();

function currentStatus(key: string, fx: KubeObject): FaultExperimentStatus {
  const w = written.get(key);
  const rv = Number(fx.metadata.resourceVersion);
  if (w && Number.isFinite(rv) && w.rv > rv) return w.status;
  return (fx.status ?? {}) as FaultExperimentStatus;
}

type Refusal = { reason: string; message: string };

function refusal(ctx: FxCtx, fx: KubeObject): Refusal | { spec: FaultExperimentSpec } {
  const ns = fx.metadata.namespace!;
  const protectedNs = [...PROTECTED_NAMESPACES, ...(ctx.options.operatorNamespace ? [ctx.options.operatorNamespace] : [])];
  if (protectedNs.includes(ns)) return { reason: 'ProtectedNamespace', message: `namespace ${ns} is protected: experiments never act in ${protectedNs.join(', ')}` };
  const p = FaultExperimentSpec.safeParse(fx.spec);
  if (!p.success) return { reason: 'InvalidSpec', message: describeIssues(p.error, 'spec') };
  const noMatch = p.data.faults.findIndex((f) => REQUEST_KINDS.has(f.kind) && f.match === undefined);
  if (noMatch >= 0) return { reason: 'InvalidSpec', message: `spec.faults.${noMatch}: ${MATCH_REQUIRED}` };
  return { spec: p.data };
}

async function writeStatus(ctx: FxCtx, key: string, fx: KubeObject, prev: FaultExperimentStatus, next: FaultExperimentStatus, events: { type: 'Normal' | 'Warning'; reason: string; note: string }[]): Promise<void> {
  if (sameStatus(prev, next)) return;
  const res = await applyStatus(ctx.kube, FX_TYPE, fx.metadata.namespace!, fx.metadata.name, next);
  written.set(key, { rv: Number(res.metadata.resourceVersion), status: next });
  for (const e of events.slice(0, 20)) ctx.events.record(fx, e.type, e.reason, e.note);
  if (prev.phase !== next.phase) ctx.log('info', 'FaultExperiment changed phase', { faultExperiment: key, from: prev.phase ?? '(new)', phase: next.phase, injected: next.injected, selected: next.selected });
}

async function setFinalizer(ctx: FxCtx, fx: KubeObject, present: boolean): Promise<void> {
  const has = fx.metadata.finalizers?.includes(FX_FINALIZER) ?? false;
  if (has === present) return;
  try {
    await applyFinalizer(ctx.kube, FX_TYPE, fx.metadata.namespace!, fx.metadata.name, FX_FINALIZER, present);
  } catch (e) {
    if (!(isNotFound(e) && !present)) throw e;
  }
}

const killSwitchOn = (ctx: FxCtx) => ctx.killSwitch();
/** Reasons a target will not get over by waiting: fail at once when every target has one. */
const PERMANENT = new Set(['NoSidecar', 'PodGone', 'BadAnnotation']);

export async function reconcileFaultExperiment(ctx: FxCtx, key: string): Promise<Result> {
  const cached = ctx.experiments.get(key);
  if (!cached) { written.delete(key); return {}; }
  const fx: KubeObject = { ...cached, apiVersion: 'floodgate.dev/v1alpha1', kind: 'FaultExperiment' };
  const ns = fx.metadata.namespace!;
  const now = ctx.now();
  let prev = currentStatus(key, fx);
  const hasFinalizer = fx.metadata.finalizers?.includes(FX_FINALIZER) ?? false;
  const deleting = Boolean(fx.metadata.deletionTimestamp);
  if (deleting && !hasFinalizer) return {};
  if (isTerminal(prev.phase) && (!hasFinalizer || (prev.targets ?? []).every((t) => t.state !== 'Injected'))) {
    await setFinalizer(ctx, fx, false);
    return {};
  }

  const checked = refusal(ctx, fx);
  const uid = fx.metadata.uid!;
  if (!('spec' in checked)) {
    // Nothing was sent yet when the spec is refused: record why, and hold nothing.
    const spec = { target: {}, faults: [], duration: '1s', dryRun: false } as unknown as FaultExperimentSpec;
    const end: End = { phase: 'Failed', reason: checked.reason, message: checked.message };
    const r = report({ now, generation: fx.metadata.generation, spec, uid, prev, targets: [], observations: new Map(), end, dryRun: false });
    await writeStatus(ctx, key, fx, prev, r.status, r.events);
    await setFinalizer(ctx, fx, false);
    return {};
  }
  const spec = checked.spec;
  const end = intent({
    now, createdAt: new Date(fx.metadata.creationTimestamp ?? now.toISOString()), deleting,
    abortAnnotation: fx.metadata.annotations?.[ANNOTATION_ABORT] === 'true', killSwitch: killSwitchOn(ctx),
    status: prev, injectionDeadlineMs: ctx.options.injectionDeadlineMs,
  });
  const base = { now, generation: fx.metadata.generation, spec, uid, dryRun: spec.dryRun, creator: creatorOf(fx) };

  // Targets: chosen once and recorded; later reconciles (and restarted operators) read them back.
  let chosen = chosenFromStatus(prev);
  if (chosen.length === 0 && !end) {
    const c = chooseTargets(ctx, fx, spec);
    if (!c.ok) {
      const stop: End | undefined = c.wait ? undefined : { phase: 'Failed', reason: c.reason, message: c.message };
      const r = report({ ...base, prev, targets: [], observations: new Map(), end: stop });
      const status = stop ? r.status : { ...r.status, conditions: r.status.conditions!.map((x) => (x.type === 'Ready' || x.type === 'Progressing' ? { ...x, reason: c.reason, message: c.message } : x)) };
      await writeStatus(ctx, key, fx, prev, status, stop ? r.events : r.events.concat(prev.phase ? [] : [{ type: 'Warning', reason: c.reason, note: c.message }]));
      return stop ? {} : { requeueAfterMs: 2_000 };
    }
    chosen = c.targets;
  }
  const { targets, endpoints } = await resolveTargets(ctx, ns, chosen);

  if (spec.dryRun) {
    const r = report({ ...base, prev, targets, observations: new Map(), end: end && end.phase !== 'Completed' ? end : undefined });
    await writeStatus(ctx, key, fx, prev, r.status, r.events);
    await setFinalizer(ctx, fx, false);
    return {};
  }

  if (end) return finish(ctx, key, fx, prev, base, targets, endpoints, end);

  if (!hasFinalizer) await setFinalizer(ctx, fx, true);
  if (!prev.expiresAt) {
    // The window and the targets are on record before any fault is sent: a restart resends the
    // very same activations (same ids, same expiry), which the injectors treat as no-ops.
    const startTime = now.toISOString().replace(/\.\d+Z$/, 'Z');
    const expiresAt = new Date(Date.parse(startTime) + parseDuration(spec.duration)).toISOString().replace(/\.\d+Z$/, 'Z');
    const r = report({ ...base, prev: { ...prev, startTime, expiresAt }, targets, observations: new Map() });
    await writeStatus(ctx, key, fx, prev, r.status, r.events);
    prev = r.status;
  }

  const ids = spec.faults.map((_f, i) => faultId(uid, i));
  const observations = new Map<string, Observation>();
  await Promise.all(targets.filter((t) => endpoints.has(t.name)).map(async (t) => {
    const ep = endpoints.get(t.name)!;
    let o = await observe(ctx.injector, ep, ids, false);
    if (o.ok) {
      const faults = o.faults;
      // Only ids the injector has never held are sent: one that ended (lease lost while the
      // operator was away, stopped by hand) stays ended.
      const missing = ids.filter((id) => faults[id]!.state === 'unknown');
      let error: string | undefined;
      if (missing.length) {
        const acts = activations(spec, uid, prev.expiresAt!, { kind: t.kind, backendBucket: spec.target.backendBucket }).filter((a) => missing.includes(a.id!));
        try { await ctx.injector.inject(ep, acts); } catch (e) { error = (e as Error).message; }
      }
      try { await ctx.injector.heartbeat(ep, ids); } catch (e) { error ??= (e as Error).message; }
      if (missing.length) o = await observe(ctx.injector, ep, ids, false);
      if (o.ok && error) o = { ...o, error };
    }
    observations.set(t.name, o);
  }));

  const r = report({ ...base, prev, targets, observations });
  if (targets.length > 0 && r.status.targets!.every((t) => t.state === 'NotInjected' && PERMANENT.has(t.reason))) {
    const first = r.status.targets![0]!;
    return finish(ctx, key, fx, prev, base, targets, endpoints, { phase: 'Failed', reason: first.reason === 'NoSidecar' ? 'NoSidecar' : 'NoInjectableTargets', message: `no selected target can be injected: ${first.name}: ${first.message}` });
  }
  await writeStatus(ctx, key, fx, prev, r.status, r.events);
  // Heartbeats keep the leases alive while running; while injecting, look again soon.
  const untilEnd = Math.max(0, Date.parse(prev.expiresAt!) - ctx.now().getTime());
  const every = r.status.phase === 'Running' ? heartbeatMs(spec) : Math.min(heartbeatMs(spec), 1_000);
  return { requeueAfterMs: Math.min(untilEnd + 50, every) };
}

/** Stops every fault on every target, reads the verdict, writes the end, drops the finalizer once all are reverted. */
async function finish(ctx: FxCtx, key: string, fx: KubeObject, prev: FaultExperimentStatus, base: Omit<Parameters<typeof report>[0], 'prev' | 'targets' | 'observations' | 'end'>, targets: ResolvedTarget[], endpoints: Map<string, { baseUrl: string; token: string }>, end: End): Promise<Result> {
  const ids = base.spec.faults.map((_f, i) => faultId(base.uid, i));
  const observations = new Map<string, Observation>();
  await Promise.all(targets.filter((t) => endpoints.has(t.name)).map(async (t) => {
    const ep = endpoints.get(t.name)!;
    try {
      await Promise.all(ids.map((id) => ctx.injector.stop(ep, id)));
      observations.set(t.name, await observe(ctx.injector, ep, ids, true));
    } catch (e) {
      observations.set(t.name, { ok: false, error: (e as Error).message, status: e instanceof InjectorError ? e.status : undefined });
    }
  }));
  const r = report({ ...base, prev, targets, observations, end });
  await writeStatus(ctx, key, fx, prev, r.status, r.events);
  if (!r.settled) return { retry: true };
  await setFinalizer(ctx, fx, false);
  return {};
}

/** Who created the experiment and whether they could delete its targets, as the admission webhook recorded it. */
function creatorOf(fx: KubeObject): FaultExperimentStatus['creator'] {
  const a = fx.metadata.annotations ?? {};
  const user = a[CREATED_BY_ANNOTATION];
  if (user === undefined) return undefined;
  const may = a[CREATOR_CAN_DELETE_PODS_ANNOTATION];
  return { user, mayDeleteTargets: may === 'true' || may === 'false' ? may : 'unknown' };
}

// The pure step of the FaultExperiment controller. `intent` says what a reconcile should do now
// (keep running, or end with a phase and why); `activations` are the faults every target gets;
// `report` turns what the injectors said into the status, the Events and the counts. No I/O:
// reconcile.ts observes, acts and writes; this is table-tested in plan.test.ts.
import { createHash } from 'node:crypto';
import { REQUEST_KINDS, type FaultExperimentSpec, type FaultExperimentStatus, type Phase, type TargetRecord, type TargetState } from '../../crds/faultexperiment.ts';
import type { FaultSpec } from '../../injector/faults/model.ts';
import { parseDuration } from '../../injector/faults/model.ts';
import { setConditions, type ConditionInput } from '../conditions.ts';

export const DEFAULT_LEASE = '30s';
export type EndPhase = Extract<Phase, 'Completed' | 'Aborted' | 'Failed'>;
export const isTerminal = (p: Phase | undefined): p is EndPhase => p === 'Completed' || p === 'Aborted' || p === 'Failed';

export interface End { phase: EndPhase; reason: string; message: string }

export interface IntentInput {
  now: Date;
  createdAt: Date;
  deleting: boolean;
  abortAnnotation: boolean;
  killSwitch: boolean;
  status: FaultExperimentStatus;
  /** How long injection may take before the experiment fails. */
  injectionDeadlineMs: number;
}

/** Why the experiment ends now, if it does; first cause wins. */
export function intent(i: IntentInput): End | undefined {
  const s = i.status;
  if (isTerminal(s.phase)) return { phase: s.phase, reason: reasonOf(s) ?? s.phase, message: messageOf(s) ?? '' };
  if (i.deleting) return { phase: 'Aborted', reason: 'Deleted', message: 'the experiment was deleted: every target is reverted' };
  if (i.abortAnnotation) return { phase: 'Aborted', reason: 'AbortRequested', message: 'annotation floodgate.io/abort is "true": every target is reverted' };
  if (i.killSwitch) return { phase: 'Aborted', reason: 'KillSwitch', message: 'the cluster-wide kill switch is on: every experiment is aborted' };
  if (s.expiresAt && i.now.getTime() >= Date.parse(s.expiresAt)) return { phase: 'Completed', reason: 'Completed', message: 'the duration has passed: every target is reverted' };
  const since = s.startTime ? Date.parse(s.startTime) : i.createdAt.getTime();
  if (s.phase !== 'Running' && i.now.getTime() - since > i.injectionDeadlineMs) {
    return { phase: 'Failed', reason: s.selected ? 'InjectionNotConfirmed' : 'NoTargets', message: s.selected
      ? `not every target confirmed its faults within ${i.injectionDeadlineMs / 1000}s`
      : `no target was found within ${i.injectionDeadlineMs / 1000}s` };
  }
  return undefined;
}

const reasonOf = (s: FaultExperimentStatus) => s.conditions?.find((c) => c.type === 'Ready')?.reason;
const messageOf = (s: FaultExperimentStatus) => s.conditions?.find((c) => c.type === 'Ready')?.message;

/** A fault's activation id: the same on every target and every reconcile, so inject is idempotent. */
export const faultId = (uid: string, index: number) => `fx-${uid}-${index}`;

/** The seed a fault's random stream uses when the user gave none: derived from uid and index. */
export function seedOf(uid: string, index: number): number {
  return createHash('sha256').update(`${uid}/${index}`).digest().readUInt32BE(0);
}

export interface TargetKind { kind: 'pod' | 'gateway'; backendBucket?: string }

/** The faults sent to every target: ids, the absolute expiry, the lease, a seed; BackendBucket targets narrowed to it. */
export function activations(spec: FaultExperimentSpec, uid: string, expiresAt: string, t: TargetKind): FaultSpec[] {
  return spec.faults.map((f, i) => {
    // A fault's own `duration` stays: it shortens that fault within the experiment's window.
    const out = { ...f, id: faultId(uid, i), expiresAt, lease: spec.lease ?? DEFAULT_LEASE,
      trigger: { ...f.trigger, seed: f.trigger?.seed ?? seedOf(uid, i) } } as FaultSpec;
    if (t.backendBucket) {
      if (out.kind === 'backendDown') out.backend = t.backendBucket;
      else out.match = { ...out.match, backends: [t.backendBucket] };
    }
    return out;
  });
}

/** How often to heart-beat: three times per lease, between 1 s and 10 s. */
export function heartbeatMs(spec: FaultExperimentSpec): number {
  return Math.min(10_000, Math.max(1_000, Math.floor(parseDuration(spec.lease ?? DEFAULT_LEASE) / 3)));
}

export interface FaultObservation { state: 'active' | 'ended' | 'unknown'; reason?: string; matched: number; fired: number }
export type Observation = { ok: true; faults: Record<string, FaultObservation>; error?: string } | { ok: false; error: string; status?: number };

export interface ResolvedTarget {
  kind: 'pod' | 'gateway';
  name: string;
  virtualBucket?: string;
  /** Set when the target has no reachable injector (no sidecar, pod gone…). */
  unavailable?: { reason: string; message: string };
}

export interface ReportInput {
  now: Date;
  generation: number | undefined;
  spec: FaultExperimentSpec;
  uid: string;
  prev: FaultExperimentStatus;
  targets: readonly ResolvedTarget[];
  observations: ReadonlyMap<string, Observation>;
  end?: End;
  dryRun: boolean;
  /** From the admission webhook's annotations; absent when the webhook did not see the experiment. */
  creator?: FaultExperimentStatus['creator'];
}

export interface Report {
  status: FaultExperimentStatus;
  events: { type: 'Normal' | 'Warning'; reason: string; note: string }[];
  /** No target may still hold a fault: the finalizer can go. */
  settled: boolean;
}

const camel = (s: string) => s.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
const stamp = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');

function targetState(t: ResolvedTarget, ids: readonly string[], obs: Observation | undefined, prev: TargetRecord | undefined, end: End | undefined, dryRun: boolean): Pick<TargetRecord, 'state' | 'reason' | 'message' | 'matched' | 'faulted'> {
  const counts = obs?.ok ? { matched: ids.reduce((n, id) => n + (obs.faults[id]?.matched ?? 0), 0), faulted: ids.reduce((n, id) => n + (obs.faults[id]?.fired ?? 0), 0) } : {};
  if (dryRun) return { state: 'NotInjected', reason: 'DryRun', message: 'dryRun: selected, nothing injected' };
  const wasInjected = prev?.state === 'Injected' || prev?.state === 'Lost' || prev?.state === 'Recovered';
  if (t.unavailable) {
    if (wasInjected) return { state: prev!.state === 'Recovered' ? 'Recovered' : 'Lost', reason: prev!.state === 'Recovered' ? prev!.reason : t.unavailable.reason, message: t.unavailable.message, matched: prev!.matched, faulted: prev!.faulted };
    return { state: 'NotInjected', reason: t.unavailable.reason, message: t.unavailable.message };
  }
  if (!obs && !end) return { state: prev?.state ?? 'Selected', reason: prev?.reason ?? 'Selected', message: prev?.message ?? 'chosen; the faults follow', matched: prev?.matched, faulted: prev?.faulted };
  if (!obs || !obs.ok) {
    const status = obs && !obs.ok ? obs.status : undefined;
    const why = status === 401 ? 'Unauthorized' : 'Unreachable';
    const message = obs ? (status ? `injector answered ${obs.error}` : `injector unreachable: ${obs.error}`) : 'not observed';
    if (end && wasInjected) return { state: 'Lost', reason: why, message: `${message}; it reverts on its own at expiry or lease loss`, matched: prev?.matched, faulted: prev?.faulted };
    if (end) return { state: 'NotInjected', reason: why, message };
    return { state: prev?.state ?? 'Selected', reason: why, message, matched: prev?.matched, faulted: prev?.faulted };
  }
  const fs = ids.map((id) => obs.faults[id] ?? { state: 'unknown' as const, matched: 0, fired: 0 });
  const active = fs.filter((f) => f.state === 'active').length;
  const known = fs.filter((f) => f.state !== 'unknown').length;
  const lost = fs.find((f) => f.state === 'ended' && f.reason !== 'expired' && f.reason !== 'stopped');
  if (end) {
    if (active > 0) return { state: 'Injected', reason: 'RevertPending', message: `${active} fault(s) still active; retrying the revert`, ...counts };
    if (known === 0 && !wasInjected) return { state: 'NotInjected', reason: end.reason === 'Completed' ? 'NeverInjected' : end.reason, message: 'no fault was active on this target', ...counts };
    if (lost) return { state: 'Lost', reason: camel(lost.reason ?? 'ended'), message: `a fault ended early on its own (${lost.reason}); the others were reverted`, ...counts };
    return { state: 'Recovered', reason: 'Reverted', message: 'every fault is reverted', ...counts };
  }
  if (lost) return { state: 'Lost', reason: camel(lost.reason ?? 'ended'), message: `a fault ended before the experiment did (${lost.reason})`, ...counts };
  if (active > 0 && known === ids.length) return { state: 'Injected', reason: 'Confirmed', message: 'the injector lists every fault', ...counts };
  return { state: 'Selected', reason: 'Injecting', message: obs.error ?? `${known} of ${ids.length} fault(s) confirmed`, ...counts };
}

export function report(i: ReportInput): Report {
  const { prev, now, spec, end } = i;
  const ids = spec.faults.map((_f, n) => faultId(i.uid, n));
  const prevTargets = new Map((prev.targets ?? []).map((t) => [t.name, t]));
  const events: Report['events'] = [];
  const targets: TargetRecord[] = i.targets.map((t) => {
    const p = prevTargets.get(t.name);
    const next = targetState(t, ids, i.observations.get(t.name), p, end, i.dryRun);
    const changed = !p || p.state !== next.state || p.reason !== next.reason;
    if (changed && (!p || p.state !== next.state)) {
      events.push({ type: next.state === 'Lost' || (next.state === 'NotInjected' && !i.dryRun) ? 'Warning' : 'Normal', reason: `Target${next.state}`, note: `${t.kind} ${t.name}: ${next.state} (${next.reason}) ${next.message ?? ''}`.trim() });
    }
    const rec: TargetRecord = { kind: t.kind, name: t.name, ...(t.virtualBucket ? { virtualBucket: t.virtualBucket } : {}), state: next.state, reason: next.reason,
      ...(next.message ? { message: next.message.slice(0, 1024) } : {}), lastTransitionTime: changed || !p ? stamp(now) : p.lastTransitionTime,
      ...(next.matched !== undefined ? { matched: next.matched } : {}), ...(next.faulted !== undefined ? { faulted: next.faulted } : {}) };
    return rec;
  });

  const n = (s: TargetState) => targets.filter((t) => t.state === s).length;
  const injectable = targets.filter((t) => !(t.state === 'NotInjected')).length;
  let phase: Phase;
  if (end) phase = end.phase;
  else if (i.dryRun) phase = 'Completed';
  else if (injectable > 0 && targets.every((t) => t.state !== 'Selected')) phase = 'Running';
  else phase = prev.phase === 'Running' ? 'Running' : 'Pending';

  // Per fault: seed and counts summed over targets.
  const faults = spec.faults.map((f, k) => {
    let matched = 0;
    let faulted = 0;
    for (const t of i.targets) {
      const o = i.observations.get(t.name);
      if (o?.ok) {
        matched += o.faults[ids[k]!]?.matched ?? 0;
        faulted += o.faults[ids[k]!]?.fired ?? 0;
      }
    }
    const before = prev.faults?.[k];
    return { id: ids[k]!, kind: f.kind, seed: f.trigger?.seed ?? seedOf(i.uid, k), matched: Math.max(matched, before?.matched ?? 0), faulted: Math.max(faulted, before?.faulted ?? 0) };
  });
  const requestFaults = faults.filter((f) => REQUEST_KINDS.has(f.kind));
  const matched = faults.reduce((s, f) => s + f.matched, 0);
  const faulted = faults.reduce((s, f) => s + f.faulted, 0);
  const requestMatched = requestFaults.reduce((s, f) => s + f.matched, 0);

  const noSidecar = targets.filter((t) => t.state === 'NotInjected' && !i.dryRun);
  const lost = targets.filter((t) => t.state === 'Lost');
  const problems = [
    noSidecar.length ? { reason: noSidecar[0]!.reason, message: `${noSidecar.length} target(s) not injected: ${noSidecar.slice(0, 5).map((t) => `${t.name} (${t.reason})`).join(', ')}` } : undefined,
    lost.length ? { reason: 'TargetsLost', message: `${lost.length} target(s) lost their faults early: ${lost.slice(0, 5).map((t) => `${t.name} (${t.reason})`).join(', ')}` } : undefined,
  ].filter((p): p is { reason: string; message: string } => p !== undefined);

  const summary = `${n('Injected')}/${targets.length} injected, ${n('Recovered')} recovered; ${matched} request(s) matched, ${faulted} faulted`;
  let conds: ConditionInput[];
  if (i.dryRun) {
    const m = `dryRun: ${targets.length} target(s) selected, nothing injected`;
    conds = [
      { type: 'Ready', status: 'True', reason: 'DryRun', message: m },
      { type: 'Progressing', status: 'False', reason: 'DryRun', message: m },
      { type: 'Degraded', status: 'False', reason: 'DryRun', message: m },
      { type: 'Effective', status: 'Unknown', reason: 'DryRun', message: m },
    ];
  } else if (end) {
    const m = `${end.message} (${summary})`;
    const failed = end.phase === 'Failed';
    const deg = failed ? { reason: end.reason, message: m } : problems[0];
    conds = [
      { type: 'Ready', status: end.phase === 'Completed' ? 'True' : 'False', reason: end.reason, message: m },
      { type: 'Progressing', status: 'False', reason: end.reason, message: m },
      { type: 'Degraded', status: deg ? 'True' : 'False', reason: deg?.reason ?? end.reason, message: deg ? problems.map((p) => p.message).concat(failed ? [m] : []).join('; ') : m },
      effective(requestFaults.length > 0, requestMatched, n('Recovered') + n('Lost') + n('Injected'), end),
    ];
  } else {
    const m = phase === 'Running' ? `faults active until ${prev.expiresAt} (${summary})` : `injecting (${summary})`;
    conds = [
      { type: 'Ready', status: phase === 'Running' ? 'True' : 'False', reason: phase === 'Running' ? 'Running' : 'Injecting', message: m },
      { type: 'Progressing', status: 'True', reason: phase === 'Running' ? 'Running' : 'Injecting', message: m },
      { type: 'Degraded', status: problems.length ? 'True' : 'False', reason: problems[0]?.reason ?? 'AsExpected', message: problems.length ? problems.map((p) => p.message).join('; ') : m },
      requestFaults.length && requestMatched > 0
        ? { type: 'Effective', status: 'True', reason: 'Matched', message: `${requestMatched} request(s) matched so far` }
        : { type: 'Effective', status: 'Unknown', reason: 'Running', message: 'decided when the experiment ends' },
    ];
  }

  const status: FaultExperimentStatus = {
    observedGeneration: i.generation,
    conditions: setConditions(prev.conditions, conds, i.generation, now),
    phase,
    ...(prev.startTime ? { startTime: prev.startTime } : {}),
    ...(end && end.phase !== prev.phase ? { endTime: stamp(now) } : prev.endTime ? { endTime: prev.endTime } : i.dryRun ? { endTime: prev.endTime ?? stamp(now) } : {}),
    ...(prev.expiresAt ? { expiresAt: prev.expiresAt } : {}),
    ...(i.creator ? { creator: i.creator } : {}),
    selected: targets.length,
    injected: n('Injected'),
    recovered: n('Recovered'),
    matched,
    faulted,
    targets,
    faults,
  };
  if (phase !== prev.phase) {
    const bad = phase === 'Failed' || (phase === 'Aborted' && end?.reason === 'KillSwitch');
    events.unshift({ type: bad ? 'Warning' : 'Normal', reason: phase, note: end ? `${end.message} (${summary})` : `${phase}: ${summary}` });
  }
  if (end && !i.dryRun && requestFaults.length > 0 && requestMatched === 0 && phase !== prev.phase) {
    events.push({ type: 'Warning', reason: 'NoEffect', note: 'the faults matched no request: this experiment tested nothing' });
  }
  return { status, events, settled: targets.every((t) => t.state !== 'Injected') };
}

function effective(hasRequestFaults: boolean, matched: number, injected: number, end: End): ConditionInput {
  if (hasRequestFaults) {
    return matched > 0
      ? { type: 'Effective', status: 'True', reason: 'Matched', message: `${matched} request(s) matched the faults` }
      : { type: 'Effective', status: 'False', reason: 'NoEffect', message: 'the faults matched no request: check match, the targets and that traffic flows through them' };
  }
  return injected > 0
    ? { type: 'Effective', status: 'True', reason: 'Applied', message: `resource faults ran on ${injected} target(s)` }
    : { type: 'Effective', status: 'False', reason: end.phase === 'Completed' ? 'NoEffect' : end.reason, message: 'no fault ran on any target' };
}

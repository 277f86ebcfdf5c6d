// FaultExperiment admission, the pure part: given the experiment, how many pods it would hit and
// whether its creator may delete them, the reasons to refuse it (empty: admit). The webhook
// (admission.ts) gathers the inputs; the API server shows the first lines to the user.
import type { z } from 'zod';
import { FaultExperimentSpec, MATCH_REQUIRED, REQUEST_KINDS } from '../../crds/faultexperiment.ts';
import { parseSize } from '../../injector/faults/model.ts';
import { parseQuantity, type AdmissionSettings } from './settings.ts';

export interface Requirement { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }
export interface Selector { matchLabels?: Record<string, string>; matchExpressions?: Requirement[] }

export function matches(sel: Selector, labels: Record<string, string> = {}): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const r of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, r.key);
    const inValues = has && (r.values ?? []).includes(labels[r.key]!);
    if (r.operator === 'In' && !inValues) return false;
    if (r.operator === 'NotIn' && inValues) return false;
    if (r.operator === 'Exists' && !has) return false;
    if (r.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** How many of `matching` pods a mode selects (what the controller will pick). */
export function selectedCount(mode: 'one' | 'all' | 'fixed' | 'percent', value: number | undefined, matching: number): number {
  switch (mode) {
    case 'one': return Math.min(1, matching);
    case 'all': return matching;
    case 'fixed': return Math.min(value ?? 1, matching);
    case 'percent': return Math.min(matching, Math.ceil((matching * (value ?? 100)) / 100));
  }
}

/** zod issues as the API server words field errors: `spec.faults[0].bytes: message`. */
export function fieldErrors(error: z.ZodError, prefix = 'spec'): string[] {
  return error.issues.map((i) => `${i.path.reduce<string>((p, s) => (typeof s === 'number' ? `${p}[${s}]` : `${p}.${String(s)}`), prefix)}: ${i.message}`);
}

export interface ExperimentFacts {
  namespace: string;
  spec: unknown;
  /** Pods in the namespace, and how many the target's selector matches (pod targets only). */
  pods?: { total: number; matching: number };
  /** The SubjectAccessReview's answer for the creator, and what it asked. */
  access?: { allowed: boolean; user: string; asked: string };
}

export function refusals(f: ExperimentFacts, s: AdmissionSettings): string[] {
  if (s.protectedNamespaces.includes(f.namespace)) {
    return [`namespace "${f.namespace}" is protected: FaultExperiments may not run in ${s.protectedNamespaces.join(', ')}`];
  }
  const parsed = FaultExperimentSpec.safeParse(f.spec);
  if (!parsed.success) return fieldErrors(parsed.error);
  const spec = parsed.data;
  const out: string[] = [];
  const ceiling = s.sidecar.ceiling;
  spec.faults.forEach((fault, i) => {
    const at = `spec.faults[${i}]`;
    // The CRD's CEL rule, repeated: zod does not run CEL, and a pruned `mach:` must not become match-all.
    if (REQUEST_KINDS.has(fault.kind) && fault.match === undefined) out.push(`${at}: ${MATCH_REQUIRED}`);
    if (fault.kind === 'memory' && parseSize(fault.bytes) > parseQuantity(ceiling.maxMemory)!) {
      out.push(`${at}.bytes: ${fault.bytes} is over the cap of ${ceiling.maxMemory} for memory faults`);
    }
    if (fault.kind === 'disk' && fault.bytes !== undefined && parseSize(fault.bytes) > parseQuantity(ceiling.maxDisk)!) {
      out.push(`${at}.bytes: ${fault.bytes} is over the cap of ${ceiling.maxDisk} for disk faults`);
    }
    if (fault.kind === 'cpu' && fault.cores > parseQuantity(ceiling.maxCpuCores)!) {
      out.push(`${at}.cores: ${fault.cores} is over the cap of ${ceiling.maxCpuCores} cores for cpu faults`);
    }
  });
  const pods = spec.target.pods;
  if (pods && f.pods && f.pods.total > 0) {
    const n = selectedCount(pods.mode, pods.value, f.pods.matching);
    if ((n * 100) / f.pods.total > s.maxPodPercent) {
      out.push(`spec.target.pods: selects ${n} of the ${f.pods.total} pods in namespace "${f.namespace}" (${Math.round((n * 100) / f.pods.total)} %); one experiment may hit at most ${s.maxPodPercent} %`);
    }
  }
  if (f.access && !f.access.allowed) {
    out.push(`${f.access.user} may not ${f.access.asked} in namespace "${f.namespace}": an experiment may only target what its creator could delete`);
  }
  return out;
}

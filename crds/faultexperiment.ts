// FaultExperiment: faults from the one fault model (injector/faults/model.ts) applied to a target
// for a bounded time. The controller is operator/faultexperiment/ (docs/faults.md, "Experiments").
import { z } from 'zod';
import { PER_REQUEST_KINDS } from '../injector/faults/kinds.ts';
import { Duration, FaultSpec } from '../injector/faults/model.ts';
import { cel, commonStatus, dnsName, labels } from './meta.ts';

const DURATION_MESSAGE = 'must be a duration such as "30s", "5m" or "1h30m"';
const boundedDuration = (max: string) => Duration.max(32).meta(cel(
  { rule: "self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$')", message: DURATION_MESSAGE },
  { rule: `!self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') || (duration(self) > duration('0s') && duration(self) <= duration('${max}'))`, message: `must be longer than zero and at most ${max}` },
));

export const SelectorRequirement = z.object({
  key: z.string().min(1).max(317).describe('label key'),
  operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']).describe('In, NotIn, Exists or DoesNotExist'),
  values: z.array(z.string().max(63)).max(64).optional().describe('In and NotIn: at least one value; Exists and DoesNotExist: none'),
}).strict().meta(cel({
  rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
  message: 'In and NotIn need values; Exists and DoesNotExist take none',
}));

/** metav1.LabelSelector: every matchLabels entry and every expression must hold. */
export const PodSelector = z.object({
  matchLabels: labels.optional().describe('every label must match'),
  matchExpressions: z.array(SelectorRequirement).max(16).optional().describe('every expression must hold'),
}).strict();
export type PodSelector = z.infer<typeof PodSelector>;

export const PodTarget = z.object({
  selector: PodSelector.describe('pods matching this, in the experiment\'s namespace (an empty selector matches every pod)'),
  mode: z.enum(['one', 'all', 'fixed', 'percent']).default('one').describe('how many selected pods: one, all, a fixed number, or a percentage (chosen from the experiment\'s uid, stable)'),
  value: z.number().int().min(1).max(100_000).optional().describe('fixed: the number of pods; percent: 1-100'),
}).strict().meta(cel(
  { rule: "!(self.mode in ['fixed', 'percent']) || has(self.value)", message: 'modes fixed and percent need a value' },
  { rule: "self.mode != 'percent' || self.value <= 100", message: 'a percentage is at most 100', fieldPath: '.value' },
));

export const Target = z.object({
  virtualBucket: dnsName.optional().describe('faults on the S3 path of this VirtualBucket\'s gateways'),
  backendBucket: dnsName.optional().describe('faults on requests the gateways send to this BackendBucket'),
  pods: PodTarget.optional().describe('faults in the injector sidecar of selected pods'),
}).strict().meta(cel({
  rule: '[has(self.virtualBucket), has(self.backendBucket), has(self.pods)].filter(x, x).size() == 1',
  message: 'give exactly one of virtualBucket, backendBucket or pods',
}));

/** Kinds decided per request: the ones `match` applies to and the ledger counts. */
export const REQUEST_KINDS: ReadonlySet<string> = PER_REQUEST_KINDS;
const REQUEST_KIND_LIST = [...REQUEST_KINDS].map((k) => `'${k}'`).join(', ');
export const MATCH_REQUIRED = 'match is required on request faults (all S3 kinds but backendDown): write match: {} to match every request';

/**
 * A fault of an experiment: S3 kinds must state `match`. The API server prunes unknown fields
 * of a structural schema, so a typo (`mach:`) would otherwise arrive as "no match" = every request.
 */
export const ExperimentFault = FaultSpec.meta(cel({ rule: `!(self.kind in [${REQUEST_KIND_LIST}]) || has(self.match)`, message: MATCH_REQUIRED }));

export const FaultExperimentSpec = z.object({
  target: Target.describe('what the faults apply to'),
  faults: z.array(ExperimentFault).min(1).max(16).describe('faults to inject (the injector\'s fault model)'),
  duration: boundedDuration('24h').describe('how long the experiment runs; every fault is reverted after it'),
  lease: boundedDuration('10m').optional().describe('dead-man\'s switch: injectors revert when the operator is silent this long (default 30s)'),
  dryRun: z.boolean().default(false).describe('select targets and report, inject nothing'),
}).strict();
export type FaultExperimentSpec = z.infer<typeof FaultExperimentSpec>;

export const PHASES = ['Pending', 'Running', 'Completed', 'Aborted', 'Failed'] as const;
export type Phase = (typeof PHASES)[number];
export const TARGET_STATES = ['Selected', 'Injected', 'NotInjected', 'Recovered', 'Lost'] as const;
export type TargetState = (typeof TARGET_STATES)[number];

const count = z.number().int().min(0);

export const TargetRecord = z.object({
  kind: z.enum(['pod', 'gateway']).describe('pod: an injected application pod; gateway: a VirtualBucket gateway pod'),
  name: z.string().max(253).describe('pod name'),
  virtualBucket: z.string().max(253).optional().describe('gateway targets: the VirtualBucket the gateway serves'),
  state: z.enum(TARGET_STATES).describe('Selected, Injected, NotInjected, Recovered or Lost'),
  reason: z.string().max(128).describe('CamelCase reason for the state'),
  message: z.string().max(1024).optional().describe('details'),
  lastTransitionTime: z.string().meta({ format: 'date-time' }).describe('when state last changed'),
  matched: count.optional().describe('requests its faults matched'),
  faulted: count.optional().describe('requests its faults fired on'),
});
export type TargetRecord = z.infer<typeof TargetRecord>;

export const FaultVerdict = z.object({
  id: z.string().max(128).describe('the activation id sent to every target'),
  kind: z.string().max(32).describe('fault kind'),
  seed: z.number().int().min(0).describe('seed of its random stream on every target (replay with it)'),
  matched: count.describe('requests it matched, all targets'),
  faulted: count.describe('requests it fired on, all targets'),
});

export const FaultExperimentStatus = z.object({
  ...commonStatus,
  phase: z.enum(PHASES).optional().describe('Pending, Running, Completed, Aborted or Failed'),
  startTime: z.string().meta({ format: 'date-time' }).optional().describe('when faults were first injected'),
  endTime: z.string().meta({ format: 'date-time' }).optional().describe('when every fault was reverted'),
  expiresAt: z.string().meta({ format: 'date-time' }).optional().describe('the absolute expiry every activation carries (startTime + duration)'),
  selected: count.optional().describe('targets selected'),
  injected: count.optional().describe('targets with faults active'),
  recovered: count.optional().describe('targets whose faults were reverted'),
  matched: count.optional().describe('requests the faults matched, all targets (from the injectors at the end)'),
  faulted: count.optional().describe('requests the faults fired on, all targets'),
  creator: z.object({
    user: z.string().max(512).describe('who created the experiment, as the API server authenticated them'),
    mayDeleteTargets: z.enum(['true', 'false', 'unknown']).describe('the admission webhook\'s SubjectAccessReview: could the creator delete what the experiment targets'),
  }).optional().describe('recorded at admission (annotations floodgate.io/created-by and floodgate.io/creator-can-delete-pods)'),
  targets: z.array(TargetRecord).max(1000).optional().describe('one record per selected target, chosen once'),
  faults: z.array(FaultVerdict).max(16).optional().describe('per fault: id, seed and counts'),
});
export type FaultExperimentStatus = z.infer<typeof FaultExperimentStatus>;

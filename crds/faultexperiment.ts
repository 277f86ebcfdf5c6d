// FaultExperiment: faults from the one fault model (injector/faults/model.ts) applied to a target
// for a bounded time. Schema only for now: no controller acts on it yet.
import { z } from 'zod';
import { Duration, FaultSpec } from '../injector/faults/model.ts';
import { cel, commonStatus, dnsName, LabelSelector } from './meta.ts';

const DURATION_MESSAGE = 'must be a duration such as "30s", "5m" or "1h30m"';
const boundedDuration = (max: string) => Duration.max(32).meta(cel(
  { rule: "self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$')", message: DURATION_MESSAGE },
  { rule: `!self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$') || (duration(self) > duration('0s') && duration(self) <= duration('${max}'))`, message: `must be longer than zero and at most ${max}` },
));

export const PodTarget = z.object({
  selector: LabelSelector.describe('pods with these labels, in the experiment\'s namespace'),
  mode: z.enum(['one', 'all', 'fixed', 'percent']).default('one').describe('how many selected pods: one at random, all, a fixed number, or a percentage'),
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

export const FaultExperimentSpec = z.object({
  target: Target.describe('what the faults apply to'),
  faults: z.array(FaultSpec).min(1).max(16).describe('faults to inject (the injector\'s fault model)'),
  duration: boundedDuration('24h').describe('how long the experiment runs; every fault is reverted after it'),
  lease: boundedDuration('10m').optional().describe('dead-man\'s switch: injectors revert when the operator is silent this long'),
  dryRun: z.boolean().default(false).describe('select targets and report, inject nothing'),
}).strict();
export type FaultExperimentSpec = z.infer<typeof FaultExperimentSpec>;

export const PHASES = ['Pending', 'Running', 'Completed', 'Aborted', 'Failed'] as const;

export const FaultExperimentStatus = z.object({
  ...commonStatus,
  phase: z.enum(PHASES).optional().describe('Pending, Running, Completed, Aborted or Failed'),
  startTime: z.string().meta({ format: 'date-time' }).optional().describe('when faults were first injected'),
  endTime: z.string().meta({ format: 'date-time' }).optional().describe('when every fault was reverted'),
  selected: z.number().int().min(0).optional().describe('targets selected'),
  injected: z.number().int().min(0).optional().describe('targets with faults active'),
  recovered: z.number().int().min(0).optional().describe('targets whose faults were reverted'),
});
export type FaultExperimentStatus = z.infer<typeof FaultExperimentStatus>;

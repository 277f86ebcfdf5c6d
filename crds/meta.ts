// Pieces every Floodgate resource shares: the API group, names, label maps, Secret references and
// metav1.Condition (the schema kubebuilder generates for it, field for field).
import { z } from 'zod';

export const GROUP = 'floodgate.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const dnsName = z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, 'expected a lower-case DNS name (a-z, 0-9, "-", ".")')
  .max(253);
export const bucketName = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name (3-63 of a-z, 0-9, ".", "-")')
  .max(63);
export const labels = z.record(z.string().max(317), z.string().max(63));

export const LabelSelector = z.object({
  matchLabels: labels.describe('every label must match (an empty map selects all)'),
}).strict();

export const Condition = z.object({
  type: z.string().max(316).regex(/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/)
    .describe('Ready, Progressing or Degraded'),
  status: z.enum(['True', 'False', 'Unknown']).describe('True, False or Unknown'),
  observedGeneration: z.number().int().min(0).optional().describe('metadata.generation this condition was computed from'),
  lastTransitionTime: z.string().meta({ format: 'date-time' }).describe('when status last changed'),
  reason: z.string().min(1).max(1024).regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/).describe('CamelCase reason for the last transition'),
  message: z.string().max(32768).describe('human-readable details'),
});
export type Condition = z.infer<typeof Condition>;

export const Conditions = z.array(Condition).max(16)
  .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
  .describe('latest observations: Ready, Progressing, Degraded');

export const commonStatus = {
  observedGeneration: z.number().int().min(0).optional().describe('metadata.generation the status describes'),
  conditions: Conditions.optional(),
};

/** A rule the API server evaluates (CEL). */
export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export const cel = (...rules: CelRule[]) => ({ 'x-kubernetes-validations': rules });

/** A field that can be set once: changing it later is refused. */
export const immutable = (what: string) => cel({ rule: 'self == oldSelf', message: `${what} cannot be changed` });

// The three kinds as data: names, schemas, printer columns. crd.ts turns each into a
// CustomResourceDefinition; the operator parses objects it reads with `parseSpec`.
import type { z } from 'zod';
import { BackendBucketResourceSpec, BackendBucketStatus } from './backendbucket.ts';
import { FaultExperimentSpec, FaultExperimentStatus } from './faultexperiment.ts';
import { VirtualBucketResourceSpec, VirtualBucketStatus } from './virtualbucket.ts';
import type { CelRule } from './meta.ts';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

export interface ResourceDef {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  columns: PrinterColumn[];
  /** CEL rules on the whole object (they may read metadata.name). */
  rules?: CelRule[];
}

const ready: PrinterColumn = { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Ready condition' };
const reason: PrinterColumn = { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', description: 'why (not) ready', priority: 1 };
const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp', description: 'time since creation' };

export const BACKEND_BUCKET: ResourceDef = {
  kind: 'BackendBucket', plural: 'backendbuckets', singular: 'backendbucket', shortNames: ['bb'],
  description: 'A real S3 bucket that VirtualBuckets spread objects over; the operator probes it and reports health and usage.',
  spec: BackendBucketResourceSpec, status: BackendBucketStatus,
  columns: [
    ready,
    { name: 'Health', type: 'string', jsonPath: '.status.health', description: 'last probe result' },
    { name: 'Used', type: 'string', jsonPath: '.status.used', description: 'bytes stored' },
    { name: 'Objects', type: 'integer', jsonPath: '.status.objectCount', description: 'objects stored', priority: 1 },
    { name: 'Latency', type: 'number', jsonPath: '.status.latencyMs', description: 'probe latency (ms)', priority: 1 },
    { name: 'Endpoint', type: 'string', jsonPath: '.spec.endpoint', description: 'S3 endpoint' },
    reason, age,
  ],
};

export const VIRTUAL_BUCKET: ResourceDef = {
  kind: 'VirtualBucket', plural: 'virtualbuckets', singular: 'virtualbucket', shortNames: ['vb'],
  description: 'One S3 bucket for applications, spread over several BackendBuckets by gateways the operator runs.',
  spec: VirtualBucketResourceSpec, status: VirtualBucketStatus,
  columns: [
    ready,
    { name: 'Strategy', type: 'string', jsonPath: '.spec.strategy', description: 'placement strategy' },
    { name: 'Backends', type: 'integer', jsonPath: '.status.backendCount', description: 'backends selected' },
    { name: 'Replicas', type: 'string', jsonPath: '.status.readyReplicas', description: 'gateway pods ready', priority: 1 },
    { name: 'Endpoint', type: 'string', jsonPath: '.status.endpoint', description: 'in-cluster S3 endpoint' },
    reason, age,
  ],
  rules: [{
    rule: "has(self.spec.bucketName) || self.metadata.name.matches('^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$')",
    message: 'metadata.name is not a valid S3 bucket name (3-63 of a-z, 0-9, ".", "-"): set spec.bucketName',
  }],
};

export const FAULT_EXPERIMENT: ResourceDef = {
  kind: 'FaultExperiment', plural: 'faultexperiments', singular: 'faultexperiment', shortNames: ['fx'],
  description: 'Faults from the injector\'s fault model applied to pods, a VirtualBucket or a BackendBucket for a bounded time.',
  spec: FaultExperimentSpec, status: FaultExperimentStatus,
  columns: [
    { name: 'Phase', type: 'string', jsonPath: '.status.phase', description: 'experiment phase' },
    { name: 'Selected', type: 'integer', jsonPath: '.status.selected', description: 'targets selected', priority: 1 },
    { name: 'Injected', type: 'integer', jsonPath: '.status.injected', description: 'targets with faults active' },
    { name: 'Faulted', type: 'integer', jsonPath: '.status.faulted', description: 'requests faulted, all targets', priority: 1 },
    { name: 'Effective', type: 'string', jsonPath: '.status.conditions[?(@.type=="Effective")].status', description: 'did the faults match any request' },
    { name: 'Duration', type: 'string', jsonPath: '.spec.duration', description: 'how long it runs' },
    { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', description: 'why it is in this phase', priority: 1 },
    age,
  ],
};

export const RESOURCES: readonly ResourceDef[] = [BACKEND_BUCKET, VIRTUAL_BUCKET, FAULT_EXPERIMENT];

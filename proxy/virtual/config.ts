// The balancing configuration: backend buckets and the virtual buckets spread over them, plus
// the index, health, timeout and upload-cleanup settings of the gateway. `backends[]` entries are
// BackendBucket specs and `virtualBuckets[]` entries VirtualBucket specs, each with its name, so
// the operator renders resources into this file unchanged. The spec schemas are the API's
// (crds/backendbucket.ts, crds/virtualbucket.ts).
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { GatewayFileConfig } from '../config.ts';
import { durationSchema, sizeSchema } from './units.ts';
import { BackendBucketSpec } from '../../crds/backendbucket.ts';
import { GcSpec, OriginSpec, VirtualBucketSpec } from '../../crds/virtualbucket.ts';
import { bucketName, dnsName } from '../../crds/meta.ts';

export { BackendBucketSpec, VirtualBucketSpec };

const labels = z.record(z.string(), z.string());

/** Credentials the gateway signs backend requests with: inline, from env vars, or from a mounted Secret. */
const credentials = z.union([
  z.object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) }).strict(),
  z.object({ accessKeyIdEnv: z.string().min(1), secretAccessKeyEnv: z.string().min(1) }).strict()
    .describe('names of environment variables holding the keys'),
  z.object({ secretDir: z.string().min(1) }).strict()
    .describe('a directory with files accessKeyId and secretAccessKey (a mounted Kubernetes Secret)'),
]);
export type CredentialsSource = z.infer<typeof credentials>;

function hasUserInfo(endpoint: string): boolean {
  try {
    const u = new URL(endpoint);
    return u.username !== '' || u.password !== '';
  } catch {
    return false;
  }
}

export const BackendConfig = BackendBucketSpec.extend({
  name: dnsName,
  labels: labels.default({}),
  credentials: credentials.optional(),
}).strict().superRefine((b, ctx) => {
  if (b.kind === 's3') {
    if (!b.endpoint) ctx.addIssue({ code: 'custom', path: ['endpoint'], message: 'an s3 backend needs an endpoint' });
    // /status and the logs show endpoints: a password in one would be served to anyone.
    else if (hasUserInfo(b.endpoint)) ctx.addIssue({ code: 'custom', path: ['endpoint'], message: 'must not contain user info (user:password@); put keys under credentials:' });
    if (!b.bucket) ctx.addIssue({ code: 'custom', path: ['bucket'], message: 'an s3 backend needs a bucket' });
    if (!b.credentials) ctx.addIssue({ code: 'custom', path: ['credentials'], message: 'an s3 backend needs credentials' });
  } else if (!b.path) ctx.addIssue({ code: 'custom', path: ['path'], message: 'an fs backend needs a path' });
});
export type BackendConfig = z.infer<typeof BackendConfig>;

/** A read-through origin (virtual/origin/): the API's spec plus the keys the gateway reads it with. */
export const OriginConfig = OriginSpec.extend({ credentials }).strict().superRefine((o, ctx) => {
  if (hasUserInfo(o.endpoint)) ctx.addIssue({ code: 'custom', path: ['endpoint'], message: 'must not contain user info (user:password@); put keys under credentials:' });
});
export type OriginConfig = z.infer<typeof OriginConfig>;

export const VirtualBucketConfig = VirtualBucketSpec.extend({ name: bucketName, origin: OriginConfig.optional() }).strict().superRefine((v, ctx) => {
  if (!v.backends?.length && !v.backendSelector) ctx.addIssue({ code: 'custom', path: ['backends'], message: 'list backends or give a backendSelector' });
  if (v.writeQuorum !== undefined && v.writeQuorum > v.copies) ctx.addIssue({ code: 'custom', path: ['writeQuorum'], message: `writeQuorum ${v.writeQuorum} exceeds copies ${v.copies}` });
});
export type VirtualBucketConfig = z.infer<typeof VirtualBucketConfig>;

/** The balancing fields of the gateway's YAML, for GatewayFileConfig.extend(BALANCING_FIELDS). */
export const BALANCING_FIELDS = {
  backends: z.array(BackendConfig).min(1),
  virtualBuckets: z.array(VirtualBucketConfig).min(1),
  index: z.union([
    z.object({ kind: z.literal('sqlite'), path: z.string().min(1) }).strict(),
    z.object({ kind: z.literal('postgres'), url: z.string().min(1), schema: z.string().optional(), poolSize: z.number().int().min(1).max(1000).optional() }).strict(),
    // The URL holds a password: from a file (a mounted Secret) rather than the config itself.
    z.object({ kind: z.literal('postgres'), urlFile: z.string().min(1), schema: z.string().optional(), poolSize: z.number().int().min(1).max(1000).optional() }).strict(),
  ]).optional().describe('default: sqlite at <dataDir>/index.db'),
  /** Names this replica's write intents; unique per replica (e.g. the pod name). */
  replica: z.string().min(1).default(() => hostname()),
  health: z.object({
    interval: durationSchema.default(5_000),
    recoveryInterval: durationSchema.default(1_000),
    failureThreshold: z.number().int().min(1).default(3),
    recoveryThreshold: z.number().int().min(1).default(2),
    probeTimeout: durationSchema.default(5_000),
  }).strict().default({ interval: 5_000, recoveryInterval: 1_000, failureThreshold: 3, recoveryThreshold: 2, probeTimeout: 5_000 }),
  timeouts: z.object({
    connect: durationSchema.default(5_000),
    firstByte: durationSchema.default(60_000),
    idle: durationSchema.default(60_000),
  }).strict().default({ connect: 5_000, firstByte: 60_000, idle: 60_000 }),
  /**
   * Reads of an object with several copies: when the copy asked first has not answered within
   * its hedge delay (`latencyFactor` × its backend's smoothed latency, within [min, max]; max
   * when no latency is known yet), the next copy is asked too and the first answer is served.
   */
  hedge: z.object({
    min: durationSchema.default(50),
    max: durationSchema.default(1_000),
    latencyFactor: z.number().min(1).default(4),
  }).strict().default({ min: 50, max: 1_000, latencyFactor: 4 }),
  uploads: z.object({
    maxAge: durationSchema.default(24 * 3_600_000).describe('multipart uploads older than this are aborted on their backend'),
    sweepInterval: durationSchema.default(3_600_000),
  }).strict().default({ maxAge: 24 * 3_600_000, sweepInterval: 3_600_000 }),
  /** The durable background jobs (copies still to write or remove, repairs): proxy/jobs/runner.ts. */
  jobs: z.object({
    concurrency: z.number().int().min(1).max(64).default(4),
    objectsPerSecond: z.number().min(0).default(0).describe('0: unlimited'),
    bytesPerSecond: sizeSchema.default(0).describe('e.g. 50Mi; 0: unlimited'),
    lease: durationSchema.default(300_000).describe('how long a claimed job is this replica\'s before another may take it'),
    pollInterval: durationSchema.default(1_000),
  }).strict().default({ concurrency: 4, objectsPerSecond: 0, bytesPerSecond: 0, lease: 300_000, pollInterval: 1_000 }),
  /** Garbage collection: backend objects no index record names are deleted (virtual/gc/). */
  gc: GcSpec.default({ interval: 0, minAge: 3_600_000 }),
  /** On an index miss, ask the backends (and repair the index when one has the key). */
  readRepair: z.boolean().default(true),
};

function sameEndpoint(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

function checkReferences(c: { backends: BackendConfig[]; virtualBuckets: VirtualBucketConfig[] }, ctx: z.RefinementCtx): void {
  const names = new Set<string>();
  c.backends.forEach((b, i) => {
    if (names.has(b.name)) ctx.addIssue({ code: 'custom', path: ['backends', i, 'name'], message: `duplicate backend "${b.name}"` });
    names.add(b.name);
  });
  const vbs = new Set<string>();
  c.virtualBuckets.forEach((v, i) => {
    if (vbs.has(v.name)) ctx.addIssue({ code: 'custom', path: ['virtualBuckets', i, 'name'], message: `duplicate virtual bucket "${v.name}"` });
    vbs.add(v.name);
    v.backends?.forEach((n, j) => {
      if (!names.has(n)) ctx.addIssue({ code: 'custom', path: ['virtualBuckets', i, 'backends', j], message: `no backend named "${n}"` });
    });
    const selected = selectBackends(c.backends, v).length;
    const members = new Set(selectBackends(c.backends, v).map((b) => b.name));
    v.drain?.forEach((n, j) => {
      if (!members.has(n)) ctx.addIssue({ code: 'custom', path: ['virtualBuckets', i, 'drain', j], message: `"${n}" is not a backend of this bucket` });
    });
    if (!v.backends?.length && v.backendSelector && selected === 0) {
      ctx.addIssue({ code: 'custom', path: ['virtualBuckets', i, 'backendSelector'], message: 'selects no backend' });
    } else if (v.copies > selected) {
      ctx.addIssue({ code: 'custom', path: ['virtualBuckets', i, 'copies'], message: `${v.copies} copies need as many backends; the bucket has ${selected}` });
    }
    // Its listing would show our own namespaced copies (<vb>/<key>) as origin objects.
    const o = v.origin;
    const same = o && selectBackends(c.backends, v).find((b) => b.kind === 's3' && b.bucket === o.bucket && sameEndpoint(b.endpoint!, o.endpoint));
    if (same) ctx.addIssue({ code: 'custom', path: ['virtualBuckets', i, 'origin', 'bucket'], message: `is the bucket of backend "${same.name}": an origin must be a bucket the virtual bucket does not write to` });
  });
}

/** The gateway's whole YAML file: its own settings (proxy/config.ts) and the balancing ones. */
export const BalancingConfig = z.object({ ...GatewayFileConfig.shape, ...BALANCING_FIELDS }).strict().superRefine(checkReferences);
export type BalancingConfig = z.infer<typeof BalancingConfig>;
export type BalancingConfigInput = z.input<typeof BalancingConfig>;

/** The backends of a virtual bucket, in configuration order (round-robin rotates in this order). */
export function selectBackends(backends: readonly BackendConfig[], v: Pick<VirtualBucketConfig, 'backends' | 'backendSelector'>): BackendConfig[] {
  if (v.backends?.length) return v.backends.map((n) => backends.find((b) => b.name === n)).filter((b): b is BackendConfig => b !== undefined);
  const want = Object.entries(v.backendSelector?.matchLabels ?? {});
  return backends.filter((b) => want.every(([k, val]) => b.labels[k] === val));
}

export class BalancingConfigError extends Error {
  override name = 'BalancingConfigError';
}

function describeIssue(source: string, err: z.ZodError): string {
  return err.issues.slice(0, 5).map((i) => {
    const path = i.path.join('.') || '(root)';
    const msg = i.code === 'unrecognized_keys' ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message;
    return `${source}: ${path}: ${msg}`;
  }).join('\n');
}

export function parseBalancingConfig(raw: unknown, source = 'configuration'): BalancingConfig {
  const r = BalancingConfig.safeParse(raw);
  if (!r.success) throw new BalancingConfigError(describeIssue(source, r.error));
  return r.data;
}

/** Reads and validates a YAML file; throws BalancingConfigError with every problem named by field. */
export function loadBalancingConfig(path: string): BalancingConfig {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new BalancingConfigError(`${path}: ${(cause as Error).message.split('\n')[0]}`, { cause });
  }
  return parseBalancingConfig(raw, path);
}

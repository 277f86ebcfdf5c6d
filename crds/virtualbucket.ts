// VirtualBucket: the one bucket applications see, spread over BackendBuckets. `VirtualBucketSpec`
// is also a `virtualBuckets[]` entry of the gateway's balancing config; the resource adds what
// the operator needs to run gateways for it (replicas, image, port, index, access Secret).
import { z } from 'zod';
import { STRATEGIES } from '../proxy/balancer/strategies.ts';
import { durationSchema, sizeSchema } from './units.ts';
import { bucketName, cel, commonStatus, dnsName, immutable, LabelSelector } from './meta.ts';
import { httpUrl, SecretKeys } from './backendbucket.ts';

/**
 * A read-through origin (docs/balancing.md, "Read-through origin"): an existing bucket whose
 * objects the virtual bucket serves until they are copied in. Never written to. The gateway
 * config adds `credentials`, the resource `credentialsSecret` (like backends and BackendBuckets).
 */
export const OriginSpec = z.object({
  endpoint: z.url({ protocol: /^https?$/ }).max(2048).meta(httpUrl)
    .describe('the origin S3 endpoint, http(s)://host[:port]'),
  bucket: bucketName.describe('the origin bucket: read and listed, never written'),
  region: z.string().min(1).max(64).default('us-east-1').describe('region requests are signed for'),
  pathStyle: z.boolean().default(true).describe('http://host/bucket/key rather than http://bucket.host/key'),
  copyConcurrency: z.number().int().min(1).max(64).default(4).describe('objects read through the gateway copied in at once, in the background'),
  retryInterval: durationSchema.default(30_000).describe('how often copies that failed are tried again'),
  migrate: z.object({
    enabled: z.boolean().default(false).describe('copy every origin object in the background at start (a finished migration is not run again)'),
    objectsPerSecond: z.number().min(0.1).max(1_000_000).optional().describe('at most this many objects a second (default: unlimited)'),
    bandwidth: sizeSchema.optional().describe('at most this many bytes a second, e.g. 50Mi (default: unlimited)'),
    concurrency: z.number().int().min(1).max(64).default(4).describe('objects copied at once'),
  }).strict().optional().describe('the background migration of every origin object (also started by the admin API)'),
}).strict();
export type OriginSpec = z.infer<typeof OriginSpec>;

/**
 * Garbage collection of backend objects no index record names (docs/balancing.md, "Garbage
 * collection"): the gateway config's top-level `gc`, and a VirtualBucket's `gc` (one gateway each).
 */
export const GcSpec = z.object({
  interval: durationSchema.default(0).describe('how often each virtual bucket\'s backends are collected; 0: only when asked (admin API)'),
  minAge: durationSchema.default(3_600_000).describe('younger objects are never collected: a write in flight is on its backend before its record commits'),
}).strict();
export type GcSpec = z.infer<typeof GcSpec>;

export const VirtualBucketSpec = z.object({
  backends: z.array(dnsName).max(256).optional().describe('backend names, in this order'),
  backendSelector: LabelSelector.optional().describe('or: all backends with these labels'),
  strategy: z.enum(STRATEGIES).default('round-robin').describe('how a write picks its backend: round-robin, most-free-space, weighted or rendezvous'),
  mode: z.enum(['proxy', 'redirect']).default('proxy').describe('redirect: GET/HEAD answer 307 to a presigned backend URL'),
  redirectExpiry: durationSchema.default(60_000).describe('lifetime of redirect URLs'),
  copies: z.number().int().min(1).max(16).default(1)
    .describe('copies of each object, on distinct backends (not gateway pods: that is replicas)'),
  writeQuorum: z.number().int().min(1).max(16).optional()
    .describe('copies written before a PUT is acknowledged (default: copies); the rest are written in the background'),
  drain: z.array(dnsName).max(256).optional()
    .describe('backends to drain: they take no new writes and a background job moves their objects to the others'),
});
export type VirtualBucketSpec = z.infer<typeof VirtualBucketSpec>;

export const IndexSpec = z.object({
  kind: z.enum(['sqlite', 'postgres']).default('sqlite').describe('sqlite: in the gateway pod (one replica); postgres: shared by replicas'),
  urlSecret: z.object({
    name: z.string().min(1).max(253).describe('Secret in the same namespace'),
    key: z.string().min(1).max(253).default('url').describe('key holding a postgres:// URL'),
  }).strict().optional().describe('postgres: where the connection URL is'),
  size: sizeSchema.optional().describe('sqlite: size of the PersistentVolumeClaim the index lives on (default 1Gi; may grow, never shrink)'),
  storageClassName: z.string().min(1).max(253).optional().meta(immutable('index.storageClassName'))
    .describe('sqlite: StorageClass of that claim (default: the cluster default); immutable'),
}).strict().meta(cel({ rule: "self.kind != 'postgres' || has(self.urlSecret)", message: 'a postgres index needs urlSecret' }));

/** A Kubernetes quantity ("500m", "1", "256Mi") as in a container's resources. */
const QUANTITY_RE = '^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$';
const QUANTITY_MESSAGE = 'expected a quantity like 500m, 2, 256Mi or 1Gi';
const quantity = z.union([z.string().regex(new RegExp(QUANTITY_RE), QUANTITY_MESSAGE), z.number().int().min(0)])
  .meta(cel({ rule: `type(self) == int ? self >= 0 : self.matches('${QUANTITY_RE.replaceAll('\\', '\\\\')}')`, message: QUANTITY_MESSAGE }));
const ResourceList = z.object({
  cpu: quantity.optional().describe('cores, e.g. 250m or 2'),
  memory: quantity.optional().describe('bytes, e.g. 256Mi'),
  'ephemeral-storage': quantity.optional().describe('bytes of node-local scratch space'),
}).strict();

export const GatewayResources = z.object({
  requests: ResourceList.optional().describe('what the scheduler reserves (default cpu 100m, memory 128Mi)'),
  limits: ResourceList.optional().describe('hard caps (default memory 512Mi, no cpu limit)'),
}).strict();

/** Each field replaces its default alone: `limits: {memory: 1Gi}` keeps the default requests. */
export const DEFAULT_GATEWAY_RESOURCES = { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } } as const;

export const VirtualBucketResourceSpec = VirtualBucketSpec.extend({
  bucketName: bucketName.optional().meta(immutable('bucketName'))
    .describe('the bucket name S3 clients use (default: metadata.name); immutable: the index is keyed by it'),
  replicas: z.number().int().min(0).max(32).default(1).describe('gateway pods'),
  image: z.string().min(1).max(512).optional().describe('gateway image (default: the operator\'s --gateway-image)'),
  port: z.number().int().min(1).max(65535).default(9000).describe('port of the gateway Service'),
  index: IndexSpec.optional().describe('placement index (default sqlite on a 1Gi PersistentVolumeClaim)'),
  resources: GatewayResources.optional().describe('gateway container resources; each given field replaces its default'),
  accessSecretName: z.string().min(1).max(253).optional()
    .describe('Secret the operator creates with the S3 keys applications use (default <name>-access)'),
  origin: OriginSpec.extend({
    credentialsSecret: SecretKeys.describe('the Secret holding the access key the gateway reads the origin with'),
  }).strict().optional().describe('an existing bucket served read-through and migrated in (docs/balancing.md)'),
  gc: GcSpec.optional().describe('garbage collection of orphans on the backends (default: only when asked, objects older than 1h)'),
}).strict().meta(cel(
  { rule: '(has(self.backends) && size(self.backends) > 0) != has(self.backendSelector)', message: 'list backends or give a backendSelector, not both' },
  { rule: "self.replicas <= 1 || (has(self.index) && self.index.kind == 'postgres')", message: 'more than one replica needs a postgres index', fieldPath: '.replicas' },
  { rule: 'has(self.bucketName) == has(oldSelf.bucketName)', message: 'bucketName cannot be added or removed' },
  { rule: '!has(self.writeQuorum) || self.writeQuorum <= self.copies', message: 'writeQuorum cannot exceed copies', fieldPath: '.writeQuorum' },
));
export type VirtualBucketResourceSpec = z.infer<typeof VirtualBucketResourceSpec>;

export const BackendHealth = z.object({
  name: z.string().max(253).describe('BackendBucket name'),
  health: z.enum(['Up', 'Down', 'Unknown', 'Missing']).describe('as the gateway sees it; Missing: no such BackendBucket'),
  latencyMs: z.number().min(0).optional().describe('last probe latency seen by the gateway'),
  usedBytes: z.number().int().min(0).optional().describe('bytes the gateway index records on this backend (every virtual bucket sharing it)'),
  objects: z.number().int().min(0).optional().describe('objects recorded on this backend by the gateway index'),
  maxSize: z.number().int().min(0).optional().describe('capacity in bytes, when limited'),
  freeBytes: z.number().int().min(0).optional().describe('maxSize - usedBytes, when limited'),
  writable: z.boolean().optional().describe('takes new writes right now (up, room, weight > 0)'),
});

export const OriginProgress = z.object({
  reads: z.number().int().min(0).optional().describe('GET/HEAD answered from the origin since the gateway started'),
  copied: z.number().int().min(0).optional().describe('objects copied in after such reads since the gateway started'),
  copyFailures: z.number().int().min(0).optional().describe('copies after reads that failed (each is retried)'),
  migration: z.enum(['Counting', 'Running', 'Done', 'Cancelled', 'Failed']).optional().describe('state of the last migration run'),
  migrationRun: z.number().int().min(0).optional().describe('the run number (a new run starts at 1 more)'),
  migratedObjects: z.number().int().min(0).optional().describe('objects the run copied'),
  migratedBytes: z.number().int().min(0).optional().describe('bytes the run copied'),
  skippedObjects: z.number().int().min(0).optional().describe('objects the run found copied already, written here or deleted here'),
  failedObjects: z.number().int().min(0).optional().describe('objects the run could not copy'),
  remainingObjects: z.number().int().min(0).optional().describe('origin objects the run has still to settle'),
  remainingBytes: z.number().int().min(0).optional().describe('origin bytes the run has still to settle'),
  lastError: z.string().max(1024).optional().describe('the run\'s last error'),
});

const count = (what: string) => z.number().int().min(0).describe(what);

/** Garbage collection: each backend's last (or running) run, summed into one block (virtual/gc/). */
export const GcProgress = z.object({
  state: z.enum(['Running', 'Done', 'Cancelled']).describe('Running while a backend\'s run goes on; Cancelled when one was cancelled; else Done'),
  startedAt: z.string().meta({ format: 'date-time' }).describe('when the earliest of these runs started'),
  finishedAt: z.string().meta({ format: 'date-time' }).optional().describe('when the last of them ended (absent while one runs)'),
  backends: count('backends whose last run is counted here'),
  orphansFound: count('backend objects no record holds, older than gc.minAge, named by no write in flight'),
  orphansRemoved: count('of those, deleted'),
  removedBytes: count('their bytes'),
  youngObjects: count('unreferenced objects kept for being younger than gc.minAge'),
  missingCopies: count('records whose copy on its backend is missing (repaired where there are copies)'),
  errors: count('objects that could not be judged or deleted'),
  lastError: z.string().max(1024).optional().describe('the key and error a run recorded last'),
});

export const VirtualBucketStatus = z.object({
  ...commonStatus,
  bucketName: z.string().max(63).optional().describe('the bucket name clients use'),
  endpoint: z.string().max(512).optional().describe('in-cluster S3 endpoint URL'),
  accessSecret: z.string().max(253).optional().describe('Secret with accessKeyId, secretAccessKey and endpoint for applications'),
  adminSecret: z.string().max(253).optional().describe('Secret whose key token is the bearer token of the gateways\' admin API (jobs, migrations, search)'),
  replicas: z.number().int().min(0).optional().describe('gateway pods wanted'),
  readyReplicas: z.number().int().min(0).optional().describe('gateway pods ready'),
  backendCount: z.number().int().min(0).optional().describe('backends selected'),
  backends: z.array(BackendHealth).max(256).optional().describe('per backend: health and capacity from the gateway\'s /status'),
  configHash: z.string().max(64).optional().describe('hash of the rendered gateway configuration'),
  copies: z.number().int().min(0).optional().describe('copies the gateway keeps of each object'),
  underReplicated: z.number().int().min(0).optional().describe('objects with a copy still to write (from the gateway\'s /status)'),
  repairs: z.array(z.object({
    backend: z.string().max(253).optional().describe('the backend whose copies are checked; absent: every record\'s count'),
    scanned: z.number().int().min(0).describe('records walked so far'),
    queued: z.number().int().min(0).describe('copies found missing or short and queued'),
  })).max(32).optional().describe('repair scans running or queued'),
  drains: z.array(z.object({
    backend: z.string().max(253).describe('the backend drained: it takes no new writes'),
    state: z.enum(['Draining', 'Drained']).describe('Drained: its objects have all moved to the other backends'),
    moved: z.number().int().min(0).optional().describe('copies moved off it so far'),
    movedBytes: z.number().int().min(0).optional().describe('their bytes'),
    failed: z.number().int().min(0).optional().describe('objects not moved in the current pass (retried)'),
    lastError: z.string().max(1024).optional().describe('the drain\'s last error'),
  })).max(256).optional().describe('backends drained or being drained (spec.drain, or the admin API)'),
  origin: OriginProgress.optional().describe('read-through origin: reads, copies and the migration\'s progress, from the gateway\'s /status'),
  gc: GcProgress.optional().describe('garbage collection (orphans, missing copies): the last run on each backend, from the gateway\'s /status'),
});
export type VirtualBucketStatus = z.infer<typeof VirtualBucketStatus>;

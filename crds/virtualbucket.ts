// VirtualBucket: the one bucket applications see, spread over BackendBuckets. `VirtualBucketSpec`
// is also a `virtualBuckets[]` entry of the gateway's balancing config; the resource adds what
// the operator needs to run gateways for it (replicas, image, port, index, access Secret).
import { z } from 'zod';
import { STRATEGIES } from '../proxy/balancer/strategies.ts';
import { durationSchema, sizeSchema } from './units.ts';
import { bucketName, cel, commonStatus, dnsName, immutable, LabelSelector } from './meta.ts';

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

export const VirtualBucketStatus = z.object({
  ...commonStatus,
  bucketName: z.string().max(63).optional().describe('the bucket name clients use'),
  endpoint: z.string().max(512).optional().describe('in-cluster S3 endpoint URL'),
  accessSecret: z.string().max(253).optional().describe('Secret with accessKeyId, secretAccessKey and endpoint for applications'),
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
});
export type VirtualBucketStatus = z.infer<typeof VirtualBucketStatus>;

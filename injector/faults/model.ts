// The one fault model. The gateway, the sidecar and the FaultExperiment CRD all validate faults
// with `FaultSpec`. The schema describes the wire/YAML shape only (strings like "30s" and
// "512Mi" stay strings) so it converts to JSON Schema without transforms; `parseDuration` and
// `parseSize` turn those strings into numbers where a fault is activated.
import { z } from 'zod';

const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(B|K|Ki|KB|KiB|M|Mi|MB|MiB|G|Gi|GB|GiB|T|Ti|TB|TiB)?$/;
const SIZE_UNIT: Record<string, number> = {
  B: 1, K: 1e3, KB: 1e3, Ki: 1024, KiB: 1024, M: 1e6, MB: 1e6, Mi: 1024 ** 2, MiB: 1024 ** 2,
  G: 1e9, GB: 1e9, Gi: 1024 ** 3, GiB: 1024 ** 3, T: 1e12, TB: 1e12, Ti: 1024 ** 4, TiB: 1024 ** 4,
};

/** "30s", "1h30m", "250ms" → milliseconds. Throws on anything else (callers validate first). */
export function parseDuration(s: string): number {
  if (!DURATION_RE.test(s)) throw new Error(`not a duration: ${JSON.stringify(s)}`);
  let ms = 0;
  for (const m of s.matchAll(DURATION_PART)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms;
}

/** 1048576, "512Mi", "1.5G", "10MB" → bytes (rounded down). */
export function parseSize(v: number | string): number {
  if (typeof v === 'number') return Math.floor(v);
  const m = SIZE_RE.exec(v.trim());
  if (!m) throw new Error(`not a size: ${JSON.stringify(v)}`);
  return Math.floor(Number(m[1]) * SIZE_UNIT[m[2] ?? 'B']!);
}

export const Duration = z.string()
  .regex(DURATION_RE, { message: 'must be a positive duration such as "250ms", "30s", "5m" or "1h30m"' })
  .refine((s) => !DURATION_RE.test(s) || parseDuration(s) > 0, { message: 'must be longer than zero' });

export const Size = z.union([
  z.number().int().nonnegative(),
  z.string().regex(SIZE_RE, { message: 'must be a byte count or a size such as "512Mi", "1G", "64KiB"' }),
], { error: 'must be a byte count or a size such as "512Mi", "1G", "64KiB"' });

/** S3 operation names as the sidecar and the gateway classify requests. */
export const OPERATIONS = [
  'ListBuckets', 'CreateBucket', 'HeadBucket', 'DeleteBucket', 'GetBucketLocation',
  'ListObjects', 'ListObjectsV2', 'ListObjectVersions', 'ListMultipartUploads', 'DeleteObjects',
  'PutObject', 'CopyObject', 'GetObject', 'HeadObject', 'DeleteObject',
  'CreateMultipartUpload', 'UploadPart', 'UploadPartCopy', 'CompleteMultipartUpload',
  'AbortMultipartUpload', 'ListParts', 'Other',
] as const;
export type OperationName = (typeof OPERATIONS)[number];

export const Match = z.strictObject({
  operations: z.array(z.enum(OPERATIONS)).min(1).optional(),
  methods: z.array(z.enum(['GET', 'PUT', 'POST', 'DELETE', 'HEAD'])).min(1).optional(),
  buckets: z.array(z.string().min(1)).min(1).optional(),
  keyPrefix: z.string().optional(),
  /** `*` matches within one path segment, `**` across segments, `?` one character. */
  keyGlob: z.string().min(1).optional(),
  /** Header name → exact value, or "*" for "present". Names are case-insensitive. */
  headers: z.record(z.string().min(1), z.string()).optional(),
  /** Gateway only: the backend bucket the request is routed to. */
  backends: z.array(z.string().min(1)).min(1).optional(),
});
export type Match = z.infer<typeof Match>;

export const Trigger = z.strictObject({
  /** Chance per matching request, 0..1. */
  probability: z.number().min(0).max(1).optional(),
  /** Only the first N matching requests. */
  firstN: z.number().int().positive().optional(),
  /** Only every Nth matching request (the Nth, 2Nth, …). */
  everyNth: z.number().int().positive().optional(),
  /** Only once this many body bytes of matching requests have passed. */
  afterBytes: Size.optional(),
  /** Seed of this fault's random stream; the same seed and request order replay the same decisions. */
  seed: z.number().int().nonnegative().max(2 ** 32 - 1).optional(),
});
export type Trigger = z.infer<typeof Trigger>;

const common = {
  /** Chosen by the injector when absent; the operator passes its own to make inject idempotent. */
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, { message: 'must be 1-100 letters, digits, ".", "_" or "-"' }).optional(),
  match: Match.optional(),
  trigger: Trigger.optional(),
  /** How long the fault stays active from injection; becomes an absolute expiresAt. */
  duration: Duration.optional(),
  /** Absolute expiry (RFC 3339); the earlier of this and now+duration wins. */
  expiresAt: z.iso.datetime({ offset: true, message: 'must be an RFC 3339 date-time' }).optional(),
  /** Dead-man's switch: revert when no heartbeat arrives for this long. */
  lease: Duration.optional(),
};

const HttpStatus = z.number().int().min(200).max(599);
const Percent = z.number().min(0).max(100);
const HostPort = z.string().regex(/^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, { message: 'must be host:port' });

const kinds = [
  z.strictObject({ kind: z.literal('error'), code: z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/, { message: 'must be an S3 error code such as "SlowDown"' }), status: HttpStatus, message: z.string().optional(), retryAfter: z.number().int().nonnegative().optional(), ...common }),
  z.strictObject({ kind: z.literal('error200'), code: z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/), message: z.string().optional(), ...common }),
  z.strictObject({ kind: z.literal('latency'), ms: z.number().int().nonnegative().max(3_600_000), jitterMs: z.number().int().nonnegative().max(3_600_000).default(0), ...common }),
  z.strictObject({ kind: z.literal('bandwidth'), bytesPerSecond: Size, ...common }),
  z.strictObject({ kind: z.literal('stall'), ...common }),
  z.strictObject({ kind: z.literal('reset'), when: z.enum(['before-headers', 'mid-body']).default('before-headers'), afterBytes: Size.optional(), ...common }),
  z.strictObject({ kind: z.literal('truncate'), afterBytes: Size.optional(), fraction: z.number().min(0).lt(1).optional(), ...common }),
  z.strictObject({ kind: z.literal('corrupt'), bytes: z.number().int().positive().max(1_000_000).default(1), recomputeChecksums: z.boolean().default(false), ...common }),
  z.strictObject({ kind: z.literal('backendDown'), backend: z.string().min(1), ...common }),
  z.strictObject({ kind: z.literal('cpu'), cores: z.number().positive().max(1024), ...common }),
  z.strictObject({ kind: z.literal('memory'), bytes: Size, ...common }),
  z.strictObject({ kind: z.literal('disk'), path: z.string().startsWith('/', { message: 'must be an absolute path' }), bytes: Size.optional(), freePercent: Percent.optional(), ...common }),
  z.strictObject({ kind: z.literal('network'), target: HostPort, bytesPerSecond: Size, connections: z.number().int().positive().max(1024).default(1), ...common }),
  z.strictObject({ kind: z.literal('process'), name: z.string().min(1), action: z.enum(['pause', 'kill']), ...common }),
  z.strictObject({ kind: z.literal('serviceDown'), mode: z.union([z.literal(503), z.literal('reset')]).default(503), ...common }),
] as const;

/** One fault as written by a user (API body, CRD item). */
export const FaultSpec = z.discriminatedUnion('kind', kinds)
  .refine((f) => f.kind !== 'truncate' || (f.afterBytes === undefined) !== (f.fraction === undefined), { message: 'give exactly one of afterBytes or fraction', path: ['afterBytes'] })
  .refine((f) => f.kind !== 'disk' || (f.bytes === undefined) !== (f.freePercent === undefined), { message: 'give exactly one of bytes or freePercent', path: ['bytes'] })
  .refine((f) => f.kind !== 'reset' || f.when === 'mid-body' || f.afterBytes === undefined, { message: 'only applies when "when" is "mid-body"', path: ['afterBytes'] });
export type FaultSpec = z.infer<typeof FaultSpec>;
export type FaultSpecInput = z.input<typeof FaultSpec>;
export type FaultKind = FaultSpec['kind'];
export type FaultOf<K extends FaultKind> = Extract<FaultSpec, { kind: K }>;

export const FAULT_KINDS = kinds.map((k) => k.shape.kind.value) as FaultKind[];
// How each kind is classified (where it runs, how it acts) lives in one table: kinds.ts.
export { RESOURCE_KINDS, S3_KINDS } from './kinds.ts';

/** A zod error as one line per issue, each naming its field: `trigger.probability: …`. */
export function describeIssues(error: z.ZodError, prefix = ''): string {
  return error.issues.map((i) => {
    const path = [prefix, ...i.path.map(String)].filter(Boolean).join('.');
    return `${path || '(body)'}: ${i.message}`;
  }).join('; ');
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

export function parseFaultSpec(input: unknown, prefix = ''): ParseResult<FaultSpec> {
  const r = FaultSpec.safeParse(input);
  return r.success ? { ok: true, value: r.data } : { ok: false, error: describeIssues(r.error, prefix) };
}

// Gateway configuration: defaults < YAML file < environment < flags. Validated with zod; a bad
// value is reported as one line naming the field, and the process exits non-zero.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { checkSecretLength, MIN_SECRET_LENGTH } from './credentials.ts';
import { DURATION_MESSAGE, parseDuration } from '../crds/units.ts';

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:9000');
// One duration grammar for every flag, config field and CRD field (crds/units.ts): "1h30m" too.
const duration = z.union([z.number().int().positive(), z.string().refine((s) => (parseDuration(s) ?? 0) > 0, DURATION_MESSAGE)]);

/** The fault engine in the gateway (docs/faults.md): off unless a control-API token is given. */
const FaultsFileConfig = z.object({
  token: z.string().min(MIN_SECRET_LENGTH).optional().describe('bearer token of the control API under /_floodgate/ (prefer tokenFile)'),
  tokenFile: z.string().min(1).optional().describe('file holding the token (e.g. a mounted Secret)'),
  defaultDuration: duration.optional().describe('lifetime of a fault that gives none (default 5m)'),
  maxDuration: duration.optional().describe('no fault lives longer than this (default 1h)'),
}).strict();

/** The admin API under /_floodgate/admin/ (metadata search…): off unless a token is given. */
const AdminFileConfig = z.object({
  token: z.string().min(MIN_SECRET_LENGTH).optional().describe('bearer token of the admin API under /_floodgate/admin/ (prefer tokenFile)'),
  tokenFile: z.string().min(1).optional().describe('file holding the token (e.g. a mounted Secret)'),
}).strict();

export const GatewayFileConfig = z.object({
  listen: hostPort.optional().describe('Address to serve S3 on'),
  dataDir: z.string().min(1).optional().describe('Directory of the embedded store'),
  region: z.string().min(1).optional().describe('Region reported by GetBucketLocation and HeadBucket'),
  domains: z.array(z.string().min(1)).optional().describe('Base domains for virtual-host addressing'),
  idleTimeout: duration.optional().describe('RequestTimeout after a request body stalls this long'),
  shutdownGrace: duration.optional().describe('on SIGTERM, how long in-flight requests may finish before they are cut (default 25s)'),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).optional(),
  credentials: z.array(z.object({
    accessKeyId: z.string().min(3).max(128),
    secretAccessKey: z.string().min(MIN_SECRET_LENGTH).max(128),
  }).strict()).optional().describe('Access keys accepted by the gateway'),
  faults: FaultsFileConfig.optional().describe('Fault injection control API (docs/faults.md)'),
  admin: AdminFileConfig.optional().describe('Admin API: metadata search (docs/gateway.md#admin-api)'),
}).strict();
export type GatewayFileConfig = z.infer<typeof GatewayFileConfig>;

export interface GatewayConfig {
  listen: { host: string; port: number };
  dataDir: string;
  region: string;
  domains: string[];
  idleTimeoutMs: number;
  /** SIGTERM: stop accepting, let in-flight requests finish for this long, then cut them. */
  shutdownGraceMs: number;
  /** Embedded store: abandoned multipart uploads are aborted at this age. */
  uploadMaxAgeMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  credentials: { accessKeyId: string; secretAccessKey: string }[];
  configFile?: string;
  /** The validated config file (a superset of GatewayFileConfig when the reader accepts more). */
  file: GatewayFileConfig;
  /** Fault injection: enabled when a token is set. */
  faults: { token?: string; defaultDurationMs: number; maxDurationMs: number };
  /** The admin API: mounted when a token is set. */
  admin: { token?: string };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const GATEWAY_FLAGS = {
  listen: { type: 'string', help: 'address to serve S3 on (env FLOODGATE_LISTEN, default 127.0.0.1:9000)' },
  'data-dir': { type: 'string', help: 'embedded store directory (env FLOODGATE_DATA_DIR, default ./data)' },
  config: { type: 'string', help: 'YAML config file (env FLOODGATE_CONFIG)' },
  region: { type: 'string', help: 'region name reported to clients (env FLOODGATE_REGION, default us-east-1)' },
  domain: { type: 'string', multiple: true, help: 'base domain for virtual-host buckets, repeatable (env FLOODGATE_DOMAINS, comma-separated; default localhost)' },
  'idle-timeout': { type: 'string', help: 'stalled request bodies fail with RequestTimeout after this (env FLOODGATE_IDLE_TIMEOUT, default 30s)' },
  'upload-max-age': { type: 'string', help: 'embedded store: multipart uploads older than this are aborted (env FLOODGATE_UPLOAD_MAX_AGE, default 24h)' },
  'shutdown-grace': { type: 'string', help: 'on SIGTERM, in-flight requests may finish for this long before they are cut (env FLOODGATE_SHUTDOWN_GRACE, default 25s)' },
  'log-level': { type: 'string', help: 'debug | info | warn | error (env FLOODGATE_LOG_LEVEL, default info)' },
  'fault-token': { type: 'string', help: 'enables the fault control API under /_floodgate/ with this bearer token (env FLOODGATE_FAULT_TOKEN; default: off)' },
  'fault-token-file': { type: 'string', help: 'read the fault control token from this file (env FLOODGATE_FAULT_TOKEN_FILE)' },
  'admin-token': { type: 'string', help: 'enables the admin API under /_floodgate/admin/ (metadata search) with this bearer token (env FLOODGATE_ADMIN_TOKEN; default: off)' },
  'admin-token-file': { type: 'string', help: 'read the admin token from this file (env FLOODGATE_ADMIN_TOKEN_FILE)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const;

export function usage(): string {
  const lines = ['Usage: floodgate gateway [flags]', '       floodgate gateway reindex --config FILE [--remove-strays]',
    '       floodgate gateway find --bucket NAME [filters]   (metadata search; `find --help`)',
    '       floodgate gateway jobs <list|cancel|drain|undrain|rebalance>   (background jobs; `jobs --help`)',
    '       floodgate gateway gc --bucket NAME [--wait | --list]   (garbage collection; `gc --help`)', '',
    'Runs the S3 gateway. Precedence: flags > environment > config file > defaults.',
    'A config file with backends: and virtualBuckets: serves virtual buckets spread over backend buckets',
    '(docs/balancing.md) instead of the embedded store; `reindex` rebuilds their placement index and exits.', '', 'Flags:'];
  for (const [name, f] of Object.entries(GATEWAY_FLAGS)) lines.push(`  --${name.padEnd(17)} ${f.help}`);
  lines.push('', 'Credentials: FLOODGATE_ACCESS_KEY + FLOODGATE_SECRET_KEY, or `credentials:` in the config file;',
    'otherwise a key pair is generated on first start and kept in <data-dir>/.floodgate/credentials.json.');
  return lines.join('\n');
}

function parseDurationMs(v: number | string, field: string): number {
  const ms = parseDuration(v);
  if (ms === undefined || ms <= 0) throw new ConfigError(`${field}: ${DURATION_MESSAGE}, got "${v}"`);
  return ms;
}

function formatIssues(source: string, err: z.ZodError): string {
  const i = err.issues[0]!;
  const path = i.path.join('.') || '(root)';
  const msg = i.code === 'unrecognized_keys' ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message;
  return `${source}: ${path}: ${msg}`;
}

/** Parses the YAML of a config file; a file that cannot be read or parsed is a ConfigError. */
export function readYamlFile(path: string): unknown {
  try {
    return parseYaml(readFileSync(path, 'utf8')) ?? {};
  } catch (cause) {
    throw new ConfigError(`${path}: ${(cause as Error).message.split('\n')[0]}`, { cause });
  }
}

/** Reads and validates a config file; another reader may accept a superset (see gateway-file.ts). */
export type ConfigFileReader = (path: string) => GatewayFileConfig;

export function readConfigFile(path: string): GatewayFileConfig {
  const raw = readYamlFile(path);
  const r = GatewayFileConfig.safeParse(raw);
  if (!r.success) throw new ConfigError(formatIssues(path, r.error));
  return r.data;
}

function readToken(path: string, field: string): string {
  try {
    const t = readFileSync(path, 'utf8').trim();
    if (t) return t;
  } catch (cause) {
    throw new ConfigError(`${field}: cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  throw new ConfigError(`${field}: ${path} is empty`);
}

export function loadGatewayConfig(argv: string[], env: NodeJS.ProcessEnv = process.env, readFile: ConfigFileReader = readConfigFile): GatewayConfig & { help: boolean } {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: argv, options: GATEWAY_FLAGS as never, strict: true, allowPositionals: false }));
  } catch (cause) {
    throw new ConfigError((cause as Error).message, { cause });
  }
  const flag = (n: string) => values[n] as string | undefined;
  const configFile = flag('config') ?? env.FLOODGATE_CONFIG;
  const file = configFile ? readFile(configFile) : {};
  const envDomains = env.FLOODGATE_DOMAINS?.split(',').map((s) => s.trim()).filter(Boolean);
  const merged = {
    listen: flag('listen') ?? env.FLOODGATE_LISTEN ?? file.listen ?? '127.0.0.1:9000',
    dataDir: flag('data-dir') ?? env.FLOODGATE_DATA_DIR ?? file.dataDir ?? './data',
    region: flag('region') ?? env.FLOODGATE_REGION ?? file.region ?? 'us-east-1',
    domains: (values.domain as string[] | undefined) ?? envDomains ?? file.domains ?? ['localhost'],
    idleTimeout: flag('idle-timeout') ?? env.FLOODGATE_IDLE_TIMEOUT ?? file.idleTimeout ?? '30s',
    shutdownGrace: flag('shutdown-grace') ?? env.FLOODGATE_SHUTDOWN_GRACE ?? file.shutdownGrace ?? '25s',
    logLevel: flag('log-level') ?? env.FLOODGATE_LOG_LEVEL ?? file.logLevel ?? 'info',
  };
  const checked = GatewayFileConfig.safeParse(merged);
  if (!checked.success) throw new ConfigError(formatIssues('configuration', checked.error));
  const listen = merged.listen;
  const colon = listen.lastIndexOf(':');
  const port = Number(listen.slice(colon + 1));
  if (port > 65535) throw new ConfigError(`listen: port ${port} is out of range`);
  const tokenFile = flag('fault-token-file') ?? env.FLOODGATE_FAULT_TOKEN_FILE;
  const token = flag('fault-token') ?? env.FLOODGATE_FAULT_TOKEN ??
    (tokenFile ? readToken(tokenFile, '--fault-token-file') : undefined) ??
    (file.faults?.tokenFile ? readToken(file.faults.tokenFile, 'faults.tokenFile') : file.faults?.token);
  if (token !== undefined) checkSecretLength('fault token', token, (m) => new ConfigError(m));
  const adminTokenFile = flag('admin-token-file') ?? env.FLOODGATE_ADMIN_TOKEN_FILE;
  const adminToken = flag('admin-token') ?? env.FLOODGATE_ADMIN_TOKEN ??
    (adminTokenFile ? readToken(adminTokenFile, '--admin-token-file') : undefined) ??
    (file.admin?.tokenFile ? readToken(file.admin.tokenFile, 'admin.tokenFile') : file.admin?.token);
  if (adminToken !== undefined) checkSecretLength('admin token', adminToken, (m) => new ConfigError(m));
  return {
    listen: { host: listen.slice(0, colon).replace(/^\[|\]$/g, ''), port },
    dataDir: merged.dataDir,
    region: merged.region,
    domains: merged.domains.map((d) => d.toLowerCase()),
    idleTimeoutMs: parseDurationMs(merged.idleTimeout, 'idleTimeout'),
    shutdownGraceMs: parseDurationMs(merged.shutdownGrace, 'shutdownGrace'),
    uploadMaxAgeMs: parseDurationMs(flag('upload-max-age') ?? env.FLOODGATE_UPLOAD_MAX_AGE ?? '24h', 'upload-max-age'),
    logLevel: merged.logLevel as GatewayConfig['logLevel'],
    credentials: file.credentials ?? [],
    configFile,
    file,
    faults: {
      token,
      defaultDurationMs: parseDurationMs(file.faults?.defaultDuration ?? '5m', 'faults.defaultDuration'),
      maxDurationMs: parseDurationMs(file.faults?.maxDuration ?? '1h', 'faults.maxDuration'),
    },
    admin: { token: adminToken },
    help: values.help === true,
  };
}

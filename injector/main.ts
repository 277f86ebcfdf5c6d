// `floodgate injector`: flags → caps → sidecar. Logs are JSON lines on stdout. SIGTERM/SIGINT
// revert every fault before exiting; a last synchronous revert runs on any exit.
import { startTracing } from '../proxy/observability/tracing.ts';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDuration, parseSize } from './faults/model.ts';
import { checkCaps, DEFAULT_CAPS, type Caps } from './faults/resource/caps.ts';
import { createResourceEffects } from './faults/resource/effects.ts';
import { openStateFile, recoverState } from './faults/resource/state.ts';
import { checkSecretLength } from '../proxy/credentials.ts';
import { startSidecar } from './sidecar.ts';

export const INJECTOR_HELP = `Usage: floodgate injector --upstream URL [options]

A reverse proxy in front of an S3 endpoint that injects faults on command. Point the app's
AWS_ENDPOINT_URL_S3 at --listen; with no active fault traffic passes through untouched.

Options:
  --listen HOST:PORT            S3 listener (default 127.0.0.1:9080)
  --upstream URL                upstream S3 endpoint, e.g. http://floodgate-gw.ns.svc:9000 (required)
  --control-listen HOST:PORT    extra listener for the control API only (default: control API
                                is served under /_floodgate/ on --listen only)
  --token TOKEN                 bearer token of the control API (or FLOODGATE_INJECTOR_TOKEN,
                                or --token-file); required, at least 8 characters, no default
  --token-file PATH             read the token from a file (e.g. a mounted Secret)
  --domain DOMAIN               base domain for virtual-host requests (bucket.DOMAIN), repeatable;
                                only used to match faults by bucket
  --default-duration DURATION   lifetime of a fault that gives no duration (default 5m)
  --max-duration DURATION       no fault lives longer than this (default 1h)
Caps on resource faults (a fault over a cap is refused with 400):
  --max-cpu-cores N             cpu: cores to burn (default ${DEFAULT_CAPS.maxCores})
  --max-memory SIZE             memory: bytes to hold (default 256Mi)
  --max-disk SIZE               disk: bytes to write (default 1Gi)
  --disk-path DIR               disk: directory a fill may write under, repeatable (default: none,
                                disk faults refused)
  --max-network-rate SIZE       network: bytes per second (default 10Mi)
  --max-network-connections N   network: TCP connections (default ${DEFAULT_CAPS.maxNetworkConnections})
  --network-target HOST:PORT    network: allowed non-loopback target, repeatable (loopback is
                                always allowed)
  --process-name NAME           process: name (comm or full command line) that may be paused or
                                killed, repeatable (default: none, process faults refused)
  --state-file PATH             record of disk fills and paused processes, undone at the next start
                                after a kill -9 (default: floodgate-injector-HOST-PORT.state.json in
                                the temp dir; none when --listen has port 0). In a pod, put it on an
                                emptyDir volume so it survives a container restart
  --help                        show this help
`;

function hostPort(s: string, flag: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(s);
  if (!m) throw new Error(`${flag}: expected HOST:PORT, got ${JSON.stringify(s)}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

function num(v: string | undefined, flag: string, fallback: number, parse: (s: string) => number = Number): number {
  if (v === undefined) return fallback;
  let n: number;
  try { n = parse(v); } catch { n = NaN; }
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag}: expected a positive value, got ${JSON.stringify(v)}`);
  return n;
}

function log(level: string, msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + '\n');
}

export async function runInjector(argv: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      listen: { type: 'string', default: '127.0.0.1:9080' },
      upstream: { type: 'string' },
      'control-listen': { type: 'string' },
      token: { type: 'string' },
      'token-file': { type: 'string' },
      domain: { type: 'string', multiple: true, default: [] },
      'default-duration': { type: 'string' },
      'max-duration': { type: 'string' },
      'max-cpu-cores': { type: 'string' },
      'max-memory': { type: 'string' },
      'max-disk': { type: 'string' },
      'disk-path': { type: 'string', multiple: true, default: [] },
      'max-network-rate': { type: 'string' },
      'max-network-connections': { type: 'string' },
      'network-target': { type: 'string', multiple: true, default: [] },
      'process-name': { type: 'string', multiple: true, default: [] },
      'state-file': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (v.help) {
    process.stdout.write(INJECTOR_HELP);
    return;
  }
  if (!v.upstream) throw new Error('--upstream is required (see --help)');
  const token = v.token ?? (v['token-file'] ? readFileSync(v['token-file'], 'utf8').trim() : process.env.FLOODGATE_INJECTOR_TOKEN);
  if (!token) throw new Error('a control token is required: --token, --token-file or FLOODGATE_INJECTOR_TOKEN');
  checkSecretLength('control token (--token, --token-file or FLOODGATE_INJECTOR_TOKEN)', token);
  const caps: Caps = {
    maxCores: num(v['max-cpu-cores'], '--max-cpu-cores', DEFAULT_CAPS.maxCores),
    maxMemoryBytes: num(v['max-memory'], '--max-memory', DEFAULT_CAPS.maxMemoryBytes, parseSize),
    maxDiskBytes: num(v['max-disk'], '--max-disk', DEFAULT_CAPS.maxDiskBytes, parseSize),
    diskPaths: v['disk-path'],
    maxNetworkBytesPerSecond: num(v['max-network-rate'], '--max-network-rate', DEFAULT_CAPS.maxNetworkBytesPerSecond, parseSize),
    maxNetworkConnections: num(v['max-network-connections'], '--max-network-connections', DEFAULT_CAPS.maxNetworkConnections),
    networkTargets: v['network-target'],
    processNames: v['process-name'],
    maxDurationMs: num(v['max-duration'], '--max-duration', DEFAULT_CAPS.maxDurationMs, parseDuration),
  };
  const listen = hostPort(v.listen, '--listen');
  const control = v['control-listen'] ? hostPort(v['control-listen'], '--control-listen') : undefined;
  let statePath = v['state-file'] ?? (listen.port === 0 ? undefined : join(tmpdir(), `floodgate-injector-${listen.host.replace(/[^A-Za-z0-9.-]/g, '_')}-${listen.port}.state.json`));
  if (statePath) {
    // A previous injector on this address died without reverting (kill -9, OOM kill): undo first.
    try {
      const undone = recoverState(statePath, caps.diskPaths);
      if (undone.removed.length || undone.resumed.length || undone.skipped.length) log('warn', 'reverted faults left by a previous injector', { stateFile: statePath, ...undone });
    } catch (e) {
      // An explicit --state-file must work; the default one may sit on a read-only root filesystem.
      if (v['state-file']) throw new Error(`--state-file ${statePath}: ${(e as Error).message}`, { cause: e });
      log('warn', 'no state file: disk fills and pauses left by a kill -9 will not be undone at the next start (set --state-file on a writable volume)', { stateFile: statePath, error: (e as Error).message });
      statePath = undefined;
    }
  }
  const effects = createResourceEffects(caps, openStateFile(statePath));
  process.once('exit', () => effects.stopAllSync());
  const traces = await startTracing('floodgate-injector').catch((e: unknown) => { log('warn', 'tracing not started', { error: (e as Error).message }); return undefined; });
  const sidecar = await startSidecar({
    host: listen.host,
    port: listen.port,
    upstream: v.upstream,
    token,
    controlHost: control?.host,
    controlPort: control?.port,
    domains: v.domain,
    defaultDurationMs: num(v['default-duration'], '--default-duration', 5 * 60_000, parseDuration),
    maxDurationMs: caps.maxDurationMs,
    effects,
    checkCaps: (spec) => checkCaps(spec, caps),
    resourceStatus: (id) => effects.status(id),
    onEvent: (msg, fields) => log('info', msg, fields),
  });
  log('info', 'injector listening', { url: sidecar.url, controlUrl: sidecar.controlUrl, upstream: v.upstream, pid: process.pid });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('info', 'stopping: reverting all faults', { signal });
    const hard = setTimeout(() => { effects.stopAllSync(); process.exit(1); }, 10_000);
    hard.unref();
    sidecar.close().then(() => traces?.shutdown()).then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGHUP', () => stop('SIGHUP'));
}

if (import.meta.main) {
  runInjector(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`floodgate injector: ${(e as Error).message}\n`);
    process.exit(2);
  });
}

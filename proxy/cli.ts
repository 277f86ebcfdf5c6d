// `floodgate gateway`: load config and keys, open the store, serve until SIGINT/SIGTERM.
// `floodgate gateway reindex --config FILE [--remove-strays]`: rebuild the placement index, exit.
// (`floodgate gateway find`, `jobs` and `gc` are dispatched by main.ts straight to admin/find-cli.ts, jobs-cli.ts, gc-cli.ts.)
//
// The store is the embedded fs store, or — when the config file declares backends and virtual
// buckets — the virtual store spread over them (metrics, /status, reload on file change and
// SIGHUP, upload sweep). A fault token adds the fault engine and its control API.
// A virtual store first makes sure its index is as new as its backends, rebuilding it if not
// (virtual/index-check.ts): until then /readyz and every S3 call answer 503.
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, loadGatewayConfig, usage, type GatewayConfig } from './config.ts';
import { loadKeys } from './credentials.ts';
import { readGatewayFile } from './gateway-file.ts';
import { createLogger, errorFields, type Logger } from './observability/log.ts';
import { logBackendCalls } from './observability/backend-calls.ts';
import { startTracing } from './observability/tracing.ts';
import { startFront } from './front.ts';
import type { ObjectStore } from './store/types.ts';
import type { FsStore } from './store/fs/index.ts';
import type { BalancingConfig } from './virtual/config.ts';
import type { VirtualStore } from './virtual/index.ts';
import type { GatewayFaults } from '../injector/gateway.ts';

function fail(e: unknown): number {
  if (e instanceof ConfigError) {
    process.stderr.write(`floodgate gateway: ${e.message.split('\n').join('\nfloodgate gateway: ')}\n`);
    return 2;
  }
  throw e;
}

/** A start-up failure the user can fix (port taken, data dir unusable): one line, exit 1, no stack. */
function startupFailure(what: string, e: unknown): number {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'EADDRINUSE' ? 'the address is already in use'
    : code === 'EADDRNOTAVAIL' ? 'the address is not available on this machine'
    : code === 'ENOTDIR' || code === 'EEXIST' ? 'not a directory'
    : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'permission denied (not writable)'
    : code === 'ENOSPC' ? 'no space left on the device'
    : (e as Error).message ?? String(e);
  process.stderr.write(`floodgate gateway: ${what}: ${why}\n`);
  return 1;
}

/** The data dir exists (or is made), is a directory, and takes a write. */
function prepareDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true });
  if (!statSync(dataDir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  const probe = join(dataDir, `.floodgate-write-test-${process.pid}`);
  writeFileSync(probe, '');
  rmSync(probe, { force: true });
}

async function openVirtual(config: GatewayConfig, balancing: BalancingConfig, dataDir: string, logger: Logger, backendDown?: (name: string) => boolean): Promise<VirtualStore> {
  const { openVirtualStore } = await import('./virtual/index.ts');
  return openVirtualStore(balancing, {
    dataDir, configPath: config.configFile, backendDown, checkIndex: true,
    log: (level, msg, fields) => logger.log(level, msg, fields),
  });
}

async function reindexCommand(config: GatewayConfig, balancing: BalancingConfig | undefined, dataDir: string, removeStrays: boolean, logger: Logger): Promise<number> {
  if (!balancing) return fail(new ConfigError('reindex: needs --config FILE with backends: and virtualBuckets:'));
  const store = await openVirtual(config, balancing, dataDir, logger);
  try {
    const r = await store.reindex({ removeStrays });
    const strays = r.strays.length ? `, ${r.strays.length} strays${removeStrays ? ` (${r.strays.filter((s) => s.removed).length} removed)` : ' (kept; --remove-strays deletes them)'}` : '';
    process.stdout.write(`reindex: ${r.buckets} virtual buckets, ${r.scanned} objects scanned: ${r.added} added, ${r.updated} updated, ${r.removed} removed${strays}` +
      `${r.unreachable.length ? `; unreachable backends: ${r.unreachable.join(', ')}` : ''}\n`);
    process.stdout.write(JSON.stringify(r) + '\n');
    return r.unreachable.length ? 1 : 0;
  } finally {
    await store.close();
  }
}

async function startFaults(config: GatewayConfig, logger: Logger): Promise<GatewayFaults | undefined> {
  if (!config.faults.token) return undefined;
  const { createGatewayFaults } = await import('../injector/gateway.ts');
  return createGatewayFaults({
    token: config.faults.token,
    defaultDurationMs: config.faults.defaultDurationMs,
    maxDurationMs: config.faults.maxDurationMs,
    onEvent: (msg, fields) => logger.log('info', msg, fields),
  });
}

export async function runGateway(argv: string[]): Promise<number> {
  const reindex = argv[0] === 'reindex';
  let args = reindex ? argv.slice(1) : argv;
  const removeStrays = reindex && args.includes('--remove-strays');
  if (reindex) args = args.filter((a) => a !== '--remove-strays');
  let config;
  let balancing: BalancingConfig | undefined;
  try {
    config = loadGatewayConfig(args, process.env, (path) => {
      const r = readGatewayFile(path);
      balancing = r.balancing;
      return r.file;
    });
  } catch (e) {
    return fail(e);
  }
  if (config.help) {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  const logger = createLogger(config.logLevel);
  if (config.logLevel === 'debug') logBackendCalls(logger);
  const traces = await startTracing('floodgate-gateway').catch((e: unknown) => { logger.log('warn', 'tracing not started', errorFields(e)); return undefined; });
  const dataDir = resolve(config.dataDir);
  try {
    prepareDataDir(dataDir);
  } catch (e) {
    return startupFailure(`data dir ${dataDir}`, e);
  }
  if (reindex) return reindexCommand(config, balancing, dataDir, removeStrays, logger);

  let keySet;
  try {
    keySet = loadKeys(dataDir, config.credentials);
  } catch (e) {
    return fail(new ConfigError((e as Error).message, { cause: e }));
  }
  const faults = await startFaults(config, logger);
  let virtual: VirtualStore | undefined;
  let store: ObjectStore;
  let fsStore: FsStore | undefined;
  try {
    if (balancing) {
      const engine = faults?.engine;
      virtual = await openVirtual(config, balancing, dataDir, logger, engine ? (name) => engine.registry.size > 0 && engine.isBackendDown(name) : undefined);
      store = virtual;
    } else {
      const { openFsStore } = await import('./store/fs/index.ts');
      store = fsStore = await openFsStore(dataDir, {
        uploadMaxAgeMs: config.uploadMaxAgeMs,
        onUploadExpired: (u) => logger.log('info', 'abandoned upload aborted', { bucket: u.bucket, key: u.key, initiated: u.initiated.toISOString() }),
      });
    }
  } catch (e) {
    await faults?.close();
    logger.log('error', 'cannot open the store', { error: (e as Error).message });
    return startupFailure(`cannot open the store in ${dataDir}`, e);
  }
  const v = virtual;
  const gw = await startFront({
    store,
    virtual: v,
    faults,
    adminToken: config.admin.token,
    keys: (id) => keySet.keys.get(id),
    host: config.listen.host,
    port: config.listen.port,
    domains: config.domains,
    region: config.region,
    idleTimeoutMs: config.idleTimeoutMs,
    logger,
    ready: v ? () => v.indexReady : fsStore ? () => fsStore!.health() : undefined,
  }).catch(async (e: unknown) => {
    await faults?.close();
    await store.close();
    return startupFailure(`cannot listen on ${config.listen.host}:${config.listen.port}`, e);
  });
  if (typeof gw === 'number') return gw;
  let stopSignal = '';
  const stopping = new AbortController();
  const stopped = new Promise<void>((done) => {
    const stop = (signal: string) => {
      stopSignal = signal;
      stopping.abort();
      done();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  if (v) {
    logger.log('info', 'gateway started: checking the placement index before serving', { url: gw.url });
    await v.ensureIndexCurrent(stopping.signal);
  }
  const unwatch = v && config.configFile ? v.watch() : undefined;
  // SIGHUP reloads a balancing config (v.watch); on the embedded store there is nothing to reload,
  // and the default action (exit) would take the gateway down.
  const ignoreHup = () => logger.log('info', 'SIGHUP: nothing to reload on the embedded store');
  if (!unwatch) process.on('SIGHUP', ignoreHup);
  logger.log('info', 'gateway listening', {
    url: gw.url, dataDir, region: config.region, domains: config.domains,
    virtualBuckets: balancing?.virtualBuckets.map((b) => b.name), backends: balancing?.backends.map((b) => b.name),
    faultControl: faults ? `${gw.url}/_floodgate/faults` : undefined,
    adminApi: config.admin.token ? `${gw.url}/_floodgate/admin/` : undefined,
  });
  if (keySet.warning) logger.log('warn', keySet.warning);
  if (keySet.generated) {
    // The secret is shown once, when it is made; afterwards only where it is kept.
    const c = keySet.generated;
    process.stderr.write([
      '',
      `Floodgate S3 gateway on ${gw.url} (data in ${dataDir})`,
      ...(c.created ? [
        `Generated credentials (shown only now; kept in ${c.file}, mode 0600):`,
        `  export AWS_ACCESS_KEY_ID=${c.accessKeyId} AWS_SECRET_ACCESS_KEY=${c.secretAccessKey} AWS_DEFAULT_REGION=${config.region}`,
      ] : [
        `Access key ${c.accessKeyId}; its secret is in ${c.file}`,
      ]),
      `  aws --endpoint-url ${gw.url} s3 mb s3://demo && aws --endpoint-url ${gw.url} s3 ls`,
      '',
    ].join('\n'));
  }
  await stopped;
  logger.log('info', 'shutting down', { signal: stopSignal });
  unwatch?.();
  process.off('SIGHUP', ignoreHup);
  logger.log('info', 'draining: no new connections; in-flight requests may finish', { graceMs: config.shutdownGraceMs });
  const { cut } = await gw.close(config.shutdownGraceMs);
  logger.log(cut ? 'warn' : 'info', cut ? `shutdown: ${cut} in-flight requests cut after the grace period` : 'shutdown: every in-flight request finished', { cut, graceMs: config.shutdownGraceMs });
  await faults?.close();
  await store.close();
  await traces?.shutdown().catch(() => {});
  return 0;
}

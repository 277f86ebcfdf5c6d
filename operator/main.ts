// `floodgate operator`: informers → work queues → reconcilers for BackendBucket, VirtualBucket
// and FaultExperiment, started only while this replica holds the leader Lease.
//
//   runOperator ─┬─ kube/api.ts (REST over the kubeconfig) · kube/apply.ts (SSA, one field manager)
//                ├─ kube/informer.ts ×3 ──▶ wiring.ts ──▶ workqueue.ts ×2 ──▶ controller.ts
//                │     backendbucket/reconcile.ts (probe.ts)   virtualbucket/reconcile.ts (render.ts,
//                │                                              access.ts, gateway-status.ts)
//                ├─ faultexperiment/ (wiring.ts ← informers on FaultExperiments + Pods, kill-switch.ts;
//                │     reconcile.ts → targets.ts select.ts · injector-client.ts · plan.ts)
//                ├─ kube/leader.ts (Lease) · kube/events.ts · conditions.ts
//                └─ http.ts (/metrics /healthz /readyz)
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { registerExperimentMetrics } from './experiment-metrics.ts';
import { startTracing } from '../proxy/observability/tracing.ts';
import { parseDuration } from '../crds/units.ts';
import { createLogger, type Level } from '../proxy/observability/log.ts';
import { reconcileBackendBucket } from './backendbucket/reconcile.ts';
import type { Ctx, OperatorOptions } from './context.ts';
import { controllerMetrics, runController } from './controller.ts';
import { startHttp } from './http.ts';
import { createKube, loadKubeConfig } from './kube/api.ts';
import { checkReachable } from './kube/reachable.ts';
import { createEventRecorder } from './kube/events.ts';
import { startInformer, type Informer } from './kube/informer.ts';
import { startLeaderElection } from './kube/leader.ts';
import { TYPES } from './kube/types.ts';
import { reconcileVirtualBucket } from './virtualbucket/reconcile.ts';
import { onBackendBucket, onDeployment, onVirtualBucket } from './wiring.ts';
import { createWorkQueue } from './workqueue.ts';
import { createInjectorClient } from './faultexperiment/injector-client.ts';
import { watchKillSwitch, type KillSwitch } from './faultexperiment/kill-switch.ts';
import { reconcileFaultExperiment } from './faultexperiment/reconcile.ts';
import { FX_TYPE, POD_TYPE, type FxCtx, type FxOptions } from './faultexperiment/types.ts';
import { onFaultExperiment, onKillSwitch, onPod } from './faultexperiment/wiring.ts';
import { IMAGE } from '../version.ts';
import { WEBHOOK_FLAGS, webhookConfigFrom } from './webhook/flags.ts';
import { startWebhooks, type Webhooks } from './webhook/index.ts';

export const OPERATOR_FLAGS = {
  kubeconfig: { type: 'string', help: 'kubeconfig file (default: in-cluster, then $KUBECONFIG / ~/.kube/config)' },
  namespace: { type: 'string', help: 'watch only this namespace (default: all)' },
  'http-listen': { type: 'string', help: '/metrics, /healthz, /readyz address (default 127.0.0.1:8080; port 0 picks one)' },
  'gateway-image': { type: 'string', help: `image of the gateway pods (default ${IMAGE})` },
  'gateway-status-url-template': { type: 'string', help: 'where gateway /status is read; {name} {namespace} {service} {port} (default http://{service}.{namespace}.svc:{port}/status)' },
  workers: { type: 'string', help: 'reconcile workers per kind (default 4)' },
  resync: { type: 'string', help: 'full relist period of every informer (default 10m)' },
  'probe-timeout': { type: 'string', help: 'timeout of one backend probe (default 5s)' },
  'operator-namespace': { type: 'string', help: 'the operator\'s namespace: no experiment acts in it; holds the kill-switch ConfigMap (default $POD_NAMESPACE)' },
  'max-pod-share': { type: 'string', help: 'most of a namespace\'s running pods (percent) one FaultExperiment may select (default 100)' },
  'injection-deadline': { type: 'string', help: 'a FaultExperiment fails when its targets have not confirmed within this (default 60s)' },
  'leader-elect': { type: 'string', help: 'true | false (default true)' },
  'leader-election-namespace': { type: 'string', help: 'namespace of the Lease (default $POD_NAMESPACE or "default")' },
  'leader-election-id': { type: 'string', help: 'name of the Lease (default floodgate-operator)' },
  'lease-duration': { type: 'string', help: 'default 15s' },
  'renew-deadline': { type: 'string', help: 'default 10s' },
  'retry-period': { type: 'string', help: 'default 2s' },
  'log-level': { type: 'string', help: 'debug | info | warn | error (default info)' },
  ...WEBHOOK_FLAGS,
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const;

export function usage(): string {
  return ['Usage: floodgate operator [flags]', '       floodgate operator cleanup [flags]   delete every Floodgate resource before uninstalling (--help)', '', 'Reconciles BackendBuckets, VirtualBuckets and FaultExperiments (install the CRDs first: floodgate crds --print | kubectl apply -f -).', '', 'Flags:',
    ...Object.entries(OPERATOR_FLAGS).map(([n, f]) => `  --${n.padEnd(29)} ${f.help}`)].join('\n');
}

class FlagError extends Error {}

function ms(v: string | undefined, dflt: string, flag: string): number {
  const n = parseDuration(v ?? dflt);
  if (n === undefined) throw new FlagError(`--${flag}: expected a duration like 500ms, 30s or 5m, got "${v}"`);
  return n;
}

function hostPort(v: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw new FlagError(`--http-listen: expected host:port, got "${v}"`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

function percent(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 100) throw new FlagError(`--max-pod-share: expected a percentage 1-100, got "${v}"`);
  return n;
}

function configFrom(s: (k: string) => string | undefined) {
  const level = s('log-level') ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new FlagError(`--log-level: expected debug, info, warn or error, got "${level}"`);
  const workers = Number(s('workers') ?? 4);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new FlagError(`--workers: expected 1-64, got "${s('workers')}"`);
  const elect = s('leader-elect') ?? 'true';
  if (elect !== 'true' && elect !== 'false') throw new FlagError(`--leader-elect: expected true or false, got "${elect}"`);
  return {
    level: level as Level, workers, elect: elect === 'true',
    listen: hostPort(s('http-listen') ?? '127.0.0.1:8080'),
    resyncMs: ms(s('resync'), '10m', 'resync'),
    lease: { durationMs: ms(s('lease-duration'), '15s', 'lease-duration'), renewMs: ms(s('renew-deadline'), '10s', 'renew-deadline'), retryMs: ms(s('retry-period'), '2s', 'retry-period') },
    options: {
      gatewayImage: s('gateway-image') ?? IMAGE,
      gatewayStatusUrlTemplate: s('gateway-status-url-template') ?? 'http://{service}.{namespace}.svc:{port}/status',
      probeTimeoutMs: ms(s('probe-timeout'), '5s', 'probe-timeout'),
    } satisfies OperatorOptions,
    fx: {
      operatorNamespace: s('operator-namespace') ?? process.env.POD_NAMESPACE,
      maxPodSharePercent: percent(s('max-pod-share') ?? '100'),
      injectionDeadlineMs: ms(s('injection-deadline'), '60s', 'injection-deadline'),
    } satisfies FxOptions,
  };
}

export async function runOperator(argv: string[]): Promise<number> {
  if (argv[0] === 'cleanup') return (await import('./cleanup.ts')).runCleanup(argv.slice(1));
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: OPERATOR_FLAGS as never, strict: true, allowPositionals: false }) as { values: Record<string, string | boolean | undefined> });
  } catch (e) {
    process.stderr.write(`floodgate operator: ${(e as Error).message}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  const s = (k: string) => values[k] as string | undefined;
  let cfg: ReturnType<typeof configFrom>;
  let webhookCfg: ReturnType<typeof webhookConfigFrom>;
  try {
    cfg = configFrom(s);
    if (cfg.lease.renewMs >= cfg.lease.durationMs) throw new FlagError('--renew-deadline must be shorter than --lease-duration');
    try {
      webhookCfg = webhookConfigFrom(s, cfg.options.gatewayImage);
    } catch (e) {
      throw new FlagError((e as Error).message);
    }
  } catch (e) {
    if (!(e instanceof FlagError)) throw e;
    process.stderr.write(`floodgate operator: ${e.message}\n`);
    return 2;
  }

  const logger = createLogger(cfg.level);
  const log: Ctx['log'] = (level, msg, fields) => logger.log(level, msg, fields);
  let kc;
  try {
    kc = loadKubeConfig(s('kubeconfig'));
  } catch (e) {
    process.stderr.write(`floodgate operator: cannot load kubeconfig: ${(e as Error).message}\n`);
    return 2;
  }
  const kube = createKube(kc);
  const reach = await checkReachable(createKube(kc, { requestTimeoutMs: 5_000 }), 10_000);
  if (!reach.ok) {
    // client-node falls back to localhost:8080 when it finds no configuration at all.
    const none = !s('kubeconfig') && !process.env.KUBECONFIG && !process.env.KUBERNETES_SERVICE_HOST && kube.server === 'http://localhost:8080';
    process.stderr.write(`floodgate operator: ${none ? 'no kubeconfig found (not in a cluster, no --kubeconfig, no $KUBECONFIG, no ~/.kube/config)' : reach.message}\n`);
    return 1;
  }
  const identity = `${process.env.POD_NAME ?? hostname()}_${randomBytes(4).toString('hex')}`;
  const traces = await startTracing('floodgate-operator').catch((e: unknown) => { log('warn', 'tracing not started', { error: (e as Error).message }); return undefined; });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const leaderGauge = new Gauge({ name: 'floodgate_operator_leader', help: '1 while this replica leads', registers: [registry] });
  const metrics = controllerMetrics(registry);
  const queues = { backendBucket: createWorkQueue(), virtualBucket: createWorkQueue() };
  const fxQueue = createWorkQueue();
  let killSwitch: KillSwitch | undefined;
  const namespace = s('namespace');

  let informers: Informer[] = [];
  let leading = false;
  let ctx: Ctx | undefined;
  registerExperimentMetrics(registry, () => informers.find((inf) => inf.type === FX_TYPE)?.list());

  function startControllers(): void {
    leading = true;
    leaderGauge.set(1);
    const onError = (kind: string) => (err: unknown, attempt: number) => log(attempt > 3 ? 'warn' : 'info', 'informer restarting', { kind, attempt, error: (err as Error).message });
    const c = {} as Ctx;
    const bb = startInformer(kube, TYPES.backendBucket, { namespace, resyncMs: cfg.resyncMs, onChange: (k, o, old) => onBackendBucket(c, k, o, old), onError: onError('BackendBucket') });
    const vb = startInformer(kube, TYPES.virtualBucket, { namespace, resyncMs: cfg.resyncMs, onChange: (k, o, old) => onVirtualBucket(c, k, o, old), onError: onError('VirtualBucket') });
    const dep = startInformer(kube, TYPES.deployment, { namespace, resyncMs: cfg.resyncMs, labelSelector: 'app.kubernetes.io/managed-by=floodgate-operator', onChange: (_k, o, old) => onDeployment(c, o, old), onError: onError('Deployment') });
    const fx = startInformer(kube, FX_TYPE, { namespace, resyncMs: cfg.resyncMs, onChange: (k, o, old) => onFaultExperiment(fxQueue.add, k, o, old), onError: onError('FaultExperiment') });
    const pods = startInformer(kube, POD_TYPE, { namespace, resyncMs: cfg.resyncMs, onChange: (_k, o, old) => onPod(fxQueue.add, fx, o, old), onError: onError('Pod') });
    informers = [bb, vb, dep, fx, pods];
    killSwitch = watchKillSwitch(kube, cfg.fx.operatorNamespace ?? 'default', {
      onChange: (on) => { log(on ? 'warn' : 'info', on ? 'kill switch on: aborting every FaultExperiment' : 'kill switch off', {}); if (on) onKillSwitch(fxQueue.add, fx); },
      onError: (e) => log('warn', 'kill switch not readable', { error: (e as Error).message }),
    });
    Object.assign(c, {
      kube, backendBuckets: bb, virtualBuckets: vb, deployments: dep, log, queues, options: cfg.options, now: () => new Date(),
      events: createEventRecorder(kube, identity, (e) => log('warn', 'event not recorded', { error: (e as Error).message })),
    } satisfies Ctx);
    ctx = c;
    // Reconciles wait until every cache has its first list: a half-filled cache would read as
    // "no VirtualBucket uses this backend" and drop a finalizer too early.
    const gated = (fn: (ctx: Ctx, key: string) => Promise<{ requeueAfterMs?: number; retry?: boolean }>) => async (key: string) => {
      for (let i = 0; i < 600 && !informers.every((inf) => inf.synced); i++) await new Promise((r) => setTimeout(r, 100));
      if (!informers.every((inf) => inf.synced)) return { retry: true };
      return fn(c, key);
    };
    void runController({ name: 'backendbucket', queue: queues.backendBucket, workers: cfg.workers, reconcile: gated(reconcileBackendBucket), log, metrics });
    void runController({ name: 'virtualbucket', queue: queues.virtualBucket, workers: cfg.workers, reconcile: gated(reconcileVirtualBucket), log, metrics });
    const fxCtx: FxCtx = {
      kube, experiments: fx, pods, virtualBuckets: vb, backendBuckets: bb, injector: createInjectorClient(), events: c.events, log,
      now: () => new Date(), killSwitch: () => killSwitch?.on ?? false, options: cfg.fx,
    };
    void runController({ name: 'faultexperiment', queue: fxQueue, workers: cfg.workers, reconcile: gated((_c, key) => reconcileFaultExperiment(fxCtx, key)), log, metrics });
  }

  let exitCode = 0;
  let stop!: (code: number) => void;
  const stopped = new Promise<void>((resolve) => { stop = (code) => { exitCode = code; resolve(); }; });

  const elector = cfg.elect
    ? startLeaderElection(kube, {
      namespace: s('leader-election-namespace') ?? process.env.POD_NAMESPACE ?? 'default',
      name: s('leader-election-id') ?? 'floodgate-operator',
      identity, leaseDurationMs: cfg.lease.durationMs, renewDeadlineMs: cfg.lease.renewMs, retryPeriodMs: cfg.lease.retryMs,
      onStartedLeading: startControllers,
      // Whatever was in flight may now race the new leader: stop at once, let the restart start clean.
      onStoppedLeading: () => { leaderGauge.set(0); stop(1); },
      log: (msg, fields) => log('info', msg, fields),
    })
    : undefined;
  if (!elector) startControllers();

  // Every replica answers admission, leader or not.
  let webhooks: Webhooks | undefined;
  const http = await startHttp(cfg.listen.host, cfg.listen.port, registry, {
    live: () => true,
    ready: () => {
      // The webhook Service routes admission to ready pods: a replica is not ready before it serves
      // them (else a pod created during a rollout would be admitted uninjected, fail-open).
      if (webhookCfg && !webhooks) return { ok: false, detail: 'admission webhooks starting' };
      if (!leading) return { ok: true, detail: 'standby' };
      const unsynced = informers.filter((i) => !i.synced).map((i) => i.type.kind);
      return unsynced.length ? { ok: false, detail: `caches not synced: ${unsynced.join(', ')}` } : { ok: true, detail: 'leading' };
    },
  });
  if (webhookCfg) {
    try {
      webhooks = await startWebhooks(kube, webhookCfg, log);
    } catch (e) {
      log('error', 'admission webhooks not started', { error: (e as Error).message });
      stop(1);
    }
  }
  log('info', 'operator started', { identity, http: http.url, webhook: webhooks?.url, namespace: namespace ?? '(all)', leaderElection: cfg.elect });

  process.once('SIGTERM', () => stop(0));
  process.once('SIGINT', () => stop(0));
  await stopped;
  log('info', 'operator stopping', { exitCode, reconciling: ctx ? queues.backendBucket.processing + queues.virtualBucket.processing + fxQueue.processing : 0 });
  queues.backendBucket.shutDown();
  queues.virtualBucket.shutDown();
  fxQueue.shutDown();
  killSwitch?.stop();
  for (const i of informers) i.stop();
  if (exitCode === 0) await elector?.release();
  await webhooks?.close();
  http.server.close();
  await traces?.shutdown().catch(() => {});
  return exitCode;
}

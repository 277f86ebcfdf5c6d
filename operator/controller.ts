// Workers over a work queue calling one reconcile function. The contract of a reconcile:
//   - it reads current state (informer caches, the API) for the key and never sees the event;
//   - it returns { requeueAfterMs } to be looked at again later (periodic checks);
//   - it returns { retry: true } (or throws) to come back after the key's backoff;
//   - a key is worked on by one worker at a time, and success resets the backoff.
import type { Registry } from 'prom-client';
import { requestScope } from '../proxy/observability/request-scope.ts';
import { endSpan, startChildSpan } from '../proxy/observability/tracing.ts';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { WorkQueue } from './workqueue.ts';

export interface Result {
  requeueAfterMs?: number;
  retry?: boolean;
}

export interface ControllerOptions {
  name: string;
  queue: WorkQueue;
  workers: number;
  reconcile(key: string): Promise<Result>;
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
  metrics: ControllerMetrics;
}

export interface ControllerMetrics {
  reconciles: Counter<'controller' | 'result'>;
  duration: Histogram<'controller'>;
  depth: Gauge<'controller'>;
}

export function controllerMetrics(registry: Registry): ControllerMetrics {
  return {
    reconciles: new Counter({ name: 'floodgate_operator_reconciles_total', help: 'Reconciles by controller and result', labelNames: ['controller', 'result'], registers: [registry] }),
    duration: new Histogram({ name: 'floodgate_operator_reconcile_seconds', help: 'Reconcile duration', labelNames: ['controller'], buckets: [0.005, 0.02, 0.1, 0.5, 2, 10], registers: [registry] }),
    depth: new Gauge({ name: 'floodgate_operator_workqueue_depth', help: 'Keys waiting', labelNames: ['controller'], registers: [registry] }),
  };
}

/** Runs workers until the queue shuts down; resolves when every worker has stopped. */
export async function runController(o: ControllerOptions): Promise<void> {
  const worker = async () => {
    for (;;) {
      const key = await o.queue.get();
      if (key === undefined) return;
      o.metrics.depth.set({ controller: o.name }, o.queue.length);
      const end = o.metrics.duration.startTimer({ controller: o.name });
      let result: Result;
      // One span per reconcile (when tracing), parent of the API calls it makes.
      const span = startChildSpan(`reconcile ${o.name}`, undefined, { 'floodgate.controller': o.name, 'floodgate.key': key });
      try {
        result = span ? await requestScope.run({ requestId: key, span }, () => o.reconcile(key)) : await o.reconcile(key);
        span?.setAttribute('floodgate.reconcile.result', result.retry ? 'retry' : 'ok');
        endSpan(span, undefined);
      } catch (err) {
        endSpan(span, undefined, err);
        o.log('error', 'reconcile failed', { controller: o.name, key, error: (err as Error).message });
        result = { retry: true };
      }
      end();
      o.metrics.reconciles.inc({ controller: o.name, result: result.retry ? 'retry' : 'ok' });
      if (result.retry) {
        const delay = o.queue.addRateLimited(key);
        o.log('debug', 'requeued with backoff', { controller: o.name, key, delayMs: delay });
      } else {
        o.queue.forget(key);
        if (result.requeueAfterMs !== undefined) o.queue.addAfter(key, result.requeueAfterMs);
      }
      o.queue.done(key);
    }
  };
  await Promise.all(Array.from({ length: o.workers }, worker));
}

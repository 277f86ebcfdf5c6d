// The fault engine: the one entry the gateway and the sidecar call for each S3 request.
//
//   onRequest(ctx) ─ registry.active() ─ decide() ─ ledger/metrics
//        │  latency (awaited) → terminal fault answered here (error, 200-error, reset, stall, 503)
//        └→ RequestFaults.wrapBody(status, headers) → Duplex over the response body
//           (bandwidth, truncate, corrupt, mid-body reset, afterBytes counting)
//
// With no active per-request fault, onRequest returns undefined without allocating anything.
import { noteFaultDecision } from '../../proxy/observability/request-scope.ts';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Duplex, Transform } from 'node:stream';
import type { Activation } from './activation.ts';
import { decide, type Decision } from './decide.ts';
import { PER_REQUEST_KINDS } from './kinds.ts';
import { Ledger } from './ledger.ts';
import { createFaultMetrics, type FaultMetrics } from './metrics.ts';
import { parseSize } from './model.ts';
import type { FaultRegistry } from './registry.ts';
import { throttle } from './s3/bandwidth.ts';
import { corruptStream, flips, recomputeChecksums } from './s3/corrupt.ts';
import { sendErrorFault } from './s3/error.ts';
import { sendError200Fault } from './s3/error200.ts';
import { delay } from './s3/latency.ts';
import { resetAfter, resetSocket } from './s3/reset.ts';
import { stall } from './s3/stall.ts';
import { truncateAfter, truncateLimit } from './s3/truncate.ts';

export interface FaultContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** S3 operation name as in the fault model (`GetObject`, …; `Other` when unknown). */
  operation: string;
  bucket?: string;
  key?: string;
  /** Gateway only: the backend bucket this request is routed to, when already known. */
  backend?: string;
  requestId: string;
}

export interface RequestFaults {
  /** The engine has answered, reset or abandoned the response; the caller must stop. */
  handled: boolean;
  decision: Decision;
  /**
   * Call once with the response status and headers just before writing them (the headers may be
   * changed: recomputed checksums). Pipe the response body through the returned stream; undefined
   * means the body passes untouched.
   */
  wrapBody(status: number, headers: OutgoingHttpHeaders): Promise<Duplex | undefined>;
}

export interface FaultEngine {
  onRequest(ctx: FaultContext): Promise<RequestFaults | undefined>;
  /** True while a `backendDown` fault names this backend: treat it as unreachable. */
  isBackendDown(backend: string): boolean;
  readonly registry: FaultRegistry;
  readonly ledger: Ledger;
  readonly metrics: FaultMetrics;
}

function contentLength(headers: OutgoingHttpHeaders): number | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === 'content-length' && v !== undefined) return Number(v);
  return undefined;
}

function byteCounter(targets: Activation[]): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      for (const a of targets) a.state.bytes += chunk.length;
      cb(null, chunk);
    },
  });
}

/** Stages piped one into the next, seen from outside as one Duplex. Our stages never error. */
function chain(stages: Duplex[]): Duplex {
  for (let i = 0; i < stages.length - 1; i++) stages[i]!.pipe(stages[i + 1]!);
  return Duplex.from({ writable: stages[0]!, readable: stages[stages.length - 1]! });
}

export function createFaultEngine(registry: FaultRegistry, opts: { ledgerSize?: number; metrics?: FaultMetrics } = {}): FaultEngine {
  const ledger = new Ledger(opts.ledgerSize ?? 1000);
  const metrics = opts.metrics ?? createFaultMetrics(() => registry.list());

  function record(d: Decision, operation: string): void {
    const fired = new Set(d.fired.map((f) => f.faultId));
    const time = new Date().toISOString();
    for (const a of d.matched) {
      const outcome = fired.has(a.id) ? 'fired' : 'skipped';
      metrics.injections.inc({ kind: a.spec.kind, outcome });
      ledger.add({ time, requestId: d.requestId, faultId: a.id, kind: a.spec.kind, operation, decision: outcome });
      noteFaultDecision({ faultId: a.id, kind: a.spec.kind, decision: outcome, operation });
    }
  }

  async function onRequest(ctx: FaultContext): Promise<RequestFaults | undefined> {
    const active = registry.active().filter((a) => PER_REQUEST_KINDS.has(a.spec.kind));
    if (active.length === 0) return undefined;
    const d = decide(active, { operation: ctx.operation, method: ctx.req.method ?? 'GET', bucket: ctx.bucket, key: ctx.key, headers: ctx.req.headers, backend: ctx.backend, requestId: ctx.requestId });
    if (d.matched.length === 0) return undefined;
    record(d, ctx.operation);
    const counted = d.matched.filter((a) => a.afterBytes !== undefined);
    const reqLen = Number(ctx.req.headers['content-length'] ?? 0);
    if (reqLen > 0) for (const a of counted) a.state.bytes += reqLen;

    const done = (handled: boolean): RequestFaults => ({ handled, decision: d, wrapBody: (s, h) => wrapBody(ctx, d, counted, s, h) });
    if (d.delayMs > 0 && !(await delay(ctx.res, d.delayMs))) return done(true);
    const t = d.terminal;
    if (!t) return done(false);
    switch (t.spec.kind) {
      case 'error': sendErrorFault(ctx.res, t.spec, ctx.requestId); return done(true);
      case 'error200': sendError200Fault(ctx.res, t.spec, ctx.requestId); return done(true);
      case 'reset': resetSocket(ctx.req.socket); return done(true);
      case 'serviceDown':
        if (t.spec.mode === 'reset') resetSocket(ctx.req.socket);
        else sendErrorFault(ctx.res, { code: 'ServiceUnavailable', status: 503 }, ctx.requestId);
        return done(true);
      case 'stall': {
        const expiresAt = registry.get(t.faultId)?.expiresAt ?? Date.now();
        return done(!(await stall(ctx.res, expiresAt)));
      }
    }
  }

  async function wrapBody(ctx: FaultContext, d: Decision, counted: Activation[], status: number, headers: OutgoingHttpHeaders): Promise<Duplex | undefined> {
    if (ctx.req.method === 'HEAD' || status === 204 || status === 304) return undefined;
    const stages: Duplex[] = [];
    if (counted.length) stages.push(byteCounter(counted));
    const len = contentLength(headers);
    // Captured now: once the (short) body ends, Node detaches the response from its socket.
    const sock = ctx.res.socket;
    const socket = () => sock;
    for (const f of d.body) {
      const s = f.spec;
      if (s.kind === 'bandwidth') stages.push(throttle(Math.max(1, parseSize(s.bytesPerSecond))));
      else if (s.kind === 'truncate') stages.push(truncateAfter(truncateLimit(s, len, parseSize), socket));
      else if (s.kind === 'reset') stages.push(resetAfter(s.afterBytes !== undefined ? parseSize(s.afterBytes) : 0, socket));
      else if (s.kind === 'corrupt') {
        const list = flips(f.draw, s.bytes, len ?? 16 * 1024);
        if (s.recomputeChecksums && len !== undefined) await recomputeChecksums(headers, list, len);
        stages.push(corruptStream(list));
      }
    }
    if (stages.length === 0) return undefined;
    return stages.length === 1 ? stages[0] : chain(stages);
  }

  return {
    onRequest,
    isBackendDown: (backend) => registry.active().some((a) => a.spec.kind === 'backendDown' && a.spec.backend === backend),
    registry,
    ledger,
    metrics,
  };
}

// The control API, mountable on the sidecar and on the gateway. Routes (all JSON, Bearer token):
//   POST   /_floodgate/faults            inject one fault or {faults: [...]} → 201 {id,…}
//   GET    /_floodgate/faults            list active faults
//   GET    /_floodgate/faults/ledger     recent decisions (?faultId=&limit=)
//   POST   /_floodgate/faults/heartbeat  renew leases ({ids?}) — the dead-man's switch input
//   GET    /_floodgate/faults/:id        one fault (also recently ended ones, with the reason)
//   DELETE /_floodgate/faults/:id        stop one
//   DELETE /_floodgate/faults            stop all (kill switch)
//   GET    /_floodgate/metrics           Prometheus text (no token: no secrets in it)
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { activationView, type Activation } from '../faults/activation.ts';
import type { FaultEngine } from '../faults/engine.ts';
import { runsIn } from '../faults/kinds.ts';
import { describeIssues, FaultSpec } from '../faults/model.ts';
import { ConflictError, InvalidFaultError, type EndReason } from '../faults/registry.ts';
import { bearerOk, HttpError, readJson, sendJson } from './http.ts';

export const CONTROL_PREFIX = '/_floodgate/';

export interface ControlOptions {
  engine: FaultEngine;
  token: string;
  /** Checks a fault against configured caps; returns "field: message" when over. */
  checkCaps?: (spec: FaultSpec) => string | undefined;
  /** Live status of a running resource fault (cpu share, bytes held…). */
  resourceStatus?: (id: string) => unknown;
  /** False on the gateway: resource faults run only in a sidecar. */
  resources: boolean;
}

const InjectBody = z.union([FaultSpec, z.strictObject({ faults: z.array(FaultSpec).min(1).max(100) })]);
const HeartbeatBody = z.strictObject({ ids: z.array(z.string()).optional() }).optional();

export type ControlHandler = ((req: IncomingMessage, res: ServerResponse) => boolean) & {
  /** Remembers why an activation ended, for GET on its id. Wire to the registry's onEnd. */
  ended(a: Activation, reason: EndReason): void;
};

export function createControlHandler(o: ControlOptions): ControlHandler {
  const ended = new Map<string, { a: Activation; reason: EndReason; at: number }>();
  const reg = o.engine.registry;

  const view = (a: Activation) => ({ ...activationView(a, 'active'), resource: o.resourceStatus?.(a.id) });

  function validate(body: unknown): { specs: FaultSpec[]; batch: boolean } {
    const first = body !== null && typeof body === 'object' && 'faults' in body;
    const r = InjectBody.safeParse(body);
    if (!r.success) {
      // Report against the shape the caller used, not the union's first branch.
      const again = first ? z.strictObject({ faults: z.array(FaultSpec).min(1).max(100) }).safeParse(body) : FaultSpec.safeParse(body);
      throw new HttpError(400, describeIssues(again.success ? r.error : again.error));
    }
    const specs = 'faults' in r.data ? r.data.faults : [r.data];
    specs.forEach((s, i) => {
      const at = specs.length > 1 || first ? `faults.${i}.` : '';
      const place = o.resources ? 'sidecar' : 'gateway';
      if (!runsIn(s.kind, place)) throw new HttpError(400, `${at}kind: "${s.kind}" faults run only in the ${place === 'gateway' ? 'sidecar (floodgate injector)' : 'gateway (floodgate gateway)'}`);
      const over = o.checkCaps?.(s);
      if (over) throw new HttpError(400, at + over);
    });
    return { specs, batch: first };
  }

  /** A batch is all or nothing: when one fault cannot start, the ones this request started are reverted. */
  async function inject(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { specs, batch } = validate(await readJson(req));
    const ids = specs.map((s) => s.id).filter((id): id is string => id !== undefined);
    const dup = ids.find((id, i) => ids.indexOf(id) !== i);
    if (dup !== undefined) throw new HttpError(400, `faults: id "${dup}" appears twice in one request`);
    const out = [];
    const started: string[] = [];
    for (const s of specs) {
      try {
        const { activation, created } = await reg.add(s);
        if (created) started.push(activation.id);
        out.push({ ...view(activation), created });
      } catch (e) {
        await Promise.all(started.map((id) => reg.remove(id, 'failed')));
        if (e instanceof ConflictError) throw new HttpError(409, e.message, { cause: e });
        if (e instanceof InvalidFaultError) throw new HttpError(400, e.message, { cause: e });
        if (e instanceof Error && e.name === 'CapError') throw new HttpError(400, e.message, { cause: e });
        throw new HttpError(422, `could not start ${s.kind} fault: ${(e as Error).message}`, { cause: e });
      }
    }
    sendJson(res, 201, batch ? { faults: out } : out[0]);
  }

  async function route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (path === '/_floodgate/metrics' && req.method === 'GET') {
      const text = await o.engine.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': o.engine.metrics.registry.contentType }).end(text);
      return;
    }
    if (!bearerOk(req, o.token)) throw new HttpError(401, 'missing or wrong bearer token');
    const base = '/_floodgate/faults';
    if (path === base) {
      if (req.method === 'POST') return inject(req, res);
      if (req.method === 'GET') return sendJson(res, 200, { faults: reg.list().map(view) });
      if (req.method === 'DELETE') return sendJson(res, 200, { stopped: await reg.clear('kill-switch') });
      throw new HttpError(405, `${req.method} not allowed on ${base}`);
    }
    if (path === `${base}/heartbeat` && req.method === 'POST') {
      const b = HeartbeatBody.safeParse(await readJson(req));
      if (!b.success) throw new HttpError(400, describeIssues(b.error));
      return sendJson(res, 200, { renewed: reg.heartbeat(b.data?.ids) });
    }
    if (path === `${base}/ledger` && req.method === 'GET') {
      const q = new URL(req.url ?? '/', 'http://x').searchParams;
      const limit = q.has('limit') ? Number(q.get('limit')) : undefined;
      if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new HttpError(400, 'limit: must be a positive integer');
      return sendJson(res, 200, { entries: o.engine.ledger.entries({ faultId: q.get('faultId') ?? undefined, limit }) });
    }
    if (path.startsWith(`${base}/`)) {
      let id: string;
      try {
        id = decodeURIComponent(path.slice(base.length + 1));
      } catch (cause) {
        throw new HttpError(400, `fault id: invalid percent-encoding in ${JSON.stringify(path)}`, { cause });
      }
      if (req.method === 'GET') {
        const a = reg.get(id);
        if (a) return sendJson(res, 200, view(a));
        const e = ended.get(id);
        if (e) return sendJson(res, 200, { ...activationView(e.a, 'ended'), reason: e.reason, endedAt: new Date(e.at).toISOString() });
        throw new HttpError(404, `no fault ${id}`);
      }
      if (req.method === 'DELETE') {
        if (!(await reg.remove(id, 'stopped'))) throw new HttpError(404, `no active fault ${id}`);
        return sendJson(res, 200, { id, status: 'ended', reason: 'stopped' });
      }
      throw new HttpError(405, `${req.method} not allowed on ${path}`);
    }
    throw new HttpError(404, `no route ${req.method} ${path}`);
  }

  const handler = ((req: IncomingMessage, res: ServerResponse): boolean => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!path.startsWith(CONTROL_PREFIX)) return false;
    route(req, res, path).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (!res.headersSent) sendJson(res, status, { error: e instanceof Error ? e.message : 'internal error', status });
      else res.destroy();
    });
    return true;
  }) as ControlHandler;
  handler.ended = (a, reason) => {
    ended.set(a.id, { a, reason, at: Date.now() });
    if (ended.size > 500) ended.delete(ended.keys().next().value!);
  };
  return handler;
}

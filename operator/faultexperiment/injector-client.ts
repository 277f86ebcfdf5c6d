// HTTP to an injector's control API (a sidecar or a gateway, injector/control/handler.ts): list,
// get one, inject a batch, heartbeat, stop one, read the ledger. Every call is bounded by a
// timeout; failures are InjectorError values with the HTTP status when there was one.
import type { FaultSpec } from '../../injector/faults/model.ts';
import { CONTROL_PATH } from './contract.ts';
import type { FaultObservation, Observation } from './plan.ts';

export class InjectorError extends Error {
  override name = 'InjectorError';
  readonly status: number | undefined;
  constructor(message: string, status?: number, opts?: { cause?: unknown }) {
    super(message, opts);
    this.status = status;
  }
}

export interface Endpoint { baseUrl: string; token: string }

interface FaultView { id: string; status: string; reason?: string; matched: number; fired: number }
interface LedgerEntry { faultId: string; decision: 'fired' | 'skipped' }

export interface InjectorClient {
  list(ep: Endpoint): Promise<FaultView[]>;
  get(ep: Endpoint, id: string): Promise<FaultView | undefined>;
  inject(ep: Endpoint, faults: FaultSpec[]): Promise<void>;
  heartbeat(ep: Endpoint, ids: string[]): Promise<number>;
  /** False when the injector did not hold it (already ended). */
  stop(ep: Endpoint, id: string): Promise<boolean>;
  ledger(ep: Endpoint, faultId: string): Promise<LedgerEntry[]>;
}

export function createInjectorClient(timeoutMs = 5_000): InjectorClient {
  async function call<T>(ep: Endpoint, method: string, path: string, body?: unknown, okStatus: number[] = [200, 201]): Promise<{ status: number; body: T }> {
    let res: Response;
    try {
      res = await fetch(ep.baseUrl + CONTROL_PATH + path, {
        method, signal: AbortSignal.timeout(timeoutMs),
        headers: { authorization: `Bearer ${ep.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (cause) {
      throw new InjectorError(`${method} ${ep.baseUrl}${CONTROL_PATH}${path}: ${(cause as Error).cause instanceof Error ? ((cause as Error).cause as Error).message : (cause as Error).message}`, undefined, { cause });
    }
    const text = await res.text();
    let parsed: unknown;
    try { parsed = JSON.parse(text); } catch { parsed = undefined; }
    if (!okStatus.includes(res.status)) {
      const msg = (parsed as { error?: string } | undefined)?.error ?? text.slice(0, 200);
      throw new InjectorError(`${method} ${CONTROL_PATH}${path}: ${res.status} ${msg}`, res.status);
    }
    return { status: res.status, body: parsed as T };
  }

  return {
    async list(ep) { return (await call<{ faults: FaultView[] }>(ep, 'GET', '')).body.faults; },
    async get(ep, id) {
      const r = await call<FaultView>(ep, 'GET', `/${encodeURIComponent(id)}`, undefined, [200, 404]);
      return r.status === 404 ? undefined : r.body;
    },
    async inject(ep, faults) { await call(ep, 'POST', '', { faults }); },
    async heartbeat(ep, ids) { return (await call<{ renewed: number }>(ep, 'POST', '/heartbeat', { ids })).body.renewed; },
    async stop(ep, id) { return (await call(ep, 'DELETE', `/${encodeURIComponent(id)}`, undefined, [200, 404])).status === 200; },
    async ledger(ep, faultId) { return (await call<{ entries: LedgerEntry[] }>(ep, 'GET', `/ledger?faultId=${encodeURIComponent(faultId)}`)).body.entries; },
  };
}

/**
 * What one injector says about the experiment's fault ids: the active list, then each id it does
 * not list (ended: its reason and final counts; unknown: never held, or forgotten after a
 * restart — then the ledger's entries are the counts, a lower bound: the ledger is a bounded ring).
 */
export async function observe(client: InjectorClient, ep: Endpoint, ids: readonly string[], useLedger: boolean): Promise<Observation> {
  try {
    const active = new Map((await client.list(ep)).map((f) => [f.id, f]));
    const faults: Record<string, FaultObservation> = {};
    for (const id of ids) {
      const a = active.get(id);
      if (a) { faults[id] = { state: 'active', matched: a.matched, fired: a.fired }; continue; }
      const g = await client.get(ep, id);
      if (g) { faults[id] = { state: g.status === 'active' ? 'active' : 'ended', reason: g.reason, matched: g.matched, fired: g.fired }; continue; }
      const entries = useLedger ? await client.ledger(ep, id) : [];
      faults[id] = { state: 'unknown', matched: entries.length, fired: entries.filter((e) => e.decision === 'fired').length };
    }
    return { ok: true, faults };
  } catch (e) {
    return { ok: false, error: (e as Error).message, status: e instanceof InjectorError ? e.status : undefined };
  }
}

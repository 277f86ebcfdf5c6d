// Reads a gateway's /status (proxy/health/status.ts). The URL comes from a template so tests and
// out-of-cluster runs point at loopback instead of dialing a Service IP.
import { request } from 'undici';
import type { StatusSnapshot } from '../../proxy/health/status.ts';

export function statusUrl(template: string, v: { name: string; namespace: string; service: string; port: number }): string {
  return template.replaceAll('{name}', v.name).replaceAll('{namespace}', v.namespace).replaceAll('{service}', v.service).replaceAll('{port}', String(v.port));
}

export type GatewayStatus = { ok: true; snapshot: StatusSnapshot } | { ok: false; message: string };

export async function fetchGatewayStatus(url: string, timeoutMs = 3_000): Promise<GatewayStatus> {
  try {
    const res = await request(url, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.body.text();
    if (res.statusCode !== 200) return { ok: false, message: `${url} answered ${res.statusCode}` };
    const snapshot = JSON.parse(text) as StatusSnapshot;
    if (!Array.isArray(snapshot.backends) || !Array.isArray(snapshot.virtualBuckets)) return { ok: false, message: `${url} did not return a gateway status document` };
    return { ok: true, snapshot };
  } catch (e) {
    return { ok: false, message: `cannot reach the gateway at ${url}: ${(e as Error).message}` };
  }
}

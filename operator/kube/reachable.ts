// Before the operator starts its Lease loop: can it talk to the API server at all? Outside a
// cluster with no kubeconfig (or a stale one) the election would log "lease request failed"
// every retry period forever; one clear line and a non-zero exit say more.
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeError, type Kube } from './api.ts';

export type Reachability = { ok: true } | { ok: false; message: string };

/** GET /version until it answers or `withinMs` passes (an API server restarting gets a moment). */
export async function checkReachable(kube: Kube, withinMs: number, everyMs = 1_000): Promise<Reachability> {
  const deadline = Date.now() + withinMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await kube.request('GET', '/version');
      return { ok: true };
    } catch (e) {
      if (e instanceof KubeError && (e.status === 401 || e.status === 403)) {
        return { ok: false, message: `the API server at ${kube.server} refused the credentials (${e.status}): ${e.message}` };
      }
      const cause = (e as Error & { cause?: Error }).cause;
      const why = [(e as Error).message, cause?.message].filter(Boolean).join(': ');
      if (Date.now() + everyMs > deadline) return { ok: false, message: `cannot reach the API server at ${kube.server} (${attempt} attempts): ${why}` };
    }
    await sleep(everyMs);
  }
}

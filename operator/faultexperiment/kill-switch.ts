// The cluster-wide kill switch: ConfigMap `floodgate-kill-switch` in the operator's namespace
// with `data.abort: "true"`. Polled (one GET every few seconds) rather than watched, so the
// operator needs only `get` on one ConfigMap; when it flips on, every experiment is enqueued.
import { setTimeout as sleep } from 'node:timers/promises';
import { isNotFound, pathOf, type Kube } from '../kube/api.ts';
import { TYPES, type KubeObject } from '../kube/types.ts';
import { KILL_SWITCH_CONFIGMAP, KILL_SWITCH_KEY } from './contract.ts';

export interface KillSwitch {
  readonly on: boolean;
  stop(): void;
}

export function watchKillSwitch(kube: Kube, namespace: string, o: { everyMs?: number; onChange(on: boolean): void; onError(e: unknown): void }): KillSwitch {
  const stopper = new AbortController();
  let on = false;
  void (async () => {
    while (!stopper.signal.aborted) {
      try {
        let cm: KubeObject | undefined;
        try {
          cm = await kube.request('GET', pathOf(TYPES.configMap, namespace, KILL_SWITCH_CONFIGMAP), { signal: stopper.signal });
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
        const next = cm?.data?.[KILL_SWITCH_KEY]?.trim().toLowerCase() === 'true';
        if (next !== on) {
          on = next;
          o.onChange(on);
        }
      } catch (e) {
        if (!stopper.signal.aborted) o.onError(e);
      }
      await sleep(o.everyMs ?? 2_000, undefined, { signal: stopper.signal }).catch(() => {});
    }
  })();
  return { get on() { return on; }, stop: () => stopper.abort() };
}

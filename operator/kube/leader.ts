// Lease-based leader election (coordination.k8s.io/v1), as client-go does it. A candidate takes
// the Lease only when its holder has not renewed it for leaseDuration *as observed locally* (no
// clock comparison across machines); the leader gives up — and the process stops acting — when it
// could not renew for renewDeadline, which is shorter than leaseDuration, so two leaders never
// overlap. Writes carry the resourceVersion read: a race is a 409, never two winners.
import { setTimeout as sleep } from 'node:timers/promises';
import { V1MicroTime } from '@kubernetes/client-node';
import { isConflict, isNotFound, pathOf, type Kube } from './api.ts';
import { TYPES, type KubeObject } from './types.ts';

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  onStartedLeading(): void;
  onStoppedLeading(): void;
  log(msg: string, fields?: Record<string, unknown>): void;
}

export interface LeaderElector {
  readonly isLeader: boolean;
  /** Gives the Lease up (so a standby takes over at once) and stops. */
  release(): Promise<void>;
}

const micro = () => new V1MicroTime().toISOString();

export function startLeaderElection(kube: Kube, o: LeaderElectionOptions): LeaderElector {
  const path = pathOf(TYPES.lease, o.namespace, o.name);
  let leader = false;
  let stopped = false;
  let lastRenew = 0;
  let observed = { record: '', at: Date.now() };

  async function tryAcquireOrRenew(): Promise<boolean> {
    const now = micro();
    let lease: KubeObject<LeaseSpec>;
    try {
      lease = await kube.request<KubeObject<LeaseSpec>>('GET', path);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      const spec: LeaseSpec = { holderIdentity: o.identity, leaseDurationSeconds: Math.ceil(o.leaseDurationMs / 1000), acquireTime: now, renewTime: now, leaseTransitions: 0 };
      try {
        await kube.request('POST', pathOf(TYPES.lease, o.namespace), { body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: o.name, namespace: o.namespace }, spec } });
        return true;
      } catch (err) {
        if (isConflict(err)) return false;
        throw err;
      }
    }
    const spec = lease.spec ?? {};
    const record = `${spec.holderIdentity}|${spec.renewTime}|${lease.metadata.resourceVersion}`;
    if (record !== observed.record) observed = { record, at: Date.now() };
    const holder = spec.holderIdentity ?? '';
    const durationMs = (spec.leaseDurationSeconds ?? Math.ceil(o.leaseDurationMs / 1000)) * 1000;
    if (holder && holder !== o.identity && Date.now() < observed.at + durationMs) return false;
    const mine = holder === o.identity;
    const next: LeaseSpec = {
      holderIdentity: o.identity,
      leaseDurationSeconds: Math.ceil(o.leaseDurationMs / 1000),
      acquireTime: mine && spec.acquireTime ? spec.acquireTime : now,
      renewTime: now,
      leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
    };
    try {
      await kube.request('PUT', path, { body: { ...lease, spec: next } });
      return true;
    } catch (e) {
      if (isConflict(e)) return false;
      throw e;
    }
  }

  void (async () => {
    while (!stopped) {
      let ok = false;
      try {
        ok = await tryAcquireOrRenew();
      } catch (e) {
        o.log('lease request failed', { error: (e as Error).message });
      }
      if (stopped) break;
      if (ok) {
        lastRenew = Date.now();
        if (!leader) {
          leader = true;
          o.log('became leader', { lease: `${o.namespace}/${o.name}`, identity: o.identity });
          o.onStartedLeading();
        }
      } else if (leader && Date.now() - lastRenew > o.renewDeadlineMs) {
        leader = false;
        stopped = true;
        o.log('lost leadership', { lease: `${o.namespace}/${o.name}` });
        o.onStoppedLeading();
        break;
      }
      await sleep(o.retryPeriodMs * (leader ? 1 : 0.8 + Math.random() * 0.4));
    }
  })();

  return {
    get isLeader() { return leader; },
    async release() {
      stopped = true;
      if (!leader) return;
      leader = false;
      try {
        const lease = await kube.request<KubeObject<LeaseSpec>>('GET', path);
        if (lease.spec?.holderIdentity !== o.identity) return;
        await kube.request('PUT', path, { body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: micro() } } });
      } catch (e) {
        o.log('lease release failed', { error: (e as Error).message });
      }
    },
  };
}

// Events (events.k8s.io/v1) for state changes the operator observes or causes. Failures to
// record are logged, never retried: an Event is a courtesy, not state.
import { randomBytes } from 'node:crypto';
import { V1MicroTime } from '@kubernetes/client-node';
import { pathOf, type Kube } from './api.ts';
import { TYPES, type KubeObject } from './types.ts';

export interface EventRecorder {
  record(regarding: KubeObject, type: 'Normal' | 'Warning', reason: string, note: string, action?: string): void;
}

export function createEventRecorder(kube: Kube, instance: string, onError: (e: unknown) => void): EventRecorder {
  return {
    record(regarding, type, reason, note, action = 'Reconcile') {
      const ns = regarding.metadata.namespace ?? 'default';
      const body = {
        apiVersion: 'events.k8s.io/v1', kind: 'Event',
        metadata: { name: `${regarding.metadata.name}.${randomBytes(6).toString('hex')}`, namespace: ns },
        eventTime: new V1MicroTime().toISOString(),
        type, reason, action, note: note.slice(0, 1024),
        reportingController: 'floodgate.dev/operator',
        reportingInstance: instance.slice(0, 128),
        regarding: { apiVersion: regarding.apiVersion, kind: regarding.kind, name: regarding.metadata.name, namespace: ns, uid: regarding.metadata.uid },
      };
      kube.request('POST', pathOf(TYPES.event, ns), { body }).catch(onError);
    },
  };
}

// The shapes of Kubernetes objects the operator reads and writes, as far as it cares.
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  managedFields?: unknown;
}

export interface KubeObject<Spec = unknown, Status = unknown> {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: Spec;
  status?: Status;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  type?: string;
}

export interface KubeList<T = KubeObject> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

export interface ResourceType {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

export const keyOf = (o: { metadata: ObjectMeta }) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
export const apiVersionOf = (t: ResourceType) => (t.group ? `${t.group}/${t.version}` : t.version);

export const TYPES = {
  backendBucket: { group: 'floodgate.dev', version: 'v1alpha1', plural: 'backendbuckets', kind: 'BackendBucket' },
  virtualBucket: { group: 'floodgate.dev', version: 'v1alpha1', plural: 'virtualbuckets', kind: 'VirtualBucket' },
  deployment: { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment' },
  service: { group: '', version: 'v1', plural: 'services', kind: 'Service' },
  configMap: { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap' },
  secret: { group: '', version: 'v1', plural: 'secrets', kind: 'Secret' },
  persistentVolumeClaim: { group: '', version: 'v1', plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim' },
  lease: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease' },
  event: { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event' },
} as const satisfies Record<string, ResourceType>;

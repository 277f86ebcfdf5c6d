// Server-side apply with the one field manager: desired objects, status subresources and the
// operator's finalizer all go through here, so ownership of every field is the operator's alone.
import { FIELD_MANAGER, pathOf, type Kube } from './api.ts';
import { apiVersionOf, type KubeObject, type ResourceType } from './types.ts';

const APPLY = 'application/apply-patch+yaml';

export async function apply(kube: Kube, t: ResourceType, obj: KubeObject): Promise<KubeObject> {
  const body = { ...obj, apiVersion: apiVersionOf(t), kind: t.kind };
  return kube.request('PATCH', pathOf(t, obj.metadata.namespace, obj.metadata.name), {
    body, contentType: APPLY, query: { fieldManager: FIELD_MANAGER, force: 'true' },
  });
}

export async function applyStatus(kube: Kube, t: ResourceType, namespace: string, name: string, status: unknown): Promise<KubeObject> {
  return kube.request('PATCH', pathOf(t, namespace, name, 'status'), {
    body: { apiVersion: apiVersionOf(t), kind: t.kind, metadata: { name, namespace }, status },
    contentType: APPLY, query: { fieldManager: FIELD_MANAGER, force: 'true' },
  });
}

/**
 * Adds or drops the operator's finalizer. Applying only `metadata.finalizers` claims just that
 * list element: finalizers of other controllers are untouched, and applying without it removes it.
 */
export async function applyFinalizer(kube: Kube, t: ResourceType, namespace: string, name: string, finalizer: string, present: boolean): Promise<void> {
  await kube.request('PATCH', pathOf(t, namespace, name), {
    body: { apiVersion: apiVersionOf(t), kind: t.kind, metadata: { name, namespace, finalizers: present ? [finalizer] : [] } },
    contentType: APPLY, query: { fieldManager: FIELD_MANAGER, force: 'true' },
  });
}

// The access Secret applications mount: S3 keys the gateway accepts, plus the endpoint and bucket.
// Keys are generated once and kept: a reconcile never rotates them behind an application's back.
import { randomBytes } from 'node:crypto';
import { isConflict, isNotFound, pathOf, type Kube } from '../kube/api.ts';
import { TYPES, type KubeObject } from '../kube/types.ts';
import { apply } from '../kube/apply.ts';
import { labelsFor, ownerRef } from './render.ts';

export function newAccessKeys(): { accessKeyId: string; secretAccessKey: string } {
  return { accessKeyId: 'FG' + randomBytes(9).toString('hex').toUpperCase(), secretAccessKey: randomBytes(30).toString('base64url') };
}

export async function ensureAccessSecret(kube: Kube, vb: KubeObject, name: string, info: { endpoint: string; bucket: string; region: string }): Promise<void> {
  const ns = vb.metadata.namespace!;
  let existing: KubeObject | undefined;
  try {
    existing = await kube.request('GET', pathOf(TYPES.secret, ns, name));
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  const decoded = (k: string) => (existing?.data?.[k] ? Buffer.from(existing.data[k]!, 'base64').toString('utf8') : undefined);
  const keys = decoded('accessKeyId') && decoded('secretAccessKey')
    ? { accessKeyId: decoded('accessKeyId')!, secretAccessKey: decoded('secretAccessKey')! }
    : newAccessKeys();
  const stringData = { ...keys, endpoint: info.endpoint, bucket: info.bucket, region: info.region, AWS_ENDPOINT_URL_S3: info.endpoint };
  const same = existing && Object.entries(stringData).every(([k, v]) => decoded(k) === v);
  if (same) return;
  const body: KubeObject = { metadata: { name, namespace: ns, labels: labelsFor(vb), ownerReferences: [ownerRef(vb)] }, type: 'Opaque', stringData };
  if (!existing) {
    try {
      await kube.request('POST', pathOf(TYPES.secret, ns), { body: { apiVersion: 'v1', kind: 'Secret', ...body } });
      return;
    } catch (e) {
      // Another reconcile (or a restarted operator) created it a moment ago: keep its keys.
      if (isConflict(e)) return ensureAccessSecret(kube, vb, name, info);
      throw e;
    }
  }
  await apply(kube, TYPES.secret, body);
}

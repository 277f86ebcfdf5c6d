// The bearer tokens of the rendered gateways' token-guarded APIs, one Secret each, key `token`:
// `<name>-gateway-faults` for the fault control API (`--fault-token-file`; the operator reads it
// back to drive FaultExperiments) and `<name>-gateway-admin` for the admin API (`--admin-token-file`:
// jobs, migrations, metadata search; for people and tools, the operator does not use it).
// Generated once and kept, owned by the VirtualBucket; never logged, never rotated here.
import { randomBytes } from 'node:crypto';
import { isConflict, isNotFound, pathOf, type Kube } from '../kube/api.ts';
import { apply } from '../kube/apply.ts';
import { TYPES, type KubeObject } from '../kube/types.ts';
import { labelsFor, ownerRef } from './render.ts';

export const TOKEN_KEY = 'token';

const tokenOf = (s: KubeObject | undefined) => {
  const v = s?.data?.[TOKEN_KEY];
  return v ? Buffer.from(v, 'base64').toString('utf8').trim() : '';
};

/** Reads the token, or undefined when the Secret (or its key) is missing. */
export async function readToken(kube: Kube, namespace: string, name: string): Promise<string | undefined> {
  try {
    return tokenOf(await kube.request('GET', pathOf(TYPES.secret, namespace, name))) || undefined;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** Creates the Secret with a fresh token when it has none; an existing token is kept. */
export async function ensureTokenSecret(kube: Kube, vb: KubeObject, name: string): Promise<void> {
  const ns = vb.metadata.namespace!;
  if ((await readToken(kube, ns, name)) !== undefined) return;
  const body = {
    apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
    metadata: { name, namespace: ns, labels: labelsFor(vb), ownerReferences: [ownerRef(vb)] },
    stringData: { [TOKEN_KEY]: randomBytes(32).toString('base64url') },
  };
  try {
    await kube.request('POST', pathOf(TYPES.secret, ns), { body });
  } catch (e) {
    if (!isConflict(e)) throw e;
    // Created a moment ago by another round, or it exists without a token (emptied by hand).
    if ((await readToken(kube, ns, name)) !== undefined) return;
    await apply(kube, TYPES.secret, body);
  }
}

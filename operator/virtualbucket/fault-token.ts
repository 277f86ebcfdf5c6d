// The `<name>-gateway-faults` Secret: the bearer token of the rendered gateways' fault control
// API (`--fault-token-file`). Generated once and kept, owned by the VirtualBucket; the operator
// reads it back to drive faults (FaultExperiments) and never logs it.
import { randomBytes } from 'node:crypto';
import { isConflict, isNotFound, pathOf, type Kube } from '../kube/api.ts';
import { apply } from '../kube/apply.ts';
import { TYPES, type KubeObject } from '../kube/types.ts';
import { labelsFor, ownerRef } from './render.ts';

export const FAULT_TOKEN_KEY = 'token';

const tokenOf = (s: KubeObject | undefined) => {
  const v = s?.data?.[FAULT_TOKEN_KEY];
  return v ? Buffer.from(v, 'base64').toString('utf8').trim() : '';
};

/** Reads the token, or undefined when the Secret (or its key) is missing. */
export async function readFaultToken(kube: Kube, namespace: string, name: string): Promise<string | undefined> {
  try {
    return tokenOf(await kube.request('GET', pathOf(TYPES.secret, namespace, name))) || undefined;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** Creates the Secret with a fresh token when it has none; an existing token is never rotated here. */
export async function ensureFaultSecret(kube: Kube, vb: KubeObject, name: string): Promise<void> {
  const ns = vb.metadata.namespace!;
  if ((await readFaultToken(kube, ns, name)) !== undefined) return;
  const body = {
    apiVersion: 'v1', kind: 'Secret', type: 'Opaque',
    metadata: { name, namespace: ns, labels: labelsFor(vb), ownerReferences: [ownerRef(vb)] },
    stringData: { [FAULT_TOKEN_KEY]: randomBytes(32).toString('base64url') },
  };
  try {
    await kube.request('POST', pathOf(TYPES.secret, ns), { body });
  } catch (e) {
    if (!isConflict(e)) throw e;
    // Created a moment ago by another round, or it exists without a token (emptied by hand).
    if ((await readFaultToken(kube, ns, name)) !== undefined) return;
    await apply(kube, TYPES.secret, body);
  }
}

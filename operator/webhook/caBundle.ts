// The webhook's certificates over time: one Secret in the operator's namespace holds the CA and
// the serving certificate (every replica reads it, any may create or renew it — writes carry the
// resourceVersion, so racing replicas converge on one), and the CA goes into the caBundle of both
// webhook configurations. Re-checked periodically: a renewal, a rotated CA, or a caBundle that a
// `helm upgrade` or a person blanked is put right without a restart.
import { X509Certificate } from 'node:crypto';
import { isConflict, isNotFound, type Kube } from '../kube/api.ts';
import type { KubeObject } from '../kube/types.ts';
import { issueCa, issuedBy, issueServing, notAfter, type CertKey } from './ca.ts';

const DAY = 86_400_000;
export const CA_VALID_MS = 10 * 365 * DAY;
export const SERVING_VALID_MS = 90 * DAY;
/** Renew a certificate when less than this share of its lifetime is left. */
const RENEW_FRACTION = 1 / 3;

export interface WebhookPki {
  serving: CertKey;
  /** PEM of every CA the serving certificate may chain to (current first). */
  caBundle: string;
}

interface Stored { ca?: CertKey; oldCaPem?: string; serving?: CertKey }

const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined) => (s ? Buffer.from(s, 'base64').toString('utf8') : undefined);

function read(secret: KubeObject): Stored {
  const d = secret.data ?? {};
  const ca = unb64(d['ca.crt']) && unb64(d['ca.key']) ? { certPem: unb64(d['ca.crt'])!, keyPem: unb64(d['ca.key'])! } : undefined;
  const serving = unb64(d['tls.crt']) && unb64(d['tls.key']) ? { certPem: unb64(d['tls.crt'])!, keyPem: unb64(d['tls.key'])! } : undefined;
  return { ca, serving, oldCaPem: unb64(d['ca-previous.crt']) };
}

function encode(s: Required<Pick<Stored, 'ca' | 'serving'>> & Stored): Record<string, string> {
  return {
    'ca.crt': b64(s.ca.certPem), 'ca.key': b64(s.ca.keyPem), 'tls.crt': b64(s.serving.certPem), 'tls.key': b64(s.serving.keyPem),
    ...(s.oldCaPem ? { 'ca-previous.crt': b64(s.oldCaPem) } : {}),
  };
}

const dueForRenewal = (certPem: string, validMs: number, now: Date) => notAfter(certPem).getTime() - now.getTime() < validMs * RENEW_FRACTION;

/** What the Secret should hold now; undefined when it already does. Pure apart from key generation. */
export function renew(s: Stored, hosts: string[], now: Date): (Stored & { ca: CertKey; serving: CertKey }) | undefined {
  let { ca, serving, oldCaPem } = s;
  let changed = false;
  if (!ca || dueForRenewal(ca.certPem, CA_VALID_MS, now)) {
    // The old CA stays in the bundle until it expires, so API servers that cached it keep trusting us.
    if (ca && notAfter(ca.certPem) > now) oldCaPem = ca.certPem;
    ca = issueCa({ commonName: 'floodgate-webhook-ca', now, validMs: CA_VALID_MS });
    changed = true;
  }
  if (oldCaPem && notAfter(oldCaPem) <= now) {
    oldCaPem = undefined;
    changed = true;
  }
  if (changed || !serving || !issuedBy(serving.certPem, ca.certPem) || dueForRenewal(serving.certPem, SERVING_VALID_MS, now)
    || !hosts.every((h) => coversHost(serving!.certPem, h))) {
    serving = issueServing(ca, { hosts, now, validMs: SERVING_VALID_MS });
    changed = true;
  }
  return changed ? { ca, serving, oldCaPem } : undefined;
}

function coversHost(certPem: string, host: string): boolean {
  // subjectAltName reads "DNS:a, DNS:b, IP Address:127.0.0.1".
  return (new X509Certificate(certPem).subjectAltName ?? '').split(', ').map((e) => e.replace(/^(DNS|IP Address):/, '')).includes(host);
}

/** Loads (creating or renewing as needed) the PKI in `namespace/name`. */
export async function ensurePki(kube: Kube, o: { namespace: string; name: string; hosts: string[]; now: () => Date }): Promise<WebhookPki> {
  const path = `/api/v1/namespaces/${encodeURIComponent(o.namespace)}/secrets`;
  for (let attempt = 0; attempt < 5; attempt++) {
    let secret: KubeObject | undefined;
    try {
      secret = await kube.request('GET', `${path}/${encodeURIComponent(o.name)}`);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    const stored = secret ? read(secret) : {};
    const next = renew(stored, o.hosts, o.now());
    if (!next) return pkiOf(stored as Required<Stored>);
    try {
      const labels = { 'app.kubernetes.io/managed-by': 'floodgate-operator', 'app.kubernetes.io/component': 'webhook' };
      if (!secret) {
        await kube.request('POST', path, { body: { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: o.name, namespace: o.namespace, labels }, data: encode(next) } });
      } else {
        // The resourceVersion makes this a compare-and-swap: a replica that renewed first wins.
        await kube.request('PUT', `${path}/${encodeURIComponent(o.name)}`, { body: { ...secret, type: secret.type ?? 'Opaque', metadata: { ...secret.metadata, labels: { ...secret.metadata.labels, ...labels } }, data: encode(next) } });
      }
      return pkiOf(next);
    } catch (e) {
      if (!isConflict(e)) throw e;
      // Another replica wrote first: read what it wrote.
    }
  }
  throw new Error(`could not settle the webhook certificate Secret ${o.namespace}/${o.name} (5 conflicting writes)`);
}

function pkiOf(s: Stored & { ca: CertKey; serving: CertKey }): WebhookPki {
  return { serving: s.serving, caBundle: s.ca.certPem + (s.oldCaPem ?? '') };
}

type WebhookConfiguration = KubeObject & { webhooks?: { name: string; clientConfig?: { caBundle?: string } }[] };

/** Writes caBundle into every webhook of the named configuration; returns how many were changed. */
export async function patchCaBundle(kube: Kube, kind: 'mutating' | 'validating', name: string, caBundle: string): Promise<number> {
  const path = `/apis/admissionregistration.k8s.io/v1/${kind}webhookconfigurations/${encodeURIComponent(name)}`;
  const cfg = await kube.request<WebhookConfiguration>('GET', path);
  const want = b64(caBundle);
  const ops = (cfg.webhooks ?? []).flatMap((w, i) => (w.clientConfig?.caBundle === want ? [] : [
    // `test` pins the index to the webhook we read, should the list change in between.
    { op: 'test', path: `/webhooks/${i}/name`, value: w.name },
    { op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: want },
  ]));
  if (!ops.length) return 0;
  await kube.request('PATCH', path, { body: ops, contentType: 'application/json-patch+json' });
  return ops.length / 2;
}

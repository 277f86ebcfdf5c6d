// The pure step of the VirtualBucket controller: from the resource and its BackendBuckets to the
// gateway's ConfigMap (the balancing YAML of docs/balancing.md), Service and Deployment. Backend
// credentials never enter the ConfigMap: each backend's Secret is mounted where the config's
// `credentials.secretDir` points, and the access keys come from the access Secret as env vars.
// The sqlite index lives on a PersistentVolumeClaim (a restarted pod keeps its listing); a
// postgres index is shared by every replica, its URL read from the user's Secret; and the
// fault control API's and the admin API's tokens come from the `<name>-gateway-faults` and
// `<name>-gateway-admin` Secrets (gateway-tokens.ts, docs/operator.md).
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import type { BackendBucketResourceSpec } from '../../crds/backendbucket.ts';
import { DEFAULT_GATEWAY_RESOURCES, type GcSpec, type VirtualBucketResourceSpec } from '../../crds/virtualbucket.ts';
import { API_VERSION } from '../../crds/meta.ts';
import type { KubeObject, OwnerReference } from '../kube/types.ts';

export const GATEWAY_PORT = 9000;
/** The gateway Service's metrics port (the next one up when the S3 port already is this). */
export const METRICS_SERVICE_PORT = 9090;
const CONFIG_DIR = '/etc/floodgate/config';
const SECRETS_DIR = '/etc/floodgate/backends';
const DATA_DIR = '/var/lib/floodgate';
const FAULTS_DIR = '/etc/floodgate/faults';
const ADMIN_DIR = '/etc/floodgate/admin';
const INDEX_URL_DIR = '/etc/floodgate/index';
const ORIGIN_SECRET_DIR = '/etc/floodgate/origin';
export const DEFAULT_INDEX_SIZE = '1Gi';
const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;

export interface RenderInput {
  vb: KubeObject;
  spec: VirtualBucketResourceSpec;
  /** Raw spec as written (sizes and durations kept in the user's notation). */
  rawSpec: Record<string, unknown>;
  backends: { name: string; labels: Record<string, string>; spec: BackendBucketResourceSpec; raw: Record<string, unknown> }[];
  image: string;
  accessSecretName: string;
}

export interface Rendered {
  bucketName: string;
  configYaml: string;
  configHash: string;
  configMap: KubeObject;
  service: KubeObject;
  deployment: KubeObject;
  /** The sqlite index's claim; absent for a postgres index (its URL Secret is mounted instead). */
  claim?: KubeObject;
}

/** Volume names are DNS labels (no dots, <= 63): derived from the backend name by hash. */
const volumeOf = (backend: string) => `backend-${createHash('sha256').update(backend).digest('hex').slice(0, 12)}`;

export const childName = (vb: KubeObject) => `${vb.metadata.name}-gateway`;
export const indexClaimName = (vb: KubeObject) => `${vb.metadata.name}-gateway-index`;
/** Holds `token`, the bearer token of the gateway's fault control API. */
export const faultSecretName = (vb: KubeObject) => `${vb.metadata.name}-gateway-faults`;
/** Holds `token`, the bearer token of the gateway's admin API. */
export const adminSecretName = (vb: KubeObject) => `${vb.metadata.name}-gateway-admin`;

/** The index volume's size as a Kubernetes quantity: the user's notation when it is one ("10Gi"), else bytes ("1.5TB"). */
export function claimSize(raw: unknown, bytes: number | undefined): string {
  if (typeof raw === 'string' && QUANTITY.test(raw.trim())) return raw.trim();
  return bytes === undefined ? DEFAULT_INDEX_SIZE : String(bytes);
}

/** The defaults with each field the spec gives replacing its own. */
export function gatewayResources(spec: VirtualBucketResourceSpec['resources']): { requests: Record<string, string | number>; limits: Record<string, string | number> } {
  return {
    requests: { ...DEFAULT_GATEWAY_RESOURCES.requests, ...spec?.requests },
    limits: { ...DEFAULT_GATEWAY_RESOURCES.limits, ...spec?.limits },
  };
}

export function ownerRef(vb: KubeObject): OwnerReference {
  return { apiVersion: API_VERSION, kind: 'VirtualBucket', name: vb.metadata.name, uid: vb.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

export function labelsFor(vb: KubeObject): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'floodgate-gateway',
    'app.kubernetes.io/instance': vb.metadata.name,
    'app.kubernetes.io/managed-by': 'floodgate-operator',
  };
}

/** The gateway's balancing configuration for one virtual bucket. */
const isPostgres = (spec: VirtualBucketResourceSpec) => spec.index?.kind === 'postgres';

/** The read-through origin's entry: the spec as written (sizes, durations), keys from the mounted Secret. */
function renderOrigin(spec: VirtualBucketResourceSpec, raw: Record<string, unknown>): Record<string, unknown> | undefined {
  const o = spec.origin;
  if (!o) return undefined;
  const r = (raw.origin ?? {}) as { retryInterval?: unknown; migrate?: { bandwidth?: unknown } };
  const { credentialsSecret: _secret, ...rest } = o;
  return {
    ...rest,
    retryInterval: r.retryInterval ?? o.retryInterval,
    ...(o.migrate ? { migrate: { ...o.migrate, ...(r.migrate?.bandwidth !== undefined ? { bandwidth: r.migrate.bandwidth } : {}) } } : {}),
    credentials: { secretDir: ORIGIN_SECRET_DIR },
  };
}

/** The gc settings, durations in the user's notation ("30s") where written. */
function renderGc(gc: GcSpec, raw: unknown): Record<string, unknown> {
  const r = (raw ?? {}) as { interval?: unknown; minAge?: unknown };
  return { interval: r.interval ?? gc.interval, minAge: r.minAge ?? gc.minAge };
}

export function renderConfig(i: Pick<RenderInput, 'vb' | 'spec' | 'rawSpec' | 'backends'>, bucketName: string): Record<string, unknown> {
  const raw = i.rawSpec;
  const pg = isPostgres(i.spec);
  const origin = renderOrigin(i.spec, raw);
  return {
    // One pod at a time owns the sqlite index: a stable name lets the next pod settle the write
    // intents the last one left (they are looked up by replica name). Replicas sharing postgres
    // keep the default, the pod's hostname, unique per pod.
    ...(pg ? {} : { replica: childName(i.vb) }),
    listen: `0.0.0.0:${GATEWAY_PORT}`,
    dataDir: DATA_DIR,
    backends: i.backends.map((b) => ({
      name: b.name,
      kind: 's3',
      endpoint: b.spec.endpoint,
      bucket: b.spec.bucket,
      region: b.spec.region,
      pathStyle: b.spec.pathStyle,
      ...(b.raw.maxSize !== undefined ? { maxSize: b.raw.maxSize } : {}),
      weight: b.spec.weight,
      labels: b.labels,
      credentials: { secretDir: `${SECRETS_DIR}/${b.name}` },
    })),
    virtualBuckets: [{
      name: bucketName,
      backends: i.backends.map((b) => b.name),
      strategy: i.spec.strategy,
      mode: i.spec.mode,
      redirectExpiry: raw.redirectExpiry ?? i.spec.redirectExpiry,
      copies: i.spec.copies,
      ...(i.spec.writeQuorum !== undefined ? { writeQuorum: i.spec.writeQuorum } : {}),
      // A drained BackendBucket that is gone (or no longer selected) has nothing left to drain.
      ...(i.spec.drain?.some((n) => i.backends.some((b) => b.name === n)) ? { drain: i.spec.drain.filter((n) => i.backends.some((b) => b.name === n)) } : {}),
      ...(origin ? { origin } : {}),
    }],
    index: pg ? { kind: 'postgres', urlFile: `${INDEX_URL_DIR}/url` } : { kind: 'sqlite', path: `${DATA_DIR}/index.db` },
    // The gateway runs this one virtual bucket, so its gc settings are the gateway's.
    ...(i.spec.gc ? { gc: renderGc(i.spec.gc, raw.gc) } : {}),
  };
}

export function render(i: RenderInput): Rendered {
  const { vb } = i;
  const ns = vb.metadata.namespace!;
  const name = childName(vb);
  const bucketName = i.spec.bucketName ?? vb.metadata.name;
  const labels = labelsFor(vb);
  const meta = { name, namespace: ns, labels, ownerReferences: [ownerRef(vb)] };
  const configYaml = stringify(renderConfig(i, bucketName), { lineWidth: 0 });
  const configHash = createHash('sha256').update(configYaml).digest('hex').slice(0, 16);

  const configMap: KubeObject = { metadata: meta, data: { 'config.yaml': configYaml } };
  const rawIndex = (i.rawSpec.index ?? {}) as { size?: unknown };
  const pg = isPostgres(i.spec);
  const urlSecret = i.spec.index?.urlSecret;
  const originSecret = i.spec.origin?.credentialsSecret;
  const claim: KubeObject | undefined = pg ? undefined : {
    metadata: { ...meta, name: indexClaimName(vb) },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: claimSize(rawIndex.size, i.spec.index?.size) } },
      ...(i.spec.index?.storageClassName ? { storageClassName: i.spec.index.storageClassName } : {}),
    },
  };
  const service: KubeObject = {
    metadata: meta,
    // /metrics is served by the S3 listener; the named port is what a ServiceMonitor selects.
    spec: { type: 'ClusterIP', selector: labels, ports: [
      { name: 's3', port: i.spec.port, targetPort: GATEWAY_PORT, protocol: 'TCP' },
      { name: 'metrics', port: i.spec.port === METRICS_SERVICE_PORT ? METRICS_SERVICE_PORT + 1 : METRICS_SERVICE_PORT, targetPort: GATEWAY_PORT, protocol: 'TCP' },
    ] },
  };
  const secretEnv = (env: string, key: string) => ({ name: env, valueFrom: { secretKeyRef: { name: i.accessSecretName, key } } });
  const deployment: KubeObject = {
    metadata: meta,
    spec: {
      replicas: i.spec.replicas,
      // One pod owns a sqlite index: never two at once. Postgres is shared: roll pod by pod.
      strategy: pg ? { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } } : { type: 'Recreate' },
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations: { 'floodgate.dev/config-hash': configHash, 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(GATEWAY_PORT), 'prometheus.io/path': '/metrics' } },
        spec: {
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{
            name: 'gateway',
            image: i.spec.image ?? i.image,
            args: ['gateway', '--config', `${CONFIG_DIR}/config.yaml`, '--fault-token-file', `${FAULTS_DIR}/token`, '--admin-token-file', `${ADMIN_DIR}/token`],
            ports: [{ name: 's3', containerPort: GATEWAY_PORT, protocol: 'TCP' }],
            env: [secretEnv('FLOODGATE_ACCESS_KEY', 'accessKeyId'), secretEnv('FLOODGATE_SECRET_KEY', 'secretAccessKey')],
            resources: gatewayResources(i.spec.resources),
            // /readyz stays 503 while the index is rebuilt from the backends (docs/operator.md).
            readinessProbe: { httpGet: { path: '/readyz', port: GATEWAY_PORT }, periodSeconds: 5 },
            livenessProbe: { httpGet: { path: '/healthz', port: GATEWAY_PORT }, periodSeconds: 10, failureThreshold: 6 },
            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
            volumeMounts: [
              { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
              { name: 'data', mountPath: DATA_DIR },
              { name: 'faults', mountPath: FAULTS_DIR, readOnly: true },
              { name: 'admin', mountPath: ADMIN_DIR, readOnly: true },
              ...(pg ? [{ name: 'index-url', mountPath: INDEX_URL_DIR, readOnly: true }] : []),
              ...(originSecret ? [{ name: 'origin-credentials', mountPath: ORIGIN_SECRET_DIR, readOnly: true }] : []),
              ...i.backends.map((b) => ({ name: volumeOf(b.name), mountPath: `${SECRETS_DIR}/${b.name}`, readOnly: true })),
            ],
          }],
          volumes: [
            { name: 'config', configMap: { name } },
            pg ? { name: 'data', emptyDir: {} } : { name: 'data', persistentVolumeClaim: { claimName: indexClaimName(vb) } },
            ...(pg && urlSecret ? [{ name: 'index-url', secret: { secretName: urlSecret.name, items: [{ key: urlSecret.key, path: 'url' }] } }] : []),
            { name: 'faults', secret: { secretName: faultSecretName(vb), items: [{ key: 'token', path: 'token' }] } },
            { name: 'admin', secret: { secretName: adminSecretName(vb), items: [{ key: 'token', path: 'token' }] } },
            ...(originSecret ? [{
              name: 'origin-credentials',
              secret: {
                secretName: originSecret.name,
                items: [{ key: originSecret.accessKeyIdKey, path: 'accessKeyId' }, { key: originSecret.secretAccessKeyKey, path: 'secretAccessKey' }],
              },
            }] : []),
            ...i.backends.map((b) => ({
              name: volumeOf(b.name),
              secret: {
                secretName: b.spec.credentialsSecret.name,
                items: [
                  { key: b.spec.credentialsSecret.accessKeyIdKey, path: 'accessKeyId' },
                  { key: b.spec.credentialsSecret.secretAccessKeyKey, path: 'secretAccessKey' },
                ],
              },
            })),
          ],
        },
      },
    },
  };
  return { bucketName, configYaml, configHash, configMap, service, deployment, claim };
}

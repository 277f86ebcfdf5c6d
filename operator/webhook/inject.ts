// Sidecar injection as a pure function: pod in, JSON Patch (RFC 6902) out. No I/O here — the
// token Secret is created by the caller, which passes its name in. The application's command,
// args and images are never touched; only env (the S3 endpoint), volumes and annotations are.
import {
  CONTROL_PORT_ANNOTATION, INJECT_LABEL, INJECTED_ANNOTATION, SIDECAR_CONTROL_PORT, SIDECAR_NAME, SIDECAR_S3_PORT,
  TOKEN_SECRET_ANNOTATION, TOKEN_SECRET_KEY,
} from '../injection-contract.ts';
import { parseQuantity, type SidecarSettings } from './settings.ts';

export interface EnvVar { name: string; value?: string; valueFrom?: unknown }
export interface Container {
  name: string;
  env?: EnvVar[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  restartPolicy?: string;
  [k: string]: unknown;
}
export interface Pod {
  metadata?: {
    name?: string; generateName?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
  };
  spec?: { containers?: Container[]; initContainers?: Container[]; volumes?: { name: string; [k: string]: unknown }[]; shareProcessNamespace?: boolean; [k: string]: unknown };
}
export type PatchOp = { op: 'add' | 'replace'; path: string; value: unknown };

/** Pod annotations a user may set (all optional). */
export const ANNOTATIONS = {
  upstream: 'floodgate.io/upstream',
  cpuLimit: 'floodgate.io/sidecar-cpu-limit',
  memoryLimit: 'floodgate.io/sidecar-memory-limit',
  maxCpuCores: 'floodgate.io/max-cpu-cores',
  maxMemory: 'floodgate.io/max-memory',
  maxDisk: 'floodgate.io/max-disk',
  diskPath: 'floodgate.io/disk-path',
  shareProcessNamespace: 'floodgate.io/share-process-namespace',
  processNames: 'floodgate.io/process-names',
} as const;

export const SIDECAR_ENDPOINT = `http://127.0.0.1:${SIDECAR_S3_PORT}`;
export const TOKEN_VOLUME = 'floodgate-injector-token';
export const DISK_VOLUME = 'floodgate-disk';
/** The sidecar's record of applied disk fills and paused processes: an emptyDir outlives a crashed sidecar, so its restart undoes them. */
export const STATE_VOLUME = 'floodgate-injector-state';
const TOKEN_DIR = '/var/run/floodgate/token';
const STATE_DIR = '/var/run/floodgate/state';
const ENDPOINT_VARS = ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL'] as const;

export type Skip = { inject: false; reason: string };
export type Injection = { inject: true; patch: PatchOp[]; warnings: string[] };

/** Why this pod is not injected, or undefined when it should be (namespace labels are checked by the caller). */
export function skipReason(pod: Pod, namespace: string, protectedNamespaces: readonly string[]): string | undefined {
  if (protectedNamespaces.includes(namespace)) return `namespace ${namespace} is protected`;
  if (pod.metadata?.labels?.[INJECT_LABEL] !== 'true') return `pod is not labelled ${INJECT_LABEL}: "true"`;
  if (pod.metadata?.annotations?.[INJECTED_ANNOTATION] === 'true') return 'already injected';
  if ([...pod.spec?.initContainers ?? [], ...pod.spec?.containers ?? []].some((c) => c.name === SIDECAR_NAME)) return `a container named ${SIDECAR_NAME} exists`;
  return undefined;
}

const esc = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1');
/** The endpoint a container sets: a literal value, or a Secret / ConfigMap key (as a VirtualBucket's access Secret gives it). */
function endpointOf(c: Container, name: string): { url: string } | { valueFrom: unknown } | undefined {
  const e = c.env?.find((x) => x.name === name);
  if (e?.value !== undefined) return { url: e.value };
  const ref = e?.valueFrom as { secretKeyRef?: unknown; configMapKeyRef?: unknown } | undefined;
  return ref?.secretKeyRef || ref?.configMapKeyRef ? { valueFrom: ref } : undefined;
}

/** The sidecar's env var that carries an upstream read from a Secret or ConfigMap key. */
export const UPSTREAM_ENV = 'FLOODGATE_UPSTREAM';

/**
 * The one upstream of every app container: AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL — a literal
 * or a Secret/ConfigMap key, which the sidecar then reads through the same reference — else the
 * annotation.
 */
export function upstreamOf(pod: Pod, apps: Container[]): { url: string } | { valueFrom: unknown } | { error: string } {
  const fromAnnotation = pod.metadata?.annotations?.[ANNOTATIONS.upstream];
  if (fromAnnotation) return /^https?:\/\/[^\s/]+/.test(fromAnnotation) ? { url: fromAnnotation } : { error: `${ANNOTATIONS.upstream}: expected an http(s) URL, got "${fromAnnotation}"` };
  const found = new Map<string, { url: string } | { valueFrom: unknown }>();
  for (const c of apps) {
    const v = endpointOf(c, 'AWS_ENDPOINT_URL_S3') ?? endpointOf(c, 'AWS_ENDPOINT_URL');
    if (v) found.set(JSON.stringify(v), v);
  }
  if (found.size === 0) return { error: `no S3 endpoint to put the sidecar in front of: set AWS_ENDPOINT_URL_S3 (a value, or a Secret or ConfigMap key) in the app containers or the annotation ${ANNOTATIONS.upstream}` };
  if (found.size > 1) return { error: `the app containers use different S3 endpoints (${[...found.keys()].join(', ')}); one sidecar has one upstream: set ${ANNOTATIONS.upstream}` };
  return [...found.values()][0]!;
}

/** Env ops for one container: every endpoint var it sets literally or from a ref points at the sidecar; AWS_ENDPOINT_URL_S3 always does. */
function envOps(base: string, c: Container): PatchOp[] {
  const env = c.env ?? [];
  const wanted = ENDPOINT_VARS.filter((n) => n === 'AWS_ENDPOINT_URL_S3' || env.some((e) => e.name === n));
  if (!c.env) return [{ op: 'add', path: `${base}/env`, value: wanted.map((name) => ({ name, value: SIDECAR_ENDPOINT })) }];
  const ops: PatchOp[] = [];
  for (const name of wanted) {
    const indices = env.flatMap((e, i) => (e.name === name ? [i] : []));
    for (const i of indices) ops.push({ op: 'replace', path: `${base}/env/${i}`, value: { name, value: SIDECAR_ENDPOINT } });
    if (!indices.length) ops.push({ op: 'add', path: `${base}/env/-`, value: { name, value: SIDECAR_ENDPOINT } });
  }
  return ops;
}

/** A value from an annotation, never above the ceiling; the default otherwise. */
function capped(pod: Pod, key: string, dflt: string, ceiling: string, warnings: string[]): string {
  const v = pod.metadata?.annotations?.[key];
  if (v === undefined) return dflt;
  const n = parseQuantity(v);
  if (n === undefined) {
    warnings.push(`${key}: "${v}" is not a quantity; using ${dflt}`);
    return dflt;
  }
  if (n > parseQuantity(ceiling)!) {
    warnings.push(`${key}: ${v} is above the ceiling ${ceiling}; using ${ceiling}`);
    return ceiling;
  }
  return v;
}

export function injectPatch(pod: Pod, tokenSecret: string, s: SidecarSettings): Skip | Injection {
  const spec = pod.spec ?? {};
  const inits = spec.initContainers ?? [];
  const apps = [...inits.map((c, i) => ({ c, base: `/spec/initContainers/${i}` })), ...(spec.containers ?? []).map((c, i) => ({ c, base: `/spec/containers/${i}` }))];
  const up = upstreamOf(pod, apps.map((a) => a.c));
  if ('error' in up) return { inject: false, reason: up.error };
  const warnings: string[] = [];
  const a = pod.metadata?.annotations ?? {};

  const cpuLimit = capped(pod, ANNOTATIONS.cpuLimit, s.resources.limits.cpu, s.ceiling.cpuLimit, warnings);
  const memoryLimit = capped(pod, ANNOTATIONS.memoryLimit, s.resources.limits.memory, s.ceiling.memoryLimit, warnings);
  const maxCores = capped(pod, ANNOTATIONS.maxCpuCores, s.caps.maxCpuCores, s.ceiling.maxCpuCores, warnings);
  const maxMemory = capped(pod, ANNOTATIONS.maxMemory, s.caps.maxMemory, s.ceiling.maxMemory, warnings);
  const maxDisk = capped(pod, ANNOTATIONS.maxDisk, s.caps.maxDisk, s.ceiling.maxDisk, warnings);
  // A request above its (lowered) limit would be refused by the API server.
  const request = (r: string, l: string) => (parseQuantity(r)! > parseQuantity(l)! ? l : r);

  const ops: PatchOp[] = [];
  // 0444: Secret files are root-owned and the pod may set no fsGroup, so the non-root sidecar needs
  // the other-read bit; only the sidecar mounts this volume, so no app container can read it.
  const volumes: { name: string; [k: string]: unknown }[] = [{ name: TOKEN_VOLUME, secret: { secretName: tokenSecret, defaultMode: 0o444 } },
    { name: STATE_VOLUME, emptyDir: { sizeLimit: '1Mi' } }];
  const sidecarMounts = [{ name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true }, { name: STATE_VOLUME, mountPath: STATE_DIR, readOnly: false }];
  // Kubernetes expands $(VAR) in args from the container's own env.
  const upstream = 'url' in up ? up.url : `$(${UPSTREAM_ENV})`;
  const args = ['injector', `--listen=127.0.0.1:${SIDECAR_S3_PORT}`, `--upstream=${upstream}`, `--control-listen=0.0.0.0:${SIDECAR_CONTROL_PORT}`,
    `--token-file=${TOKEN_DIR}/${TOKEN_SECRET_KEY}`, `--state-file=${STATE_DIR}/injector.json`, `--max-cpu-cores=${parseQuantity(maxCores)}`, `--max-memory=${parseQuantity(maxMemory)}`, `--max-disk=${parseQuantity(maxDisk)}`];

  for (const { c, base } of apps) ops.push(...envOps(base, c));

  const diskPath = a[ANNOTATIONS.diskPath];
  if (diskPath !== undefined) {
    if (!diskPath.startsWith('/') || diskPath.includes('..')) warnings.push(`${ANNOTATIONS.diskPath}: "${diskPath}" is not an absolute path; no disk volume shared`);
    else {
      // The app's own volume at that path when it has one (a fill then hits what the app writes to), else a shared emptyDir.
      const existing = apps.flatMap(({ c }) => c.volumeMounts ?? []).find((m) => m.mountPath === diskPath);
      const volume = existing?.name ?? DISK_VOLUME;
      if (!existing) {
        volumes.push({ name: DISK_VOLUME, emptyDir: {} });
        for (const { c, base } of apps) {
          if (c.volumeMounts?.some((m) => m.mountPath === diskPath)) continue;
          ops.push(c.volumeMounts ? { op: 'add', path: `${base}/volumeMounts/-`, value: { name: DISK_VOLUME, mountPath: diskPath } }
            : { op: 'add', path: `${base}/volumeMounts`, value: [{ name: DISK_VOLUME, mountPath: diskPath }] });
        }
      }
      sidecarMounts.push({ name: volume, mountPath: diskPath, readOnly: false });
      args.push(`--disk-path=${diskPath}`);
    }
  }
  if (a[ANNOTATIONS.shareProcessNamespace] === 'true') {
    ops.push({ op: 'add', path: '/spec/shareProcessNamespace', value: true });
    for (const n of (a[ANNOTATIONS.processNames] ?? '').split(',').map((x) => x.trim()).filter(Boolean)) args.push(`--process-name=${n}`);
  }

  const probe = (extra: Record<string, number>) => ({ httpGet: { path: '/_floodgate/metrics', port: SIDECAR_CONTROL_PORT }, ...extra });
  const sidecar = {
    name: SIDECAR_NAME,
    image: s.image,
    imagePullPolicy: s.imagePullPolicy,
    args,
    ...('valueFrom' in up ? { env: [{ name: UPSTREAM_ENV, valueFrom: up.valueFrom }] } : {}),
    restartPolicy: 'Always',
    ports: [{ name: 'fg-control', containerPort: SIDECAR_CONTROL_PORT, protocol: 'TCP' }],
    // The app containers start only once the sidecar's listeners are up.
    startupProbe: probe({ periodSeconds: 1, failureThreshold: 30, timeoutSeconds: 1 }),
    readinessProbe: probe({ periodSeconds: 5, timeoutSeconds: 2 }),
    resources: {
      requests: { cpu: request(s.resources.requests.cpu, cpuLimit), memory: request(s.resources.requests.memory, memoryLimit) },
      limits: { cpu: cpuLimit, memory: memoryLimit },
    },
    // Passes the "restricted" Pod Security Standard, so opted-in namespaces may enforce it.
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
    volumeMounts: sidecarMounts,
  };
  // First, so later init containers (and every app container) find the endpoint already up.
  ops.push(spec.initContainers ? { op: 'add', path: '/spec/initContainers/0', value: sidecar } : { op: 'add', path: '/spec/initContainers', value: [sidecar] });
  if (spec.volumes) for (const v of volumes) ops.push({ op: 'add', path: '/spec/volumes/-', value: v });
  else ops.push({ op: 'add', path: '/spec/volumes', value: volumes });

  // The prometheus.io annotations name one port per pod: an app that set its own keeps it (the
  // sidecar is then scraped through a PodMonitor on port fg-control, docs/observability.md).
  const scrape = a['prometheus.io/scrape'] === undefined
    ? { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(SIDECAR_CONTROL_PORT), 'prometheus.io/path': '/_floodgate/metrics' } : {};
  const marks = { [INJECTED_ANNOTATION]: 'true', [TOKEN_SECRET_ANNOTATION]: tokenSecret, [CONTROL_PORT_ANNOTATION]: String(SIDECAR_CONTROL_PORT), ...scrape };
  if (!pod.metadata?.annotations) ops.push({ op: 'add', path: '/metadata/annotations', value: marks });
  else for (const [k, v] of Object.entries(marks)) ops.push({ op: 'add', path: `/metadata/annotations/${esc(k)}`, value: v });
  return { inject: true, patch: ops, warnings };
}

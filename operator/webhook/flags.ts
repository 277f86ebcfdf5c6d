// The operator flags of the admission webhooks (the chart fills them from `webhook.*` values).
// No --webhook-listen: no webhook server (the operator then only reconciles).
import { parseDuration } from '../../crds/units.ts';
import { ALWAYS_PROTECTED, DEFAULT_SIDECAR, parseQuantity, protectedNamespaces, type AdmissionSettings, type SidecarSettings } from './settings.ts';

export const WEBHOOK_FLAGS = {
  'webhook-listen': { type: 'string', help: 'serve the admission webhooks (HTTPS) on host:port, e.g. 0.0.0.0:9443 (default: off)' },
  'webhook-secret': { type: 'string', help: 'Secret holding the webhook CA and serving certificate (default floodgate-webhook-tls)' },
  'webhook-service': { type: 'string', help: 'Service in front of the webhook port; its DNS names go into the certificate (default floodgate-webhook)' },
  'webhook-host': { type: 'string', help: 'extra certificate names or IPs, comma-separated (e.g. 127.0.0.1 for a clientConfig.url)' },
  'mutating-webhook-configuration': { type: 'string', help: 'MutatingWebhookConfiguration whose caBundle the operator writes (default floodgate)' },
  'validating-webhook-configuration': { type: 'string', help: 'ValidatingWebhookConfiguration whose caBundle the operator writes (default floodgate)' },
  'webhook-check-interval': { type: 'string', help: 'how often the certificate Secret and both caBundles are checked and put right (default 1m)' },
  'protected-namespaces': { type: 'string', help: `more namespaces no sidecar or experiment may touch, comma-separated (always: ${ALWAYS_PROTECTED.join(', ')} and the operator's)` },
  'injector-image': { type: 'string', help: 'image of the injected sidecar (default: --gateway-image)' },
  'injector-pull-policy': { type: 'string', help: 'Always | IfNotPresent | Never (default IfNotPresent)' },
  'sidecar-cpu-request': { type: 'string', help: `sidecar CPU request (default ${DEFAULT_SIDECAR.resources.requests.cpu})` },
  'sidecar-memory-request': { type: 'string', help: `sidecar memory request (default ${DEFAULT_SIDECAR.resources.requests.memory})` },
  'sidecar-cpu-limit': { type: 'string', help: `sidecar CPU limit (default ${DEFAULT_SIDECAR.resources.limits.cpu})` },
  'sidecar-memory-limit': { type: 'string', help: `sidecar memory limit (default ${DEFAULT_SIDECAR.resources.limits.memory})` },
  'sidecar-max-cpu-cores': { type: 'string', help: `cap of cpu faults in a sidecar (default ${DEFAULT_SIDECAR.caps.maxCpuCores})` },
  'sidecar-max-memory': { type: 'string', help: `cap of memory faults in a sidecar (default ${DEFAULT_SIDECAR.caps.maxMemory})` },
  'sidecar-max-disk': { type: 'string', help: `cap of disk faults in a sidecar (default ${DEFAULT_SIDECAR.caps.maxDisk})` },
  'sidecar-ceiling': { type: 'string', help: 'the most pod annotations may raise to, and what FaultExperiments are refused above: cpuLimit=4,memoryLimit=4Gi,maxCpuCores=4,maxMemory=3Gi,maxDisk=20Gi' },
} as const;

export interface WebhookConfig {
  listen: { host: string; port: number };
  secretName: string;
  hosts: string[];
  mutatingName: string;
  validatingName: string;
  checkEveryMs: number;
  settings: AdmissionSettings;
}

/**
 * undefined when --webhook-listen is not given. Throws Error with a flag-naming message. Shares
 * --operator-namespace and --max-pod-share with the FaultExperiment controller (same values,
 * enforced at admission and again at reconcile).
 */
export function webhookConfigFrom(s: (k: string) => string | undefined, gatewayImage: string): WebhookConfig | undefined {
  const listen = s('webhook-listen');
  if (!listen) return undefined;
  const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(listen);
  if (!m || Number(m[2]) > 65535) throw new Error(`--webhook-listen: expected host:port, got "${listen}"`);
  const q = (flag: string, dflt: string): string => {
    const v = s(flag) ?? dflt;
    if (parseQuantity(v) === undefined) throw new Error(`--${flag}: expected a quantity such as 500m, 2, 256Mi or 1Gi, got "${v}"`);
    return v;
  };
  const ceiling = { ...DEFAULT_SIDECAR.ceiling };
  for (const part of (s('sidecar-ceiling') ?? '').split(',').filter(Boolean)) {
    const [k, v] = part.split('=').map((x) => x.trim()) as [string, string | undefined];
    if (!(k in ceiling) || v === undefined || parseQuantity(v) === undefined) throw new Error(`--sidecar-ceiling: expected key=quantity with keys ${Object.keys(ceiling).join(', ')}, got "${part}"`);
    ceiling[k as keyof typeof ceiling] = v;
  }
  const pull = s('injector-pull-policy') ?? 'IfNotPresent';
  if (!['Always', 'IfNotPresent', 'Never'].includes(pull)) throw new Error(`--injector-pull-policy: expected Always, IfNotPresent or Never, got "${pull}"`);
  const pct = Number(s('max-pod-share') ?? 100);
  if (!Number.isFinite(pct) || pct <= 0 || pct > 100) throw new Error(`--max-pod-share: expected a percentage 1-100, got "${s('max-pod-share')}"`);
  const sidecar: SidecarSettings = {
    image: s('injector-image') ?? gatewayImage,
    imagePullPolicy: pull as SidecarSettings['imagePullPolicy'],
    resources: {
      requests: { cpu: q('sidecar-cpu-request', DEFAULT_SIDECAR.resources.requests.cpu), memory: q('sidecar-memory-request', DEFAULT_SIDECAR.resources.requests.memory) },
      limits: { cpu: q('sidecar-cpu-limit', DEFAULT_SIDECAR.resources.limits.cpu), memory: q('sidecar-memory-limit', DEFAULT_SIDECAR.resources.limits.memory) },
    },
    caps: { maxCpuCores: q('sidecar-max-cpu-cores', DEFAULT_SIDECAR.caps.maxCpuCores), maxMemory: q('sidecar-max-memory', DEFAULT_SIDECAR.caps.maxMemory), maxDisk: q('sidecar-max-disk', DEFAULT_SIDECAR.caps.maxDisk) },
    ceiling,
  };
  for (const [cap, top] of [['maxCpuCores', 'maxCpuCores'], ['maxMemory', 'maxMemory'], ['maxDisk', 'maxDisk']] as const) {
    if (parseQuantity(sidecar.caps[cap])! > parseQuantity(ceiling[top])!) throw new Error(`--sidecar-${cap.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${sidecar.caps[cap]} is above --sidecar-ceiling ${top}=${ceiling[top]}`);
  }
  const checkEveryMs = parseDuration(s('webhook-check-interval') ?? '1m');
  if (checkEveryMs === undefined || checkEveryMs < 1000) throw new Error(`--webhook-check-interval: expected a duration of at least 1s, got "${s('webhook-check-interval')}"`);
  const namespace = s('operator-namespace') ?? process.env.POD_NAMESPACE ?? 'default';
  const service = s('webhook-service') ?? 'floodgate-webhook';
  const list = (v: string | undefined) => (v ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  return {
    listen: { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) },
    secretName: s('webhook-secret') ?? 'floodgate-webhook-tls',
    hosts: [`${service}.${namespace}.svc`, service, `${service}.${namespace}`, `${service}.${namespace}.svc.cluster.local`, ...list(s('webhook-host'))],
    mutatingName: s('mutating-webhook-configuration') ?? 'floodgate',
    validatingName: s('validating-webhook-configuration') ?? 'floodgate',
    checkEveryMs,
    settings: { operatorNamespace: namespace, protectedNamespaces: protectedNamespaces(namespace, list(s('protected-namespaces'))), maxPodPercent: pct, sidecar },
  };
}

// What the webhooks are configured with (operator flags the chart fills from values), and the
// Kubernetes quantity parser both the sidecar settings and the FaultExperiment caps use.

export interface SidecarSettings {
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  resources: { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } };
  /** Caps of the sidecar's resource faults (its --max-* flags). */
  caps: { maxCpuCores: string; maxMemory: string; maxDisk: string };
  /** The most a pod annotation may raise a limit or a cap to. */
  ceiling: { cpuLimit: string; memoryLimit: string; maxCpuCores: string; maxMemory: string; maxDisk: string };
}

export interface AdmissionSettings {
  /** The operator's own namespace: never injected, never a target. */
  operatorNamespace: string;
  /** kube-system, kube-public, kube-node-lease, the operator's namespace and the configured extra ones. */
  protectedNamespaces: string[];
  /** Largest share (0-100) of a namespace's pods one experiment may select. */
  maxPodPercent: number;
  sidecar: SidecarSettings;
}

export const ALWAYS_PROTECTED = ['kube-system', 'kube-public', 'kube-node-lease'];

export const DEFAULT_SIDECAR: Omit<SidecarSettings, 'image'> = {
  imagePullPolicy: 'IfNotPresent',
  resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { cpu: '1', memory: '384Mi' } },
  caps: { maxCpuCores: '1', maxMemory: '256Mi', maxDisk: '1Gi' },
  ceiling: { cpuLimit: '4', memoryLimit: '4Gi', maxCpuCores: '4', maxMemory: '3Gi', maxDisk: '20Gi' },
};

const SUFFIX: Record<string, number> = {
  '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, Pi: 1024 ** 5, Ei: 1024 ** 6,
};

/** A Kubernetes quantity ("500m", "1.5", "256Mi", "1G") as a number (cores or bytes); undefined if malformed. */
export function parseQuantity(q: string | number): number | undefined {
  if (typeof q === 'number') return Number.isFinite(q) && q >= 0 ? q : undefined;
  const m = /^(\d+(?:\.\d+)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * SUFFIX[m[2] ?? '']!;
  // Bytes are whole; cores keep their millis.
  return m[2] && m[2] !== 'm' ? Math.round(n) : n;
}

export function protectedNamespaces(operatorNamespace: string, extra: string[]): string[] {
  return [...new Set([...ALWAYS_PROTECTED, operatorNamespace, ...extra.filter(Boolean)])];
}

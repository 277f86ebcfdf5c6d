// What the FaultExperiment controller reads from the cluster to reach injectors: the injected
// pods' annotations (defined with the webhook in ../injection-contract.ts), the gateways' fault
// Secret, the control API path, and the abort switches users flip.
import { CONTROL_PORT_ANNOTATION, INJECTED_ANNOTATION, SIDECAR_CONTROL_PORT, SIDECAR_NAME, TOKEN_SECRET_ANNOTATION } from '../injection-contract.ts';

export { TOKEN_SECRET_KEY } from '../injection-contract.ts';

/** Where the control API lives on a listener (injector/control/handler.ts). */
export const CONTROL_PATH = '/_floodgate/faults';

/** A VirtualBucket's gateways: Secret `<vb>-gateway-faults` key `token`, passed as --fault-token-file. */
export const gatewayFaultSecretName = (virtualBucket: string) => `${virtualBucket}-gateway-faults`;
/** The gateway container's S3 port name; the fault control API is served on that port. */
export const GATEWAY_PORT_NAME = 's3';

/** Experiment annotation: "true" aborts that experiment (reverts every target at once). */
export const ANNOTATION_ABORT = 'floodgate.io/abort';
/**
 * The cluster-wide kill switch: a ConfigMap of this name in the operator's namespace with
 * `data.abort: "true"` aborts every running experiment and keeps new ones from starting.
 */
export const KILL_SWITCH_CONFIGMAP = 'floodgate-kill-switch';
export const KILL_SWITCH_KEY = 'abort';

/** Namespaces no experiment may act in (the operator's own is added at run time). */
export const PROTECTED_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease'];

type PodLike = { metadata: { annotations?: Record<string, string> }; status?: unknown };

/** The injector of an injected pod (base URL without path, token Secret name), or why there is none. */
export function injectorOf(pod: PodLike): { ok: true; baseUrl: string; tokenSecret: string } | { ok: false; reason: 'NoSidecar' | 'NoPodIP' | 'BadAnnotation'; message: string } {
  const a = pod.metadata.annotations ?? {};
  if (a[INJECTED_ANNOTATION] !== 'true') return { ok: false, reason: 'NoSidecar', message: `the pod has no ${SIDECAR_NAME} sidecar (annotation ${INJECTED_ANNOTATION} is not "true"): pods are injected when created, so restart it after opting in` };
  const secret = a[TOKEN_SECRET_ANNOTATION];
  if (!secret) return { ok: false, reason: 'BadAnnotation', message: `annotation ${TOKEN_SECRET_ANNOTATION} is missing` };
  const raw = a[CONTROL_PORT_ANNOTATION];
  const port = raw === undefined ? SIDECAR_CONTROL_PORT : Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { ok: false, reason: 'BadAnnotation', message: `annotation ${CONTROL_PORT_ANNOTATION} is not a port: ${JSON.stringify(raw)}` };
  const ip = (pod.status as { podIP?: string } | undefined)?.podIP;
  if (!ip) return { ok: false, reason: 'NoPodIP', message: 'the pod has no IP yet' };
  return { ok: true, baseUrl: `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}`, tokenSecret: secret };
}

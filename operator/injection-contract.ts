// What the sidecar injector (operator/webhook/) writes into a pod and what the FaultExperiment
// controller reads back: one place, so the two sides cannot drift apart.

/** Name of the injected native sidecar (an init container with restartPolicy Always). */
export const SIDECAR_NAME = 'floodgate-injector';

/** Pod label that opts a pod in to injection (its namespace must opt in too). */
export const INJECT_LABEL = 'floodgate.io/inject';
/** Namespace label that opts a namespace in to injection. */
export const NAMESPACE_LABEL = 'floodgate.io/injection';
export const NAMESPACE_LABEL_VALUE = 'enabled';

/** Set to "true" on every pod the webhook injected: the webhook leaves such a pod alone. */
export const INJECTED_ANNOTATION = 'floodgate.io/injected';
/** Name of the Secret (in the pod's namespace) whose key `token` is the sidecar's control token. */
export const TOKEN_SECRET_ANNOTATION = 'floodgate.io/injector-token-secret';
/** Port of the sidecar's control API on the pod IP. */
export const CONTROL_PORT_ANNOTATION = 'floodgate.io/injector-control-port';
/** Label on every token Secret; its value is "true". */
export const TOKEN_SECRET_LABEL = 'floodgate.io/injector-token';
export const TOKEN_SECRET_KEY = 'token';

/** Ports inside the pod: the S3 listener on loopback (the apps' endpoint) and the control API. */
export const SIDECAR_S3_PORT = 9080;
export const SIDECAR_CONTROL_PORT = 9101;

/** Set by the FaultExperiment admission webhook: who created the experiment, and the SAR result. */
export const CREATED_BY_ANNOTATION = 'floodgate.io/created-by';
export const CREATOR_CAN_DELETE_PODS_ANNOTATION = 'floodgate.io/creator-can-delete-pods';

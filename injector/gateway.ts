// Faults inside the gateway: the same engine and control API as the sidecar, without resource
// faults (they belong in a pod's sidecar). The gateway wires it like this:
//
//   const faults = createGatewayFaults({ token });
//   startGateway({ …, routes: faults.routes });          // control API under /_floodgate/
//   // per S3 request, after routing (operation, bucket, key known; backend when chosen):
//   const f = await faults.engine.onRequest({ req, res, operation, bucket, key, backend, requestId });
//   if (f?.handled) return;                                // answered, reset or client gone
//   // when streaming a response body:
//   const stage = await f?.wrapBody(status, headers);     // may rewrite checksum headers
//   res.writeHead(status, headers); stage ? pipeline(body, stage, res) : pipeline(body, res)
//   // when picking or probing a backend:
//   if (faults.engine.isBackendDown(name)) → treat as unreachable
import { createFaultService, type FaultService, type FaultServiceOptions } from './service.ts';

export type GatewayFaults = FaultService;

export function createGatewayFaults(o: Omit<FaultServiceOptions, 'resources' | 'effects' | 'resourceStatus'>): GatewayFaults {
  return createFaultService({ ...o, resources: false });
}

// Fault: stall. Accept the request and say nothing until the client gives up or the fault
// expires; at expiry the request carries on as if nothing happened.
import type { ServerResponse } from 'node:http';
import { delay } from './latency.ts';

export function stall(res: ServerResponse, until: number, now = Date.now()): Promise<boolean> {
  return delay(res, Math.max(0, until - now));
}

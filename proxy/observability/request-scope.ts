// The request a piece of work is done for, carried through async calls so a backend call's log
// line names the client request that caused it. Set only while something listens (debug logs),
// so an info-level gateway pays nothing for it.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface RequestScope {
  requestId: string;
  traceId?: string;
}

export const requestScope = new AsyncLocalStorage<RequestScope>();

let wanted = false;

/** Turned on by whoever consumes the scope (the debug backend-call log). */
export function wantRequestScope(on = true): void {
  wanted = on;
}

export function requestScopeWanted(): boolean {
  return wanted;
}

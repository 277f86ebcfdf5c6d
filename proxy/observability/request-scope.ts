// The request a piece of work is done for, carried through async calls so a backend call's log
// line names the client request that caused it. Set only while something listens (debug logs),
// or traces), so an info-level gateway without tracing pays nothing for it.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Span } from '@opentelemetry/api';
import { startChildSpan, tracing, type SpanKind } from './tracing.ts';

export interface RequestScope {
  requestId: string;
  traceId?: string;
  /** The request's span, when tracing: parent of backend-call spans and holder of fault events. */
  span?: Span;
}

export const requestScope = new AsyncLocalStorage<RequestScope>();

let wanted = false;

/** Turned on by whoever consumes the scope (the debug backend-call log). */
export function wantRequestScope(on = true): void {
  wanted = on;
}

export function requestScopeWanted(): boolean {
  return wanted || tracing();
}

/** A fault decision on the current request, as an event of its span (no-op when not tracing). */
export function noteFaultDecision(d: { faultId: string; kind: string; decision: string; operation: string }): void {
  requestScope.getStore()?.span?.addEvent('fault', { 'floodgate.fault.id': d.faultId, 'floodgate.fault.kind': d.kind, 'floodgate.fault.decision': d.decision, 'floodgate.operation': d.operation });
}

/** A child of the current scope's span; undefined outside a traced request or reconcile (no root spans). */
export function scopeChildSpan(name: string, attributes: Record<string, string | number>, kind?: SpanKind): Span | undefined {
  const parent = requestScope.getStore()?.span;
  return parent ? startChildSpan(name, parent, attributes, kind) : undefined;
}

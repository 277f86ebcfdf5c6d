// The placement index seen through spans: each call made while serving a traced request becomes
// a child span of it (`placement get`, `placement put`…). Applied only when tracing is on, so an
// untraced gateway calls its index directly.
import { scopeChildSpan } from './request-scope.ts';
import { endSpan, tracing } from './tracing.ts';

export function traceIndex<T extends object>(index: T, system: string): T {
  if (!tracing()) return index;
  return new Proxy(index, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      const fn = v as (...a: unknown[]) => unknown;
      return (...args: unknown[]) => {
        const span = scopeChildSpan(`placement ${prop}`, { 'db.system.name': system, 'db.operation.name': prop });
        if (!span) return fn.apply(target, args);
        try {
          const out = fn.apply(target, args);
          if (out instanceof Promise) out.then(() => span.end(), (e: unknown) => endSpan(span, undefined, e));
          else span.end();
          return out;
        } catch (e) {
          endSpan(span, undefined, e);
          throw e;
        }
      };
    },
  });
}

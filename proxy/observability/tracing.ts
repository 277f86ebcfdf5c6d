// OpenTelemetry traces, on only when an OTLP endpoint is configured through the standard
// variables (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; the exporter
// reads the rest: headers, timeout; the protocol picks the exporter, otlp-exporter.ts). Off, the SDK is never loaded and every helper here returns
// after one `undefined` check. Spans are parented explicitly (through the request scope), not
// through a global context manager: the few places that make spans know their parent.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import type { W3CTraceContextPropagator } from '@opentelemetry/core';
import { VERSION } from '../../version.ts';
import { createTraceExporter, otlpTracesProtocol } from './otlp-exporter.ts';

let tracer: Tracer | undefined;
let propagator: W3CTraceContextPropagator | undefined;

export interface Tracing {
  /** Sends what is buffered and stops; call before the process exits. */
  shutdown(): Promise<void>;
}

export function tracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Starts exporting spans of `service` (OTEL_SERVICE_NAME wins) when configured; undefined when
 * not. Rejects, with the reason, when the configuration asks for what cannot be done (an
 * unsupported protocol): the callers log it and carry on without traces.
 */
export async function startTracing(service: string, env: NodeJS.ProcessEnv = process.env): Promise<Tracing | undefined> {
  if (!tracingConfigured(env)) return undefined;
  const choice = otlpTracesProtocol(env);
  if ('refused' in choice) throw new Error(choice.refused);
  const [{ TracerProvider, BatchSpanProcessor }, exporter, { resourceFromAttributes }, core] = await Promise.all([
    import('@opentelemetry/sdk-trace'), createTraceExporter(choice.protocol), import('@opentelemetry/resources'), import('@opentelemetry/core'),
  ]);
  propagator = new core.W3CTraceContextPropagator();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || service, 'service.version': VERSION }),
    spanProcessors: [new BatchSpanProcessor({ exporter: exporter as never })],
  });
  tracer = provider.getTracer('floodgate', VERSION);
  return {
    async shutdown() {
      tracer = undefined;
      await provider.shutdown();
    },
  };
}

export function tracing(): boolean {
  return tracer !== undefined;
}

const headerGetter: TextMapGetter<Record<string, string | string[] | undefined>> = {
  keys: (h) => Object.keys(h),
  get: (h, k) => h[k],
};

/** A SERVER span continuing the caller's trace (W3C traceparent / tracestate), or undefined when off. */
export function startServerSpan(name: string, headers: Record<string, string | string[] | undefined>, attributes: Attributes): Span | undefined {
  if (!tracer || !propagator) return undefined;
  const parent = propagator.extract(ROOT_CONTEXT, headers, headerGetter);
  return tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
}

/** A child of `parent` (a root span when parent is undefined and tracing is on). */
export function startChildSpan(name: string, parent: Span | undefined, attributes: Attributes = {}, kind: SpanKind = SpanKind.INTERNAL): Span | undefined {
  if (!tracer) return undefined;
  return tracer.startSpan(name, { kind, attributes }, parent ? trace.setSpan(ROOT_CONTEXT, parent) : ROOT_CONTEXT);
}

/** The traceparent / tracestate headers that make the receiver's spans children of `span`. */
export function traceHeaders(span: Span | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!span || !propagator) return out;
  const ctx: Context = trace.setSpan(ROOT_CONTEXT, span);
  propagator.inject(ctx, out, { set: (c, k, v) => { c[k] = v; } });
  return out;
}

export function endSpan(span: Span | undefined, status: number | undefined, error?: unknown): void {
  if (!span) return;
  if (status !== undefined) span.setAttribute('http.response.status_code', status);
  if (error !== undefined || (status !== undefined && status >= 500)) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : undefined });
  }
  span.end();
}

export { SpanKind, type Span };

// The OTLP/HTTP span exporter the standard variables ask for: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
// else OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf (the specification's default). Both
// encodings come from the OTel packages the JSON exporter already installs: its transport
// (@opentelemetry/otlp-exporter-base) and the protobuf serializer of
// @opentelemetry/otlp-transformer (a hand-written writer, no protobuf runtime), wired the way
// @opentelemetry/exporter-trace-otlp-proto wires them — so that package is not needed. gRPC is
// not offered: it would bring @grpc/grpc-js for one transport the collectors also serve over HTTP.

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export type ProtocolChoice = { protocol: OtlpProtocol } | { refused: string };

export function otlpTracesProtocol(env: NodeJS.ProcessEnv = process.env): ProtocolChoice {
  const name = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const v = (env[name] ?? '').trim();
  if (v === '' || v === 'http/protobuf') return { protocol: 'http/protobuf' };
  if (v === 'http/json') return { protocol: 'http/json' };
  return { refused: `${name}=${v} is not supported (http/protobuf or http/json); traces are not exported` };
}

/** The exporter for `protocol`, reading endpoint, headers, timeout and compression from the environment. */
export async function createTraceExporter(protocol: OtlpProtocol): Promise<unknown> {
  if (protocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter();
  }
  const [{ OTLPExporterBase }, http, transformer] = await Promise.all([
    import('@opentelemetry/otlp-exporter-base'), import('@opentelemetry/otlp-exporter-base/node-http'), import('@opentelemetry/otlp-transformer'),
  ]);
  const options = http.convertLegacyHttpOptions({}, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' });
  return new OTLPExporterBase(http.createOtlpHttpExportDelegate(options, transformer.ProtobufTraceSerializer, 'otlp_http_span_exporter', transformer.TraceExporterMetricsHelper, undefined));
}

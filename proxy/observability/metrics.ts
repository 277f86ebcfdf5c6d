// Prometheus metrics of the gateway, on a registry of its own (several gateways may share a process in tests).
// `bucket` is the virtual bucket of an authenticated request that named an existing one, else
// '' — a client cannot grow the label set by sending made-up bucket names.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

type Labels = 'operation' | 'bucket';

export interface GatewayMetrics {
  registry: Registry;
  requests: Counter<Labels | 'status'>;
  errors: Counter<Labels | 'code'>;
  duration: Histogram<Labels>;
  bytesIn: Histogram<Labels>;
  bytesOut: Histogram<Labels>;
  inFlight: Gauge;
}

const SIZE_BUCKETS = [0, 1024, 16384, 262144, 1048576, 8388608, 67108864, 536870912, 5368709120];

export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['operation', 'bucket'] as const;
  return {
    registry,
    requests: new Counter({ name: 'floodgate_s3_requests_total', help: 'S3 requests by operation, virtual bucket and HTTP status', labelNames: [...labelNames, 'status'], registers: [registry] }),
    errors: new Counter({ name: 'floodgate_s3_errors_total', help: 'S3 error responses by operation, virtual bucket and S3 error code', labelNames: [...labelNames, 'code'], registers: [registry] }),
    duration: new Histogram({ name: 'floodgate_s3_request_duration_seconds', help: 'S3 request latency, first byte in to last byte out', labelNames, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [registry] }),
    bytesIn: new Histogram({ name: 'floodgate_s3_request_bytes', help: 'Request body bytes received', labelNames, buckets: SIZE_BUCKETS, registers: [registry] }),
    bytesOut: new Histogram({ name: 'floodgate_s3_response_bytes', help: 'Response body bytes handed to the connection (a cut response counts what went out)', labelNames, buckets: SIZE_BUCKETS, registers: [registry] }),
    inFlight: new Gauge({ name: 'floodgate_s3_requests_in_flight', help: 'S3 requests being served', registers: [registry] }),
  };
}

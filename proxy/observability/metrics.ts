// Prometheus metrics of the gateway, on a registry of its own (several gateways may share a process in tests).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface GatewayMetrics {
  registry: Registry;
  requests: Counter<'operation' | 'status'>;
  duration: Histogram<'operation'>;
  bytesIn: Histogram<'operation'>;
  bytesOut: Histogram<'operation'>;
  inFlight: Gauge;
}

const SIZE_BUCKETS = [0, 1024, 16384, 262144, 1048576, 8388608, 67108864, 536870912, 5368709120];

export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({ name: 'floodgate_s3_requests_total', help: 'S3 requests by operation and HTTP status', labelNames: ['operation', 'status'], registers: [registry] }),
    duration: new Histogram({ name: 'floodgate_s3_request_duration_seconds', help: 'S3 request latency, first byte in to last byte out', labelNames: ['operation'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [registry] }),
    bytesIn: new Histogram({ name: 'floodgate_s3_request_bytes', help: 'Request body bytes received', labelNames: ['operation'], buckets: SIZE_BUCKETS, registers: [registry] }),
    bytesOut: new Histogram({ name: 'floodgate_s3_response_bytes', help: 'Response bytes sent', labelNames: ['operation'], buckets: SIZE_BUCKETS, registers: [registry] }),
    inFlight: new Gauge({ name: 'floodgate_s3_requests_in_flight', help: 'S3 requests being served', registers: [registry] }),
  };
}

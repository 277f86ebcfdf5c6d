// A small OTLP/HTTP trace receiver for tests: POST /v1/traces with an ExportTraceServiceRequest,
// as protobuf (application/x-protobuf, the default protocol) or in the protobuf-JSON mapping
// (application/json, http/json). The protobuf side is decoded here (otlp-protobuf.fixture.ts),
// from the field numbers of opentelemetry-proto, not by the serializer that encoded it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeTraceRequest } from './otlp-protobuf.fixture.ts';

export type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
export type KeyValue = { key: string; value: AnyValue };
/** ExportTraceServiceRequest, as much of it as the tests read (JSON mapping: ids in hex). */
export interface TraceRequest {
  resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes?: KeyValue[]; events?: { name: string; attributes?: KeyValue[] }[] }[] }[] }[];
}

export interface ReceivedSpan {
  service: string;
  /** How it came: 'protobuf' or 'json'. */
  encoding: 'protobuf' | 'json';
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  events: { name: string; attributes: Record<string, string | number | boolean> }[];
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  /** Waits until `match` holds for the spans received so far (polling, bounded). */
  waitFor(what: string, match: (spans: ReceivedSpan[]) => boolean, ms?: number): Promise<void>;
  close(): Promise<void>;
}

const value = (v: AnyValue): string | number | boolean =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.boolValue ?? v.doubleValue ?? '';
const attrs = (kvs: KeyValue[] | undefined) => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, value(kv.value)]));

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const type = String(req.headers['content-type']);
      const encoding = type === 'application/x-protobuf' ? 'protobuf' : /^application\/json/.test(type) ? 'json' : undefined;
      if (req.method !== 'POST' || req.url !== '/v1/traces' || !encoding) {
        res.writeHead(415).end();
        return;
      }
      const raw = Buffer.concat(chunks);
      let body: TraceRequest;
      try {
        body = encoding === 'protobuf' ? decodeTraceRequest(raw) : JSON.parse(raw.toString('utf8')) as TraceRequest;
      } catch {
        res.writeHead(400).end();
        return;
      }
      for (const rs of body.resourceSpans ?? []) {
        const service = String(attrs(rs.resource?.attributes)['service.name'] ?? '');
        for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) {
          spans.push({
            service, encoding, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId || undefined, name: s.name, kind: s.kind,
            attributes: attrs(s.attributes), events: (s.events ?? []).map((e) => ({ name: e.name, attributes: attrs(e.attributes) })),
          });
        }
      }
      // An empty ExportTraceServiceResponse in the request's encoding.
      if (encoding === 'protobuf') res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url, spans,
    async waitFor(what, match, ms = 20_000) {
      for (let waited = 0; !match(spans); waited += 100) {
        if (waited >= ms) throw new Error(`${what}: not received in ${ms} ms; spans: ${JSON.stringify(spans.map((s) => [s.service, s.name, s.spanId, s.parentSpanId]))}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

// The OTLP protocol the standard variables choose, and what each exporter really sends: spans
// made through tracing.ts reach the test receiver as protobuf (decoded there from the
// opentelemetry-proto field numbers) or as JSON, with the same names, ids, parent links,
// attributes of every type and events.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { otlpTracesProtocol } from './otlp-exporter.ts';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.fixture.ts';
import { endSpan, SpanKind, startChildSpan, startServerSpan, startTracing } from './tracing.ts';

test('the protocol: per-signal variable first, then the general one, http/protobuf by default; others refused', () => {
  assert.deepEqual(otlpTracesProtocol({}), { protocol: 'http/protobuf' });
  assert.deepEqual(otlpTracesProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }), { protocol: 'http/json' });
  assert.deepEqual(otlpTracesProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }), { protocol: 'http/protobuf' });
  assert.deepEqual(otlpTracesProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }), { protocol: 'http/json' });
  const grpc = otlpTracesProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
  assert.ok('refused' in grpc && /OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported/.test(grpc.refused), JSON.stringify(grpc));
  assert.ok('refused' in otlpTracesProtocol({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/xml' }));
});

let otlp: OtlpReceiver | undefined;
after(async () => {
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  delete process.env.OTEL_EXPORTER_OTLP_PROTOCOL;
  await otlp?.close();
});

const TRACE = '5b8efff798038103d269b633813fc60c';

for (const protocol of ['http/protobuf', 'http/json'] as const) {
  test(`${protocol}: spans arrive whole`, async () => {
    otlp ??= await startOtlpReceiver();
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = otlp.url;
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = protocol;
    const tracing = await startTracing(`svc-${protocol}`);
    assert.ok(tracing);
    const server = startServerSpan('S3 GetObject', { traceparent: `00-${TRACE}-eee19b7ec3c1b174-01` }, { 'aws.s3.key': 'ünï/k', 'http.request.body.size': 12345678901, sampled: true, ratio: 0.25 });
    server!.addEvent('fault', { 'floodgate.fault.id': 'f-1', 'floodgate.fault.decision': 'fired' });
    const child = startChildSpan('backend GET', server, { 'floodgate.backend': 'minio' }, SpanKind.CLIENT);
    endSpan(child, 200);
    endSpan(server, 503);
    await tracing.shutdown();
    const encoding = protocol === 'http/json' ? 'json' : 'protobuf';
    const mine = () => otlp!.spans.filter((s) => s.service === `svc-${protocol}`);
    await otlp.waitFor(protocol, () => mine().length === 2);
    const got = mine();
    const s = got.find((x) => x.name === 'S3 GetObject')!;
    const c = got.find((x) => x.name === 'backend GET')!;
    assert.deepEqual(got.map((x) => x.encoding), [encoding, encoding]);
    assert.equal(s.traceId, TRACE);
    assert.equal(s.parentSpanId, 'eee19b7ec3c1b174');
    assert.equal(s.kind, 2);
    assert.deepEqual(s.attributes, { 'aws.s3.key': 'ünï/k', 'http.request.body.size': 12345678901, sampled: true, ratio: 0.25, 'http.response.status_code': 503 });
    assert.deepEqual(s.events, [{ name: 'fault', attributes: { 'floodgate.fault.id': 'f-1', 'floodgate.fault.decision': 'fired' } }]);
    assert.equal(c.traceId, TRACE);
    assert.equal(c.parentSpanId, s.spanId);
    assert.match(c.spanId, /^[0-9a-f]{16}$/);
    assert.equal(c.kind, 3);
    assert.deepEqual(c.attributes, { 'floodgate.backend': 'minio', 'http.response.status_code': 200 });
  });
}

test('an unsupported protocol: startTracing refuses with the reason (the processes log it and run without traces)', async () => {
  await assert.rejects(startTracing('svc', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), /grpc is not supported/);
});

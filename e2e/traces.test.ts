// One PUT through sidecar → gateway → MinIO, every process exporting over OTLP/HTTP to a receiver
// written here (proxy/observability/otlp-receiver.fixture.ts) — the gateway in protobuf (the
// default protocol), the sidecar in JSON (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json, which
// wins over OTEL_EXPORTER_OTLP_PROTOCOL): the spans arrive in one trace continuing the client's
// traceparent, each parented by the one before it — client → injector (with the injected
// latency fault as an event) → upstream call → gateway request → auth, placement put, backend
// PUT — and a
// process without OTEL_EXPORTER_OTLP_ENDPOINT sends nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startMinio, type Minio } from '../proxy/backends/s3/minio.fixture.ts';
import { openS3Store } from '../proxy/backends/s3/store.ts';
import { newCredentials, tempDir } from './lib/gateway.ts';
import { objectPath, rawRequest, signHeaders } from './lib/raw-s3.ts';
import { spawnLogged, type LoggedProcess } from './lib/logged-process.ts';
import { startOtlpReceiver, type OtlpReceiver } from '../proxy/observability/otlp-receiver.fixture.ts';
import { spawnInjector, type SpawnedInjector } from '../injector/testing/spawn.ts';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN = 'b7ad6b7169203331';
const creds = newCredentials();
let otlp: OtlpReceiver;
let minio: Minio;
let dir: string;
let gw: LoggedProcess;
let sidecar: SpawnedInjector;

before(async () => {
  otlp = await startOtlpReceiver();
  minio = await startMinio();
  const direct = openS3Store({ name: 'direct', endpoint: minio.endpoint, region: 'us-east-1', credentials: minio.credentials, pathStyle: true });
  await direct.createBucket('fg-traces');
  await direct.close();
  dir = tempDir('floodgate-traces-');
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'gateway.yaml'), stringify({
    backends: [{ name: 'minio', endpoint: minio.endpoint, bucket: 'fg-traces', credentials: { accessKeyId: minio.credentials.accessKeyId, secretAccessKey: minio.credentials.secretAccessKey } }],
    virtualBuckets: [{ name: 'traced', backends: ['minio'] }],
    credentials: [creds],
  }));
  // Children inherit these: the standard variables, nothing Floodgate-specific.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = otlp.url;
  process.env.OTEL_BSP_SCHEDULE_DELAY = '200';
  gw = await spawnLogged(['gateway', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--config', join(dir, 'gateway.yaml')]);
  const gwUrl = (await gw.waitFor((l) => l.msg === 'gateway listening')).url as string;
  process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/protobuf';
  process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = 'http/json';
  sidecar = await spawnInjector([], gwUrl);
  delete process.env.OTEL_EXPORTER_OTLP_PROTOCOL;
  delete process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL;
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  delete process.env.OTEL_BSP_SCHEDULE_DELAY;
});

after(async () => {
  await sidecar?.stop();
  await gw?.stop();
  await minio?.close();
  await otlp?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('traces', () => {
  test('a PUT through sidecar → gateway → MinIO with one injected fault is one trace of parented spans', async () => {
    const fault = await sidecar.api('POST', '/_floodgate/faults', { kind: 'latency', ms: 30, match: { operations: ['PutObject'] } });
    assert.equal(fault.status, 201, JSON.stringify(fault.body));
    // As an instrumented client sends it: traceparent added after signing, so not signed.
    const body = 'traced bytes';
    const path = objectPath('traced', 'span/me.txt');
    const signed = signHeaders(new URL(sidecar.url), { method: 'PUT', path, body, creds });
    const res = await rawRequest(sidecar.url, { method: 'PUT', path, body, headers: { ...signed, traceparent: `00-${TRACE}-${CLIENT_SPAN}-01` } });
    assert.equal(res.status, 200, res.body.toString());
    const inTrace = () => otlp.spans.filter((s) => s.traceId === TRACE);
    const named = (service: string, name: RegExp) => inTrace().find((s) => s.service === service && name.test(s.name));
    await otlp.waitFor('the five spans', () =>
      Boolean(named('floodgate-injector', /^injector /) && named('floodgate-injector', /^upstream /) && named('floodgate-gateway', /^S3 PutObject$/)
        && named('floodgate-gateway', /^auth$/) && named('floodgate-gateway', /^backend PUT$/) && named('floodgate-gateway', /^placement put$/)));

    const injector = named('floodgate-injector', /^injector /)!;
    const upstream = named('floodgate-injector', /^upstream /)!;
    const gateway = named('floodgate-gateway', /^S3 PutObject$/)!;
    const auth = named('floodgate-gateway', /^auth$/)!;
    const backend = named('floodgate-gateway', /^backend PUT$/)!;
    assert.deepEqual([injector.encoding, upstream.encoding], ['json', 'json'], 'the sidecar was told http/json');
    assert.deepEqual([gateway.encoding, auth.encoding, backend.encoding], ['protobuf', 'protobuf', 'protobuf'], 'the gateway used the default');
    assert.equal(injector.parentSpanId, CLIENT_SPAN, 'the sidecar continues the client trace');
    assert.equal(injector.kind, 2);
    assert.equal(upstream.parentSpanId, injector.spanId);
    assert.equal(upstream.kind, 3);
    assert.equal(gateway.parentSpanId, upstream.spanId, 'the gateway continues the sidecar upstream call');
    assert.equal(gateway.kind, 2);
    assert.equal(auth.parentSpanId, gateway.spanId);
    assert.equal(backend.parentSpanId, gateway.spanId);
    assert.equal(backend.kind, 3);
    const placement = named('floodgate-gateway', /^placement put$/)!;
    assert.equal(placement.parentSpanId, gateway.spanId, 'the index write is a child of the request');
    assert.equal(placement.attributes['db.system.name'], 'sqlite');

    const ev = injector.events.find((e) => e.name === 'fault');
    assert.ok(ev, 'the fault decision is an event of the sidecar span');
    assert.equal(ev.attributes['floodgate.fault.id'], fault.body.id);
    assert.equal(ev.attributes['floodgate.fault.kind'], 'latency');
    assert.equal(ev.attributes['floodgate.fault.decision'], 'fired');
    assert.equal(injector.attributes['rpc.method'], 'PutObject');
    assert.equal(gateway.attributes['aws.s3.bucket'], 'traced');
    assert.equal(gateway.attributes['aws.s3.key'], 'span/me.txt');
    assert.equal(gateway.attributes['http.response.status_code'], 200);
    assert.equal(gateway.attributes['http.request.body.size'], 12);
    assert.equal(backend.attributes['floodgate.backend'], 'minio');
    assert.equal(backend.attributes['http.response.status_code'], 200);
    // The gateway's log line carries the same trace id.
    const line = await gw.waitFor((l) => l.msg === 'request' && l.operation === 'PutObject' && l.key === 'span/me.txt');
    assert.equal(line.traceId, TRACE);
  });

  test('a process without OTEL_EXPORTER_OTLP_ENDPOINT exports nothing', async () => {
    const quiet = await spawnInjector([], 'http://127.0.0.1:1');
    try {
      const before = otlp.spans.filter((s) => s.service === 'floodgate-injector').length;
      await fetch(`${quiet.url}/b/k`, { headers: { traceparent: `00-${TRACE}-${CLIENT_SPAN}-01` } }).then((r) => r.arrayBuffer());
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(otlp.spans.filter((s) => s.service === 'floodgate-injector').length, before);
    } finally {
      await quiet.stop();
    }
  });
});

// `make bench ARGS=tracing`: the cost of OpenTelemetry tracing. Two `floodgate gateway` child
// processes on their embedded stores, one without OTEL_EXPORTER_OTLP_ENDPOINT (tracing off: the
// SDK is not loaded) and one exporting every span to an OTLP receiver on loopback; the same 4 KiB
// PUT and GET load runs against both alternately, and the table gives the traced/untraced ratio.
import { newCredentials, spawnGateway, tempDir, type SpawnedGateway } from '../e2e/lib/gateway.ts';
import { rawRequest } from '../e2e/lib/raw-s3.ts';
import { startOtlpReceiver } from '../proxy/observability/otlp-receiver.fixture.ts';
import { compare, type Endpoint } from './load.ts';
import { printTable, type Cell } from './table.ts';
import { rmSync } from 'node:fs';

const BUCKET = 'bench';
const KEYS = Array.from({ length: 64 }, (_, i) => `t/${i}`);

export async function bench(): Promise<void> {
  const otlp = await startOtlpReceiver();
  const dirs = [tempDir('floodgate-bench-trace-'), tempDir('floodgate-bench-trace-')];
  const creds = newCredentials();
  const gws: SpawnedGateway[] = [];
  try {
    gws.push(await spawnGateway(dirs[0]!, creds));
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = otlp.url;
    try {
      gws.push(await spawnGateway(dirs[1]!, creds));
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    }
    const [off, on] = gws.map((g): Endpoint => ({ url: g.url, creds, bucket: BUCKET }));
    for (const ep of [off!, on!]) {
      const r = await rawRequest(ep.url, { method: 'PUT', path: `/${BUCKET}`, creds });
      if (r.status !== 200) throw new Error(`create bucket: ${r.status} ${r.body}`);
    }
    const rows: Record<string, Cell>[] = [];
    for (const method of ['PUT', 'GET'] as const) {
      const [a, b] = await compare(off!, on!, { method, size: 4096, concurrency: 8, keys: KEYS, maxOps: 4000, maxSeconds: 5 });
      rows.push({ 'op (4 KiB, c=8)': method, 'off ops/s': a.opsPerSec, 'on ops/s': b.opsPerSec, 'off p50 ms': a.p50Ms, 'on p50 ms': b.p50Ms, 'on / off': b.opsPerSec / a.opsPerSec });
    }
    printTable(`tracing off vs on (spans received: ${otlp.spans.length})`, rows);
  } finally {
    for (const g of gws) await g.stop();
    await otlp.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

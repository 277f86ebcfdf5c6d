// A real, signed S3 conversation with a backend: HEAD bucket (health and latency), then a
// bounded listing for used bytes and object count. Failures come back as a reason a person can
// act on, never as a thrown error.
import { openS3Store } from '../../proxy/backends/s3/store.ts';
import { isConnectionError } from '../../proxy/backends/s3/http.ts';
import { S3Error } from '../../proxy/s3/errors.ts';

export interface ProbeTarget {
  name: string;
  endpoint: string;
  bucket: string;
  region: string;
  pathStyle: boolean;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export type ProbeResult =
  | { ok: true; latencyMs: number; usedBytes: number; objects: number; complete: boolean }
  | { ok: false; reason: string; message: string };

export const USAGE_LIMIT = 10_000;

const DENIED = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'InvalidToken', 'ExpiredToken']);

function classify(e: unknown, t: ProbeTarget): { reason: string; message: string } {
  if (e instanceof S3Error) {
    // The S3 backend reports a refused signature as 503 to gateway clients; its message keeps the status.
    if (DENIED.has(e.code) || e.status === 403 || /refused the gateway's request with 40[13]/.test(e.message)) return { reason: 'AccessDenied', message: `${t.endpoint} refused the credentials: ${e.code}` };
    if (e.code === 'NoSuchBucket' || e.status === 404) return { reason: 'BucketNotFound', message: `bucket "${t.bucket}" does not exist on ${t.endpoint}` };
    if (isConnectionError(e)) return { reason: 'EndpointUnreachable', message: `cannot reach ${t.endpoint}: ${e.message}` };
    return { reason: 'ProbeFailed', message: `${t.endpoint}: ${e.code}: ${e.message}` };
  }
  if (isConnectionError(e)) return { reason: 'EndpointUnreachable', message: `cannot reach ${t.endpoint}: ${(e as Error).message}` };
  return { reason: 'ProbeFailed', message: `${t.endpoint}: ${(e as Error).message}` };
}

export async function probeBackend(t: ProbeTarget, o: { timeoutMs?: number; usageLimit?: number } = {}): Promise<ProbeResult> {
  const timeoutMs = o.timeoutMs ?? 5_000;
  const store = openS3Store({
    name: t.name, endpoint: t.endpoint, region: t.region, credentials: t.credentials, pathStyle: t.pathStyle,
    connectTimeoutMs: timeoutMs, firstByteTimeoutMs: timeoutMs, idleTimeoutMs: timeoutMs, connections: 2, retries: 0,
  });
  try {
    const started = performance.now();
    await store.probe(t.bucket);
    const latencyMs = Math.round((performance.now() - started) * 1000) / 1000;
    const limit = o.usageLimit ?? USAGE_LIMIT;
    const objects = await store.scan(t.bucket, { prefix: '', after: '', limit });
    return { ok: true, latencyMs, usedBytes: objects.reduce((n, m) => n + m.size, 0), objects: objects.length, complete: objects.length < limit };
  } catch (e) {
    return { ok: false, ...classify(e, t) };
  } finally {
    await store.http.close().catch(() => {});
  }
}

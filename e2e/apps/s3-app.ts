// The application the cluster scenarios run in pods: @aws-sdk/client-s3 configured only by the
// environment a VirtualBucket's access Secret gives (AWS_ENDPOINT_URL_S3, keys, bucket), plus the
// SDK's own variables (AWS_REGION, AWS_MAX_ATTEMPTS). Every outcome is one JSON line on stdout,
// which the test reads back with `kubectl logs`:
//   {"t":<epoch ms>,"op":"put"|"get"|"mpu"|"mb","key":…,"ok":true|false,"status":…,"code":…,"sha":…}
// Modes (APP_MODE):
//   buckets    create the buckets in BUCKETS (comma-separated); waits (≤ 120 s) while the
//              endpoint is unreachable or answers 5xx
//   roundtrip  SMALL_COUNT small objects and one LARGE_MIB multipart upload under PREFIX, each
//              read back and compared; exits 1 when any step failed
//   loop       put a new object then get one acknowledged earlier, until MAX_OPS operations or
//              MAX_SECONDS seconds (both bounded), PAUSE_MS between operations
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { contentOf, sha256 } from './content.ts';

const env = (k: string, dflt?: string): string => {
  const v = process.env[k] ?? dflt;
  if (v === undefined) throw new Error(`${k} is required`);
  return v;
};
const int = (k: string, dflt: number, max: number): number => Math.min(max, Math.max(0, Number(env(k, String(dflt))) || 0));

// Timeouts, as any real application sets them: a request to a gateway pod that went away must
// fail and be recorded, not hang the loop past its deadline.
const s3 = new S3Client({ forcePathStyle: true, region: process.env.AWS_REGION ?? 'us-east-1',
  requestHandler: { connectionTimeout: 3000, requestTimeout: 15_000, throwOnRequestTimeout: true } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Outcome { op: string; key: string; ok: boolean; status?: number; code?: string; sha?: string }

function emit(o: Outcome): Outcome {
  process.stdout.write(JSON.stringify({ t: Date.now(), ...o }) + '\n');
  return o;
}

async function attempt(op: string, key: string, fn: () => Promise<string | undefined>): Promise<Outcome> {
  try {
    const sha = await fn();
    return emit({ op, key, ok: true, status: 200, ...(sha ? { sha } : {}) });
  } catch (e) {
    // An S3 error has its code as the name; a network error is a plain Error with a code (ECONNREFUSED…).
    const err = e as S3ServiceException & { code?: string };
    const code = err.name && err.name !== 'Error' ? err.name : err.code ?? String(err.message).slice(0, 120);
    return emit({ op, key, ok: false, status: err.$metadata?.httpStatusCode, code });
  }
}

async function body(b: unknown): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of b as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

const put = (bucket: string, key: string, size: number) => attempt('put', key, async () => {
  const data = contentOf(key, size);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: data }));
  return sha256(data);
});

const get = (bucket: string, key: string) => attempt('get', key, async () => {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return sha256(await body(r.Body));
});

async function buckets(): Promise<number> {
  const deadline = Date.now() + 120_000;
  for (const bucket of env('BUCKETS').split(',').filter(Boolean)) {
    for (;;) {
      const o = await attempt('mb', bucket, async () => {
        try {
          await s3.send(new CreateBucketCommand({ Bucket: bucket }));
        } catch (e) {
          if ((e as Error).name !== 'BucketAlreadyOwnedByYou') throw e;
        }
        return undefined;
      });
      if (o.ok) break;
      // Only an endpoint that is not up yet is waited for; a 4xx is the answer.
      if (Date.now() > deadline || (o.status !== undefined && o.status < 500)) return 1;
      await sleep(1000);
    }
  }
  return 0;
}

async function roundtrip(): Promise<number> {
  const bucket = env('BUCKET');
  const prefix = env('PREFIX', 'roundtrip');
  const count = int('SMALL_COUNT', 20, 1000);
  const largeMiB = int('LARGE_MIB', 64, 256);
  const results: Outcome[] = [];
  for (let i = 0; i < count; i++) {
    const key = `${prefix}/small-${i}-${1 + ((i * 7919) % 65536)}b`;
    const w = await put(bucket, key, 1 + ((i * 7919) % 65536));
    const r = await get(bucket, key);
    results.push(w, r);
    if (r.ok && r.sha !== w.sha) results.push(emit({ op: 'compare', key, ok: false, code: 'Mismatch' }));
  }
  if (largeMiB > 0) {
    const size = largeMiB * 1024 * 1024;
    const key = `${prefix}/large-${size}b`;
    const data = contentOf(key, size);
    const w = await attempt('mpu', key, async () => {
      await new Upload({ client: s3, params: { Bucket: bucket, Key: key, Body: data }, partSize: 8 * 1024 * 1024, queueSize: 2 }).done();
      return sha256(data);
    });
    const r = await get(bucket, key);
    results.push(w, r);
    if (r.ok && r.sha !== w.sha) results.push(emit({ op: 'compare', key, ok: false, code: 'Mismatch' }));
  }
  return results.every((o) => o.ok) ? 0 : 1;
}

async function loop(): Promise<number> {
  const bucket = env('BUCKET');
  const prefix = env('PREFIX', 'loop');
  const maxOps = int('MAX_OPS', 2000, 100_000);
  const deadline = Date.now() + int('MAX_SECONDS', 60, 3600) * 1000;
  const pause = int('PAUSE_MS', 50, 10_000);
  const acked: string[] = [];
  for (let n = 0; n < maxOps && Date.now() < deadline; n += 2) {
    const size = 100 + ((n * 131) % 4000);
    const key = `${prefix}/obj-${n}-${size}b`;
    if ((await put(bucket, key, size)).ok) acked.push(key);
    if (acked.length) await get(bucket, acked[(n * 2654435761) % acked.length]!);
    if (pause) await sleep(pause);
  }
  emit({ op: 'done', key: prefix, ok: true });
  return 0;
}

const MODES: Record<string, () => Promise<number>> = { buckets, roundtrip, loop };
const mode = MODES[env('APP_MODE')];
if (!mode) {
  process.stderr.write(`APP_MODE must be one of ${Object.keys(MODES).join(', ')}\n`);
  process.exit(2);
}
process.exitCode = await mode();
s3.destroy();

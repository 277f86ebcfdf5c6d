// Application pods (e2e/apps/s3-app.ts in a Job) and reading back what they recorded, plus an
// S3 client and an admin API client on the test's side through port-forwards to a gateway Service.
import { ListObjectsV2Command, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { StatusSnapshot } from '../../proxy/health/status.ts';
import { contentOf, sha256, sizeOfKey } from '../apps/content.ts';
import { outcomes, type Kube } from './kube.ts';

export interface AppRun {
  job: string;
  ns: string;
  secret: string;
  mode: 'buckets' | 'roundtrip' | 'loop';
  prefix?: string;
  buckets?: string[];
  smallCount?: number;
  largeMiB?: number;
  maxOps?: number;
  maxSeconds?: number;
  pauseMs?: number;
  podLabels?: Record<string, string>;
}

export async function startApp(k: Kube, a: AppRun): Promise<void> {
  await k.kubectl(['delete', 'job', a.job, '-n', a.ns, '--ignore-not-found', '--wait=true']);
  await k.apply('app-job.yaml', {
    JOB: a.job, NS: a.ns, SECRET: a.secret, MODE: a.mode, PREFIX: a.prefix ?? a.job,
    BUCKETS: (a.buckets ?? []).join(','), SMALL_COUNT: String(a.smallCount ?? 20), LARGE_MIB: String(a.largeMiB ?? 0),
    MAX_OPS: String(a.maxOps ?? 1000), MAX_SECONDS: String(a.maxSeconds ?? 30), PAUSE_MS: String(a.pauseMs ?? 50),
    DEADLINE: String((a.maxSeconds ?? 30) + 240), POD_LABELS: JSON.stringify({ app: a.job, ...(a.podLabels ?? {}) }),
  });
}

/** Waits for the Job to finish and returns every outcome its pod printed; fails on a failed Job unless allowed. */
export async function finishApp(k: Kube, a: Pick<AppRun, 'job' | 'ns'>, o: { allowFailure?: boolean; timeoutMs?: number } = {}) {
  const status = await k.waitFor(`job ${a.job} to finish`, async () => {
    const j = await k.get('job', a.ns, a.job);
    const done = (j?.status?.conditions ?? []).find((c: any) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
    return done?.type as string | undefined;
  }, o.timeoutMs ?? 300_000);
  const text = await k.logs(a.ns, `job/${a.job}`, 'app');
  if (status !== 'Complete' && !o.allowFailure) throw new Error(`job ${a.job} failed; its log:\n${text.slice(-4000)}`);
  return { status, outcomes: outcomes(text) };
}

export async function runApp(k: Kube, a: AppRun, o: { allowFailure?: boolean } = {}) {
  await startApp(k, a);
  return finishApp(k, a, o);
}

export async function accessOf(k: Kube, ns: string, secret: string) {
  const s = await k.get('secret', ns, secret);
  if (!s) throw new Error(`secret ${ns}/${secret} not found`);
  const d = (key: string) => Buffer.from(s.data[key] ?? '', 'base64').toString('utf8');
  return { accessKeyId: d('accessKeyId'), secretAccessKey: d('secretAccessKey'), bucket: d('bucket') };
}

/** An S3 client on the test's side, through `kubectl port-forward` to the gateway Service. */
export async function gatewayClient(k: Kube, ns: string, service: string, secret: string) {
  const fwd = await k.portForward(ns, `svc/${service}`, 9000);
  const a = await accessOf(k, ns, secret);
  const s3 = new S3Client({ endpoint: fwd.url, region: 'us-east-1', forcePathStyle: true, maxAttempts: 3,
    credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey } });
  return {
    s3, bucket: a.bucket,
    /** Every key under `prefix` in the access Secret's bucket, or in `bucket` (another Secret's: MinIO's root keys). */
    async listAll(prefix: string, bucket = a.bucket): Promise<string[]> {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        for (const o of r.Contents ?? []) keys.push(o.Key!);
        token = r.NextContinuationToken;
      } while (token);
      return keys;
    },
    /** Reads the object and checks it is exactly what the application wrote under that key. */
    async verify(key: string): Promise<boolean> {
      const r = await s3.send(new GetObjectCommand({ Bucket: a.bucket, Key: key }));
      const chunks: Buffer[] = [];
      for await (const c of r.Body as AsyncIterable<Buffer>) chunks.push(c);
      return sha256(Buffer.concat(chunks)) === sha256(contentOf(key, sizeOfKey(key)));
    },
    close() {
      s3.destroy();
      fwd.close();
    },
  };
}

/**
 * The admin API of a VirtualBucket's gateway (docs/gateway.md#admin-api) through a port-forward to
 * its Service, with the token of the Secret its status names (`status.adminSecret`).
 */
export async function adminApi(k: Kube, ns: string, vb: any) {
  const secret = await k.get('secret', ns, vb.status.adminSecret);
  if (!secret) throw new Error(`secret ${ns}/${vb.status.adminSecret} not found`);
  const token = Buffer.from(secret.data.token, 'base64').toString('utf8');
  const fwd = await k.portForward(ns, `svc/${vb.metadata.name}-gateway`, 9000);
  return {
    /** The forwarded gateway, e.g. for a request without the token. */
    url: fwd.url,
    /** `method /_floodgate/admin/<path>` with the token: its JSON answer, or an error unless 200. */
    async call(method: 'GET' | 'POST' | 'DELETE', path: string): Promise<any> {
      const r = await fetch(`${fwd.url}/_floodgate/admin/${path}`, { method, headers: { authorization: `Bearer ${token}` } });
      const text = await r.text();
      if (r.status !== 200) throw new Error(`${method} /_floodgate/admin/${path} answered ${r.status}: ${text}`);
      return JSON.parse(text);
    },
    /** The gateway's own view of one virtual bucket on /status (what the operator copies into the status). */
    async bucketStatus(bucket: string): Promise<StatusSnapshot['virtualBuckets'][number]> {
      const s = (await (await fetch(`${fwd.url}/status`)).json()) as StatusSnapshot;
      const v = s.virtualBuckets.find((b) => b.name === bucket);
      if (!v) throw new Error(`the gateway's /status has no bucket ${bucket}`);
      return v;
    },
    close: () => fwd.close(),
  };
}

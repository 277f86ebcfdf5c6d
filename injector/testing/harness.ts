// A sidecar in front of a real upstream, plus an S3 client and control-API helpers, for tests.
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { startSidecar, type Sidecar, type SidecarOptions } from '../sidecar.ts';
import { startUpstream, type Upstream } from './upstream.ts';

export interface Harness {
  upstream: Upstream;
  sidecar: Sidecar;
  token: string;
  /** A client that talks to the sidecar. */
  client(extra?: Partial<S3ClientConfig>): S3Client;
  /** A client that talks to the upstream directly. */
  direct(extra?: Partial<S3ClientConfig>): S3Client;
  api(method: string, path: string, body?: unknown, token?: string | null): Promise<{ status: number; body: any }>;
  inject(spec: object): Promise<{ id: string; [k: string]: unknown }>;
  close(): Promise<void>;
}

export async function startHarness(opts: Partial<SidecarOptions> = {}): Promise<Harness> {
  const upstream = await startUpstream();
  const token = randomBytes(16).toString('hex');
  const sidecar = await startSidecar({ host: '127.0.0.1', port: 0, upstream: upstream.url, token, ...opts });
  const clients: S3Client[] = [];
  const make = (endpoint: string, extra: Partial<S3ClientConfig>) => {
    const c = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: upstream.creds, ...extra });
    clients.push(c);
    return c;
  };
  const api: Harness['api'] = async (method, path, body, tok = token) => {
    const headers: Record<string, string> = {};
    if (tok !== null) headers.authorization = `Bearer ${tok}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(sidecar.controlUrl + path, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await r.text();
    let parsed: unknown = text;
    try { parsed = JSON.parse(text); } catch { /* metrics text */ }
    return { status: r.status, body: parsed };
  };
  return {
    upstream, sidecar, token, api,
    client: (extra = {}) => make(sidecar.url, extra),
    direct: (extra = {}) => make(upstream.url, extra),
    async inject(spec) {
      const r = await api('POST', '/_floodgate/faults', spec);
      if (r.status !== 201) throw new Error(`inject failed: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
    async close() {
      for (const c of clients) c.destroy();
      await sidecar.close();
      await upstream.close();
    },
  };
}

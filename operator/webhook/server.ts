// The HTTPS AdmissionReview (admission.k8s.io/v1) server, on its own port inside the operator.
// Routing and the review envelope only; what each path decides is in admission.ts.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { CertKey } from './ca.ts';

const MAX_BODY = 8 * 1024 * 1024;

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  namespace?: string;
  name?: string;
  userInfo: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  object?: Record<string, unknown>;
  oldObject?: Record<string, unknown>;
  dryRun?: boolean;
}

/** What a handler decides; the envelope (uid, apiVersion, base64 patch) is added here. */
export type Verdict =
  | { allowed: true; patch?: unknown[]; warnings?: string[] }
  | { allowed: false; message: string; code?: number; reason?: string };

export type AdmissionHandler = (req: AdmissionRequest) => Promise<Verdict>;

export interface WebhookServer {
  server: Server;
  url: string;
  /** Swaps the serving certificate (renewal) without dropping the listener. */
  setCertificate(c: CertKey): void;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy(new Error('AdmissionReview too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function envelope(uid: string, v: Verdict): unknown {
  const response = v.allowed
    ? { uid, allowed: true, ...(v.patch?.length ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(v.patch)).toString('base64') } : {}), ...(v.warnings?.length ? { warnings: v.warnings } : {}) }
    : { uid, allowed: false, status: { code: v.code ?? 403, reason: v.reason ?? 'Forbidden', message: v.message } };
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

export async function startWebhookServer(o: {
  host: string; port: number; cert: CertKey; routes: Record<string, AdmissionHandler>;
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}): Promise<WebhookServer> {
  const server = createServer({ cert: o.cert.certPem, key: o.cert.keyPem, minVersion: 'TLSv1.2' }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'GET' && path === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    const handler = o.routes[path];
    if (!handler) return void reply(404, { message: `no webhook at ${path}` });
    if (req.method !== 'POST') return void reply(405, { message: 'POST an AdmissionReview' });
    void (async () => {
      let review: { apiVersion?: string; kind?: string; request?: AdmissionRequest };
      try {
        review = JSON.parse(await readBody(req)) as typeof review;
      } catch (e) {
        return reply(400, { message: `not an AdmissionReview: ${(e as Error).message}` });
      }
      const r = review.request;
      if (review.kind !== 'AdmissionReview' || !r?.uid) return reply(400, { message: 'expected an admission.k8s.io/v1 AdmissionReview with a request' });
      let verdict: Verdict;
      try {
        verdict = await handler(r);
      } catch (e) {
        // A handler that cannot decide answers a 500: the API server then applies the webhook's failurePolicy.
        o.log('warn', 'admission handler failed', { path, uid: r.uid, namespace: r.namespace, error: (e as Error).message });
        return reply(500, { message: (e as Error).message });
      }
      o.log('debug', 'admission', { path, uid: r.uid, operation: r.operation, namespace: r.namespace, name: r.name, allowed: verdict.allowed, patched: verdict.allowed && !!verdict.patch?.length });
      reply(200, envelope(r.uid, verdict));
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    server,
    url: `https://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`,
    setCertificate: (c) => server.setSecureContext({ cert: c.certPem, key: c.keyPem, minVersion: 'TLSv1.2' }),
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

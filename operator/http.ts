// /metrics, /healthz and /readyz on a loopback port chosen by flag. Readiness means: this replica
// is the leader and its caches are synced, or it is a standby (ready to take over).
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

export interface HealthSource {
  live(): boolean;
  ready(): { ok: boolean; detail: string };
}

export async function startHttp(host: string, port: number, registry: Registry, health: HealthSource): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return void res.writeHead(405).end();
    if (path === '/healthz') return void res.writeHead(health.live() ? 200 : 500, { 'content-type': 'text/plain' }).end(health.live() ? 'ok\n' : 'unhealthy\n');
    if (path === '/readyz') {
      const r = health.ready();
      return void res.writeHead(r.ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${r.detail}\n`);
    }
    if (path === '/metrics') {
      void registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as { port: number };
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}` };
}

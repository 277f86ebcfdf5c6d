// Test harness: the real S3 front over a virtual store, in this process (startVirtualGateway) or
// as a child process that can be SIGKILLed (run this file: <config.yaml> <data-dir>; keys from
// FLOODGATE_ACCESS_KEY / FLOODGATE_SECRET_KEY; prints {"msg":"gateway listening","url":…}).
import { startGateway, type Gateway } from '../server.ts';
import { createLogger, type Logger } from '../observability/log.ts';
import { openVirtualStoreFromFile, type VirtualStore } from './index.ts';

export interface VirtualGateway {
  url: string;
  gateway: Gateway;
  store: VirtualStore;
  close(): Promise<void>;
}

export async function startVirtualGateway(store: VirtualStore, creds: { accessKeyId: string; secretAccessKey: string }, logger: Logger = createLogger('warn', () => {})): Promise<VirtualGateway> {
  const gateway = await startGateway({
    store,
    keys: (id) => (id === creds.accessKeyId ? creds.secretAccessKey : undefined),
    host: '127.0.0.1',
    port: 0,
    domains: ['localhost'],
    region: 'us-east-1',
    idleTimeoutMs: 10_000,
    logger,
    routes(req, res) {
      if (req.method !== 'GET' || req.url !== '/status') return false;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(store.status()));
      return true;
    },
  });
  store.registerMetrics(gateway.metrics.registry);
  return {
    url: gateway.url, gateway, store,
    async close() {
      await gateway.close();
      await store.close();
    },
  };
}

if (import.meta.main) {
  const [configPath, dataDir] = process.argv.slice(2);
  const logger = createLogger('info');
  const store = await openVirtualStoreFromFile(configPath!, { dataDir, log: (level, msg, fields) => logger.log(level, msg, fields) });
  const gw = await startVirtualGateway(store, { accessKeyId: process.env.FLOODGATE_ACCESS_KEY!, secretAccessKey: process.env.FLOODGATE_SECRET_KEY! }, logger);
  const unwatch = store.watch();
  logger.log('info', 'gateway listening', { url: gw.url });
  process.once('SIGTERM', () => { unwatch(); void gw.close().then(() => process.exit(0)); });
}

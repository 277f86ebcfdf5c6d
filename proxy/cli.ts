// `floodgate gateway`: load config and keys, open the store, serve until SIGINT/SIGTERM.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, loadGatewayConfig, usage } from './config.ts';
import { loadKeys } from './credentials.ts';
import { createLogger } from './observability/log.ts';
import { startGateway } from './server.ts';
import { openFsStore } from './store/fs/index.ts';

export async function runGateway(argv: string[]): Promise<number> {
  let config;
  try {
    config = loadGatewayConfig(argv);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`floodgate gateway: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  if (config.help) {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  const logger = createLogger(config.logLevel);
  const dataDir = resolve(config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const keySet = loadKeys(dataDir, config.credentials);
  const store = await openFsStore(dataDir);
  const gw = await startGateway({
    store,
    keys: (id) => keySet.keys.get(id),
    host: config.listen.host,
    port: config.listen.port,
    domains: config.domains,
    region: config.region,
    idleTimeoutMs: config.idleTimeoutMs,
    logger,
  });
  logger.log('info', 'gateway listening', { url: gw.url, dataDir, region: config.region, domains: config.domains });
  if (keySet.generated) {
    const c = keySet.generated;
    process.stderr.write([
      '',
      `Floodgate S3 gateway on ${gw.url} (data in ${dataDir})`,
      `${c.created ? 'Generated' : 'Using'} credentials from ${dataDir}/.floodgate/credentials.json:`,
      `  export AWS_ACCESS_KEY_ID=${c.accessKeyId} AWS_SECRET_ACCESS_KEY=${c.secretAccessKey} AWS_DEFAULT_REGION=${config.region}`,
      `  aws --endpoint-url ${gw.url} s3 mb s3://demo && aws --endpoint-url ${gw.url} s3 ls`,
      '',
    ].join('\n'));
  }
  await new Promise<void>((done) => {
    const stop = (signal: string) => {
      logger.log('info', 'shutting down', { signal });
      done();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await gw.close();
  await store.close();
  return 0;
}

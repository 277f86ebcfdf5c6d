// The gateway's YAML file as `floodgate gateway` reads it: its own settings (config.ts) and, when
// any balancing field is present, the whole file validated as a BalancingConfig (virtual/config.ts)
// so the virtual store can open it. Either way unknown fields are refused, one line per problem.
import type { BalancingConfig } from './virtual/config.ts';
import { BALANCING_FIELDS, BalancingConfigError, parseBalancingConfig } from './virtual/config.ts';
import { ConfigError, readConfigFile, readYamlFile, type GatewayFileConfig } from './config.ts';

export interface GatewayFile {
  file: GatewayFileConfig;
  /** Set when the file declares backends and virtual buckets. */
  balancing?: BalancingConfig;
}

export function isBalancingFile(raw: unknown): boolean {
  return raw !== null && typeof raw === 'object' && Object.keys(BALANCING_FIELDS).some((k) => k in raw);
}

export function readGatewayFile(path: string): GatewayFile {
  const raw = readYamlFile(path);
  if (!isBalancingFile(raw)) return { file: readConfigFile(path) };
  try {
    const balancing = parseBalancingConfig(raw, path);
    return { file: balancing, balancing };
  } catch (e) {
    if (e instanceof BalancingConfigError) throw new ConfigError(e.message, { cause: e });
    throw e;
  }
}

// The gateway's `/status` document: each backend's health, latency and capacity, and which
// backends each virtual bucket spreads over. The operator copies it into resource status.

export interface BackendStatus {
  name: string;
  kind: 's3' | 'fs';
  /** s3: the endpoint URL; fs: the directory. */
  location: string;
  bucket?: string;
  state: 'up' | 'down';
  /** ISO time of the last state change. */
  since: string;
  latencyMs?: number;
  lastError?: string;
  /** Failures seen since start (probes and requests). */
  failures: number;
  usedBytes: number;
  objects: number;
  maxSize?: number;
  /** maxSize - usedBytes, when there is a maxSize. */
  freeBytes?: number;
  weight: number;
  labels: Record<string, string>;
}

export interface VirtualBucketStatus {
  name: string;
  strategy: string;
  mode: 'proxy' | 'redirect';
  backends: string[];
  /** Backends of this bucket that are up and have room. */
  writable: string[];
}

export interface StatusSnapshot {
  generatedAt: string;
  /** Bumped on every configuration reload. */
  configGeneration: number;
  backends: BackendStatus[];
  virtualBuckets: VirtualBucketStatus[];
}

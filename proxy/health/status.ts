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
  /** Copies kept of each object, and how many a PUT writes before it is acknowledged. */
  copies: number;
  writeQuorum: number;
  /** Objects with a copy still to write (queued copy jobs). */
  underReplicated: number;
  /** Repair scans running or queued: where each got to. */
  repairs: { backend?: string; scanned: number; queued: number }[];
  /** Backends drained or being drained (no new writes), with the drain's progress (virtual/moves.ts). */
  drains: DrainStatus[];
  /** A rebalance running or queued: where it got to. */
  rebalance?: MoveStatus;
  /** Its read-through origin, when it has one (virtual/origin/). */
  origin?: OriginStatus;
  /** Garbage collection: the last (or running) run on each backend that had one (virtual/gc/). */
  gc?: GcStatus[];
}

export interface GcStatus {
  backend: string;
  /** cancelled: its job was cancelled through the admin API (DELETE /_floodgate/admin/jobs). */
  state: 'running' | 'done' | 'cancelled';
  /** objects: the backend's `<bucket>/` names; own: its `.floodgate/w/<bucket>/` names; records: the index's. */
  phase: 'objects' | 'own' | 'records';
  startedAt: string;
  finishedAt?: string;
  /**
   * Backend objects looked at; of them orphans (no record holds them, older than gc.minAge, named by
   * no write in flight or queued job), the orphans deleted, and those kept for being younger than gc.minAge.
   */
  scanned: number;
  orphans: number;
  removed: number;
  removedBytes: number;
  young: number;
  /** Records checked, and copies of them found missing on this backend (the first few keys). */
  records: number;
  missing: number;
  missingKeys: string[];
  /** Objects that could not be judged or deleted, with the last few errors. */
  errors: number;
  lastErrors: { key: string; error: string }[];
}

/** Progress of a drain or rebalance job. */
export interface MoveStatus {
  job: number;
  pass: number;
  scanned: number;
  moved: number;
  movedBytes: number;
  /** Objects not moved in this pass (retried in the next), and the last error. */
  failed: number;
  attempts: number;
  lastError?: string;
  /** A drain with nothing left to move that waits for writes still open there (multipart uploads). */
  waiting?: string;
}

export interface DrainStatus {
  backend: string;
  state: 'draining' | 'drained';
  since: string;
  /** Drained: what the drain moved. */
  moved?: number;
  movedBytes?: number;
  /** Draining: its job's progress (absent while none is queued, e.g. just after it was asked for). */
  progress?: MoveStatus;
}

export interface OriginStatus {
  /** The origin's endpoint and bucket (never its keys). */
  endpoint: string;
  bucket: string;
  /** Since start: GET/HEAD answered from the origin, objects (and bytes) copied in after such reads, copies that failed. */
  reads: number;
  copied: number;
  copiedBytes: number;
  copyFailures: number;
  /** Background copies waiting or running. */
  copiesQueued: number;
  /** The last (or running) migration run, from the index: survives restarts. */
  migration?: {
    run: number;
    state: 'counting' | 'running' | 'done' | 'cancelled' | 'failed';
    startedAt: string;
    finishedAt?: string;
    owner: string;
    resumes: number;
    copied: number;
    copiedBytes: number;
    skipped: number;
    failed: number;
    totalObjects?: number;
    totalBytes?: number;
    remainingObjects?: number;
    remainingBytes?: number;
    lastError?: string;
  };
}

/** The durable job queue (placement/jobs.ts) as this replica last read it, plus its own counts. */
export interface JobsStatus {
  queued: Record<string, number>;
  /** Queued jobs that failed at least once (their last error is in `errors`). */
  failing: Record<string, number>;
  /** Finished and failed runs by this replica since it started. */
  done: Record<string, number>;
  failed: Record<string, number>;
  running: number;
  errors: { id: number; kind: string; bucket: string; key: string; backend: string; attempts: number; lastError: string }[];
}

export interface StatusSnapshot {
  generatedAt: string;
  /** Bumped on every configuration reload. */
  configGeneration: number;
  backends: BackendStatus[];
  virtualBuckets: VirtualBucketStatus[];
  jobs?: JobsStatus;
}

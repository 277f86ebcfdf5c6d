// A running resource fault: stop() reverts it (idempotent); stopSync() is the last-chance revert
// on process exit, where only synchronous work runs.
export interface Running {
  status(): Record<string, unknown>;
  stop(): Promise<void>;
  stopSync(): void;
}

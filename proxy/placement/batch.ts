// Group commit for the embedded index. node:sqlite is synchronous and every commit fsyncs the
// WAL (synchronous=FULL): one transaction per write would block the event loop once per PUT.
// Writes queued within one turn of the loop run together in one transaction, each inside its
// own savepoint so one failing write fails alone; every caller's promise settles only after
// the COMMIT is durable.
import type { DatabaseSync } from 'node:sqlite';

interface Pending {
  fn: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export type Batcher = <T>(fn: () => T) => Promise<T>;

export function createBatcher(db: DatabaseSync): Batcher {
  let queue: Pending[] = [];
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    const ops = queue;
    queue = [];
    const results: { ok: boolean; value: unknown }[] = [];
    try {
      db.exec('BEGIN IMMEDIATE');
    } catch (e) {
      for (const op of ops) op.reject(e);
      return;
    }
    for (const op of ops) {
      db.exec('SAVEPOINT op');
      try {
        results.push({ ok: true, value: op.fn() });
        db.exec('RELEASE op');
      } catch (e) {
        db.exec('ROLLBACK TO op');
        db.exec('RELEASE op');
        results.push({ ok: false, value: e });
      }
    }
    try {
      db.exec('COMMIT');
    } catch (e) {
      try { db.exec('ROLLBACK'); } catch { /* already rolled back */ }
      for (const op of ops) op.reject(new Error('placement index commit failed', { cause: e }));
      return;
    }
    ops.forEach((op, i) => (results[i]!.ok ? op.resolve(results[i]!.value) : op.reject(results[i]!.value)));
  }

  return <T>(fn: () => T) => new Promise<T>((resolve, reject) => {
    queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
}

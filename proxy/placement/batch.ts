// Group commit for the embedded index. node:sqlite is synchronous and a durable commit fsyncs the
// WAL (synchronous=FULL): one transaction per write would block the event loop once per PUT.
// Writes queued within one turn of the loop run together in one transaction, each inside its
// own savepoint so one failing write fails alone; every caller's promise settles only after
// the COMMIT.
//
// A batch of only `lazy` writes commits with synchronous=NORMAL: its frames reach the WAL by
// write() (they survive the process being killed) but wait for the next fsync. A WAL is replayed
// as a prefix, so the next durable commit makes them durable too; only a power cut (or OS crash)
// before one loses them. Writes whose loss then harms nothing — a write intent, a removal queued
// ahead of the commit that needs it — are lazy; what a client is told about is never.
import type { DatabaseSync } from 'node:sqlite';
import type { Durability } from './types.ts';

interface Pending {
  fn: () => unknown;
  lazy: boolean;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export type Batcher = <T>(fn: () => T, o?: Durability) => Promise<T>;

/** PRAGMA synchronous levels: OFF, NORMAL, FULL, EXTRA. */
const NORMAL = 1;

export function createBatcher(db: DatabaseSync): Batcher {
  let queue: Pending[] = [];
  let scheduled = false;
  // The level the connection was opened with is the durable one; lazy batches go no higher than NORMAL.
  const durable = Number((db.prepare('PRAGMA synchronous').get() as { synchronous: number }).synchronous);
  const lazyLevel = Math.min(durable, NORMAL);
  let level = durable;

  /** PRAGMA synchronous is read at each COMMIT: it is switched between transactions, never inside one. */
  function durability(lazy: boolean): void {
    const want = lazy ? lazyLevel : durable;
    if (want === level) return;
    db.exec(`PRAGMA synchronous = ${want}`);
    level = want;
  }

  function flush(): void {
    scheduled = false;
    const ops = queue;
    queue = [];
    const results: { ok: boolean; value: unknown }[] = [];
    try {
      durability(ops.every((op) => op.lazy));
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

  return <T>(fn: () => T, o: Durability = {}) => new Promise<T>((resolve, reject) => {
    queue.push({ fn, lazy: o.lazy === true, resolve: resolve as (v: unknown) => void, reject });
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
}

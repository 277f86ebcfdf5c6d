// Lazy writes on PostgreSQL (types.ts Durability): synchronous_commit is set per transaction, so
// a lazy statement runs in a transaction of its own with it off. Its commit is visible at once
// and survives this process; the WAL is flushed past it by the server's WAL writer within a few
// hundred ms, or sooner by any later synchronous commit (a flush goes up to that commit's record).
import type pg from 'pg';
import type { Durability } from './types.ts';

export async function queryWith(pool: pg.Pool, sql: string, params: unknown[], o: Durability = {}): Promise<pg.QueryResult> {
  if (!o.lazy) return pool.query(sql, params);
  const c = await pool.connect();
  try {
    await c.query('BEGIN; SET LOCAL synchronous_commit = off');
    const r = await c.query(sql, params);
    await c.query('COMMIT');
    return r;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    c.release();
  }
}

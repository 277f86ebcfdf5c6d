// What metadata search (find.ts) needs in the index, for both kinds, added to an index of any age:
//
// - one secondary index per filter that can narrow a scan: content type (equality, then key
//   order, so a page is a bounded seek), size and last-modified (ranges);
// - `object_meta`, one row per user metadata pair, keyed (bucket, name, value, key) so a
//   key=value filter is a seek yielding keys in order. Triggers on `objects` keep it in step in
//   the same transaction as every write, whatever statement makes the write (sqlite's INSERT OR
//   REPLACE fires no delete trigger, so the insert trigger clears the key's old rows first), and
//   the record itself stays as it is: `user_meta` remains the source the rows are derived from.
//   An index made before the table existed is filled from `user_meta` once, when it is created.
// - `object_copies`, one row per written copy (the first, `backend`, and each entry of `copies`
//   that is not pending), keyed (bucket, backend, key): the backend filter is a seek yielding keys
//   in order, whichever copy is on the backend. Kept in step by the same triggers, filled once.
import type { DatabaseSync } from 'node:sqlite';

const SQLITE_TABLES = `
CREATE TABLE IF NOT EXISTS object_meta (
  bucket TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (bucket, name, value, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS object_meta_by_object ON object_meta (bucket, key);
CREATE TABLE IF NOT EXISTS object_copies (
  bucket TEXT NOT NULL, backend TEXT NOT NULL, key TEXT NOT NULL,
  PRIMARY KEY (bucket, backend, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS object_copies_by_object ON object_copies (bucket, key);
CREATE INDEX IF NOT EXISTS objects_find_type ON objects (bucket, content_type, key);
DROP INDEX IF EXISTS objects_find_backend;
CREATE INDEX IF NOT EXISTS objects_find_size ON objects (bucket, size);
CREATE INDEX IF NOT EXISTS objects_find_modified ON objects (bucket, last_modified);
CREATE TRIGGER IF NOT EXISTS objects_meta_insert AFTER INSERT ON objects BEGIN
  DELETE FROM object_meta WHERE bucket = new.bucket AND key = new.key;
  INSERT OR IGNORE INTO object_meta (bucket, key, name, value) SELECT new.bucket, new.key, j.key, j.value FROM json_each(new.user_meta) j;
END;
CREATE TRIGGER IF NOT EXISTS objects_meta_update AFTER UPDATE OF bucket, key, user_meta ON objects BEGIN
  DELETE FROM object_meta WHERE bucket = old.bucket AND key = old.key;
  INSERT OR IGNORE INTO object_meta (bucket, key, name, value) SELECT new.bucket, new.key, j.key, j.value FROM json_each(new.user_meta) j;
END;
CREATE TRIGGER IF NOT EXISTS objects_meta_delete AFTER DELETE ON objects BEGIN
  DELETE FROM object_meta WHERE bucket = old.bucket AND key = old.key;
END;
CREATE TRIGGER IF NOT EXISTS objects_copies_insert AFTER INSERT ON objects BEGIN
  DELETE FROM object_copies WHERE bucket = new.bucket AND key = new.key;
  ${sqliteCopies('new')};
END;
CREATE TRIGGER IF NOT EXISTS objects_copies_update AFTER UPDATE OF bucket, key, backend, copies ON objects BEGIN
  DELETE FROM object_copies WHERE bucket = old.bucket AND key = old.key;
  ${sqliteCopies('new')};
END;
CREATE TRIGGER IF NOT EXISTS objects_copies_delete AFTER DELETE ON objects BEGIN
  DELETE FROM object_copies WHERE bucket = old.bucket AND key = old.key;
END;
`;

/** The written copies of the trigger's row `new`, or of every row `o` (the fill), into object_copies. */
function sqliteCopies(row: 'new' | 'o'): string {
  const from = row === 'o' ? ' FROM objects o' : '';
  return `INSERT OR IGNORE INTO object_copies (bucket, backend, key)
    SELECT ${row}.bucket, ${row}.backend, ${row}.key${from}
    UNION ALL SELECT ${row}.bucket, json_extract(j.value, '$.backend'), ${row}.key FROM${row === 'o' ? ' objects o,' : ''} json_each(COALESCE(${row}.copies, '[]')) j
      WHERE NOT COALESCE(json_extract(j.value, '$.pending'), 0)`;
}

const SQLITE_BACKFILL = `INSERT OR IGNORE INTO object_meta (bucket, key, name, value)
  SELECT o.bucket, o.key, j.key, j.value FROM objects o, json_each(o.user_meta) j`;
const SQLITE_COPIES_BACKFILL = sqliteCopies('o');

/** Call after the `objects` table exists. One transaction: no write slips between the fill and the triggers. */
export function prepareSqliteFind(db: DatabaseSync): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    const missing = (t: string) => db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`).get(t) === undefined;
    const fresh = missing('object_meta');
    const freshCopies = missing('object_copies');
    db.exec(SQLITE_TABLES);
    if (fresh) db.exec(SQLITE_BACKFILL);
    if (freshCopies) db.exec(SQLITE_COPIES_BACKFILL);
    db.exec('COMMIT');
  } catch (e) {
    db.exec('ROLLBACK');
    throw e;
  }
}

/**
 * The same for PostgreSQL, as one multi-statement query (one implicit transaction), run under the
 * schema lock. `fresh`: object_meta / object_copies did not exist yet, so it is filled. The trigger is made before
 * the fill: it locks out writers until the commit, and the fill sees every write before it.
 */
export function postgresFindSql(s: string, fresh: { meta: boolean; copies: boolean }): string {
  const copiesOf = (row: string) => `SELECT ${row}.bucket, ${row}.backend, ${row}.key
    UNION ALL SELECT ${row}.bucket, j->>'backend', ${row}.key FROM jsonb_array_elements(COALESCE(${row}.copies, '[]')::jsonb) j
      WHERE NOT COALESCE((j->>'pending')::boolean, false)`;
  return `
CREATE TABLE IF NOT EXISTS ${s}.object_meta (
  bucket TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL, name TEXT COLLATE "C" NOT NULL, value TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (bucket, name, value, key)
);
CREATE INDEX IF NOT EXISTS object_meta_by_object ON ${s}.object_meta (bucket, key);
CREATE TABLE IF NOT EXISTS ${s}.object_copies (
  bucket TEXT COLLATE "C" NOT NULL, backend TEXT COLLATE "C" NOT NULL, key TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (bucket, backend, key)
);
CREATE INDEX IF NOT EXISTS object_copies_by_object ON ${s}.object_copies (bucket, key);
CREATE INDEX IF NOT EXISTS objects_find_type ON ${s}.objects (bucket, content_type COLLATE "C", key);
DROP INDEX IF EXISTS ${s}.objects_find_backend;
CREATE INDEX IF NOT EXISTS objects_find_size ON ${s}.objects (bucket, size, key);
CREATE INDEX IF NOT EXISTS objects_find_modified ON ${s}.objects (bucket, last_modified, key);
CREATE OR REPLACE FUNCTION ${s}.objects_meta_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.bucket = OLD.bucket AND NEW.key = OLD.key AND NEW.user_meta = OLD.user_meta THEN RETURN NULL; END IF;
  IF TG_OP <> 'INSERT' THEN DELETE FROM ${s}.object_meta WHERE bucket = OLD.bucket AND key = OLD.key; END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO ${s}.object_meta (bucket, key, name, value)
      SELECT NEW.bucket, NEW.key, j.key, j.value FROM jsonb_each_text(NEW.user_meta::jsonb) j ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER objects_meta_sync AFTER INSERT OR UPDATE OR DELETE ON ${s}.objects
  FOR EACH ROW EXECUTE FUNCTION ${s}.objects_meta_sync();
CREATE OR REPLACE FUNCTION ${s}.objects_copies_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.bucket = OLD.bucket AND NEW.key = OLD.key AND NEW.backend = OLD.backend
    AND NEW.copies IS NOT DISTINCT FROM OLD.copies THEN RETURN NULL; END IF;
  IF TG_OP <> 'INSERT' THEN DELETE FROM ${s}.object_copies WHERE bucket = OLD.bucket AND key = OLD.key; END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO ${s}.object_copies (bucket, backend, key) ${copiesOf('NEW')} ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER objects_copies_sync AFTER INSERT OR UPDATE OR DELETE ON ${s}.objects
  FOR EACH ROW EXECUTE FUNCTION ${s}.objects_copies_sync();
${fresh.meta ? `INSERT INTO ${s}.object_meta (bucket, key, name, value)
  SELECT o.bucket, o.key, j.key, j.value FROM ${s}.objects o, jsonb_each_text(o.user_meta::jsonb) j ON CONFLICT DO NOTHING;` : ''}
${fresh.copies ? `INSERT INTO ${s}.object_copies (bucket, backend, key) SELECT c.* FROM ${s}.objects o, LATERAL (${copiesOf('o')}) c ON CONFLICT DO NOTHING;` : ''}`;
}

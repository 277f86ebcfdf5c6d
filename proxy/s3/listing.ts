// One listing algorithm for every store: walks `scan` pages in UTF-8 byte order and rolls keys up
// into CommonPrefixes at the delimiter. Ordering is never compared in JS (UTF-16 order differs
// from UTF-8 byte order); only the store orders keys.
import type { ObjectMeta, ObjectStore } from '../store/types.ts';

export interface ListRequest {
  prefix: string;
  delimiter: string;
  /** Exclusive start: a key, or a common prefix returned earlier (then all keys under it are skipped). */
  after: string;
  maxKeys: number;
}

export type ListEntry = { kind: 'object'; meta: ObjectMeta } | { kind: 'prefix'; prefix: string };

export interface ListPage {
  entries: ListEntry[];
  isTruncated: boolean;
  /** The last entry's key or prefix: the next page's `after`. */
  last?: string;
}

/** The smallest string after every key that starts with `p` (U+10FFFF is the last code point). */
function pastPrefix(p: string): string {
  return p + '\u{10FFFF}';
}

function rollup(key: string, req: ListRequest): string | undefined {
  if (!req.delimiter) return undefined;
  const i = key.indexOf(req.delimiter, req.prefix.length);
  return i < 0 ? undefined : key.slice(0, i + req.delimiter.length);
}

export async function listPage(store: ObjectStore, bucket: string, req: ListRequest): Promise<ListPage> {
  const entries: ListEntry[] = [];
  if (req.maxKeys <= 0) return { entries, isTruncated: false };
  let cursor = req.after;
  // A marker that is itself a common prefix means "continue after everything under it".
  if (cursor && cursor.startsWith(req.prefix) && rollup(cursor, req) === cursor) cursor = pastPrefix(cursor);
  const batch = Math.min(1000, req.maxKeys + 1);
  for (;;) {
    const metas = await store.scan(bucket, { prefix: req.prefix, after: cursor, limit: batch });
    let restarted = false;
    for (const meta of metas) {
      if (entries.length === req.maxKeys) return { entries, isTruncated: true, last: lastOf(entries) };
      const cp = rollup(meta.key, req);
      if (cp === undefined) {
        entries.push({ kind: 'object', meta });
        cursor = meta.key;
      } else {
        entries.push({ kind: 'prefix', prefix: cp });
        // Restart the scan past the whole prefix instead of reading every key under it.
        cursor = pastPrefix(cp);
        restarted = true;
        break;
      }
    }
    if (!restarted && metas.length < batch) return { entries, isTruncated: false, last: lastOf(entries) };
  }
}

function lastOf(entries: ListEntry[]): string | undefined {
  const e = entries.at(-1);
  return e === undefined ? undefined : e.kind === 'object' ? e.meta.key : e.prefix;
}

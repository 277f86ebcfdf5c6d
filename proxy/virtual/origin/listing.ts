// The listing of a virtual bucket with an origin: the index's records merged with the origin's
// keys that are neither indexed (copied in, or written here) nor tombstoned (deleted here), in
// UTF-8 byte order, each key once. It answers the store's `scan` (at most `limit` keys after
// `after`), so the front's one listing algorithm (s3/listing.ts) adds delimiters, common
// prefixes, markers and continuation tokens on top, for V1 and V2 alike.
//
// Both sources are read `limit` keys at a time. When one of them returned a full page, keys past
// its last one are unknown, so only keys up to the smaller such bound are merged; the next round
// starts there. A page never ends short unless both sources are exhausted: the front reads a
// short page as the end of the listing.
import type { ObjectMeta, ScanOptions } from '../../store/types.ts';
import type { VirtualContext } from '../context.ts';
import { originError, type Origin } from './origin.ts';

const cmp = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

export async function mergedScan(ctx: VirtualContext, o: Origin, indexed: (opts: ScanOptions) => Promise<ObjectMeta[]>, opts: ScanOptions): Promise<ObjectMeta[]> {
  const out: ObjectMeta[] = [];
  let after = opts.after;
  while (out.length < opts.limit) {
    const want = opts.limit - out.length;
    const page = { prefix: opts.prefix, after, limit: want };
    const [mine, theirs] = await Promise.all([
      indexed(page),
      o.store.scan(o.config.bucket, page).catch((e: unknown) => { throw originError(o.bucket, e); }),
    ]);
    let bound: string | undefined;
    if (mine.length === want) bound = mine.at(-1)!.key;
    if (theirs.length === want && (bound === undefined || cmp(theirs.at(-1)!.key, bound) < 0)) bound = theirs.at(-1)!.key;
    const marks = await ctx.index.originMarksOf(o.bucket, theirs.map((m) => m.key));
    const hidden = new Set(marks.filter((m) => m.kind === 'deleted').map((m) => m.key));
    let i = 0;
    let j = 0;
    while (out.length < opts.limit && (i < mine.length || j < theirs.length)) {
      const a = mine[i];
      const b = theirs[j];
      const c = a && b ? cmp(a.key, b.key) : a ? -1 : 1;
      const next = c <= 0 ? a! : b!;
      if (bound !== undefined && cmp(next.key, bound) > 0) break;
      if (c <= 0) i++;
      if (c >= 0) j++;
      // The index's record wins over the origin's listing of the same key (copied or overwritten).
      if (c > 0 && hidden.has(next.key)) continue;
      out.push(next);
    }
    if (bound === undefined) break;
    after = bound;
  }
  return out;
}

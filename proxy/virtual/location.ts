// Where a write puts its bytes on a backend. The usual name is `<bucket>/<key>`. A PUT streams
// there only while that name is free: no committed copy of the key lives there and no other
// write of this process is streaming to it or may still land there (a refused write whose late
// copy is not removed yet). Otherwise the write gets a name of its own,
// `.floodgate/w/<bucket>/<random token>/<key>` (outside every `<bucket>/` namespace: bucket names
// cannot start with a dot), so writers of one key never share a backend object. They then need
// no lock while their bodies stream: only the index commit is serialised, the last commit wins,
// and every copy the index does not point at is removed by a queued `remove` intent.
import { randomBytes } from 'node:crypto';
import type { PlacedObject } from '../placement/types.ts';
import { backendKey, type VirtualContext } from './context.ts';

export const OWN_NAMES = '.floodgate/w/';

/** A backend-side name of its own for a write that cannot use `<bucket>/<key>`. */
export function ownName(bucket: string, key: string): string {
  return `${OWN_NAMES}${bucket}/${randomBytes(8).toString('hex')}/${key}`;
}

/** The key an own name belongs to, or undefined when `name` is not one of `bucket`'s. */
export function keyOfOwnName(bucket: string, name: string): string | undefined {
  const head = `${OWN_NAMES}${bucket}/`;
  if (!name.startsWith(head)) return undefined;
  const slash = name.indexOf('/', head.length);
  if (slash < 0 || !/^[0-9a-z]+$/.test(name.slice(head.length, slash))) return undefined;
  return name.slice(slash + 1);
}

export interface CopyRef {
  bucket: string;
  key: string;
  backend: string;
  location?: string;
}

/** The backend object a record (or an intent) points at. */
export function nameOf(r: { bucket: string; key: string; location?: string }): string {
  return r.location ?? backendKey(r.bucket, r.key);
}

/** Whether two records point at the same backend object. */
export function sameCopy(a: CopyRef | undefined, b: CopyRef): boolean {
  return !!a && a.backend === b.backend && nameOf(a) === nameOf(b);
}

/** Users of `<bucket>/<key>` names in this process, per kind: writes streaming there, removals pending there. */
type Use = 'write' | 'remove';
const users = new WeakMap<VirtualContext, Record<Use, Map<string, number>>>();

const slot = (bucket: string, key: string, backend: string) => `${backend}\n${bucket}\n${key}`;

function countsOf(ctx: VirtualContext, use: Use): Map<string, number> {
  let m = users.get(ctx);
  if (!m) users.set(ctx, (m = { write: new Map(), remove: new Map() }));
  return m[use];
}

/** Marks `<bucket>/<key>` on `backend` in use until the returned function is called. */
export function holdUsualName(ctx: VirtualContext, bucket: string, key: string, backend: string, use: Use): () => void {
  const m = countsOf(ctx, use);
  const s = slot(bucket, key, backend);
  m.set(s, (m.get(s) ?? 0) + 1);
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    const n = (m.get(s) ?? 1) - 1;
    if (n > 0) m.set(s, n);
    else m.delete(s);
  };
}

/** Whether a write of this process streams to `<bucket>/<key>` on `backend` (or, with 'any', a removal is pending there too). */
export function usualNameBusy(ctx: VirtualContext, bucket: string, key: string, backend: string, what: 'write' | 'any' = 'any'): boolean {
  const s = slot(bucket, key, backend);
  return (countsOf(ctx, 'write').get(s) ?? 0) > 0 || (what === 'any' && (countsOf(ctx, 'remove').get(s) ?? 0) > 0);
}

/**
 * Picks the name a PUT to `backend` streams to (call under the key's lock, so two writers never
 * both take the usual name). `location` is undefined for the usual name. `uploading`: a multipart
 * upload of the key is open, and will complete onto the usual name of its backend.
 */
export function claimName(ctx: VirtualContext, current: PlacedObject | undefined, bucket: string, key: string, backend: string, uploading = false): { location?: string; release: () => void } {
  const usual = { bucket, key, backend };
  if (!uploading && !sameCopy(current, usual) && !usualNameBusy(ctx, bucket, key, backend)) {
    return { release: holdUsualName(ctx, bucket, key, backend, 'write') };
  }
  return { location: ownName(bucket, key), release: () => {} };
}

// Is the placement index as new as its backends? An index has an identity (a random id made when
// it is created, kept in the index) and a start count (`session`, +1 on every start that found it
// current). Each backend holds, per virtual bucket, a small marker object written by the index
// that last owned it: `{index, session}`. At start, per virtual bucket and backend:
//
//   marker missing                       → the index never owned this backend (or it was wiped)
//   marker.index ≠ our identity          → another (or a lost and recreated) index wrote there
//   marker.session > our session         → our index is a copy older than the last start
//   backend unreachable                  → unknown
//
// Any of the first three means the index may lack objects the backend holds: rebuild it
// (reindex) before serving a listing. An index created just now must be rebuilt whatever the
// markers say. An unknown backend blocks a rebuild from completing; an index found current
// elsewhere is trusted (its records of that backend are as good as before the restart).
//
// Markers live at `.floodgate/index-marker/<bucket>` in the backend's bucket: outside every
// virtual bucket's `<bucket>/` namespace (S3 bucket names never start with "."), so no listing
// and no reindex ever sees them.
import { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { S3Error } from '../s3/errors.ts';
import { onBackend, type VirtualContext } from './context.ts';
import type { Generation } from './runtime.ts';

export const MARKER_PREFIX = '.floodgate/index-marker/';
export const markerKey = (bucket: string) => `${MARKER_PREFIX}${bucket}`;

export interface Marker {
  index: string;
  session: number;
}

export type MarkerCheck =
  | { state: 'current' }
  | { state: 'missing' }
  | { state: 'foreign'; index: string }
  | { state: 'newer'; session: number }
  | { state: 'unreachable'; error: string };

export interface Verdict {
  reindex: boolean;
  /** One line per (bucket, backend) that is not current, for the log. */
  reasons: string[];
  /** Backends that could not be asked: a rebuild cannot complete while there are any. */
  unreachable: string[];
}

/** Compares one backend's marker with the index. */
export function compareMarker(marker: Marker | undefined, identity: string, session: number): MarkerCheck {
  if (!marker) return { state: 'missing' };
  if (marker.index !== identity) return { state: 'foreign', index: marker.index };
  if (marker.session > session) return { state: 'newer', session: marker.session };
  return { state: 'current' };
}

/** The decision from every check. `created`: the index was made at this start (empty or lost). */
export function judge(checks: { bucket: string; backend: string; check: MarkerCheck }[], created: boolean): Verdict {
  const reasons: string[] = [];
  const unreachable = new Set<string>();
  if (created) reasons.push('the index was created at this start (new, or its file was lost)');
  for (const { bucket, backend, check: c } of checks) {
    const where = `backend ${backend}, bucket ${bucket}`;
    if (c.state === 'missing') reasons.push(`${where}: no marker (the index never owned it)`);
    else if (c.state === 'foreign') reasons.push(`${where}: written by index ${c.index}`);
    else if (c.state === 'newer') reasons.push(`${where}: marker of start ${c.session}, newer than the index`);
    else if (c.state === 'unreachable') unreachable.add(backend);
  }
  return { reindex: reasons.length > 0, reasons, unreachable: [...unreachable] };
}

function parseMarker(text: string): Marker | undefined {
  try {
    const m = JSON.parse(text) as Partial<Marker>;
    return typeof m.index === 'string' && Number.isSafeInteger(m.session) ? { index: m.index, session: m.session! } : undefined;
  } catch {
    return undefined;
  }
}

async function readBody(body: Readable | undefined): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body ?? []) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The index's identity and start count; `created` while no start has found it current yet. */
export async function indexIdentity(ctx: VirtualContext): Promise<{ identity: string; session: number; created: boolean }> {
  let identity = await ctx.index.getMeta('identity');
  if (!identity) await ctx.index.setMeta('identity', (identity = randomUUID()));
  // The start count is written only once a start found the index current: an index made by a
  // start that never finished its rebuild still counts as new.
  const session = await ctx.index.getMeta('session');
  return { identity, session: Number(session ?? 0), created: session === undefined };
}

export async function checkMarkers(ctx: VirtualContext, gen: Generation, identity: string, session: number): Promise<{ bucket: string; backend: string; check: MarkerCheck }[]> {
  const out: { bucket: string; backend: string; check: MarkerCheck }[] = [];
  await Promise.all([...gen.buckets.values()].flatMap((vb) => vb.backends.map(async (name) => {
    const b = gen.backends.get(name)!;
    let check: MarkerCheck;
    try {
      const r = await onBackend(ctx, b, () => b.store.getObject(b.bucket, markerKey(vb.name), {}));
      check = compareMarker(parseMarker(await readBody(r.body)), identity, session);
    } catch (e) {
      check = e instanceof S3Error && e.code === 'NoSuchKey' ? { state: 'missing' } : { state: 'unreachable', error: (e as Error).message };
    }
    out.push({ bucket: vb.name, backend: name, check });
  })));
  return out;
}

/** Claims every backend for this index and start; returns the backends that could not be written. */
export async function writeMarkers(ctx: VirtualContext, gen: Generation, marker: Marker): Promise<string[]> {
  const failed: string[] = [];
  const bytes = Buffer.from(JSON.stringify({ ...marker, writtenAt: new Date().toISOString() }));
  await Promise.all([...gen.buckets.values()].flatMap((vb) => vb.backends.map(async (name) => {
    const b = gen.backends.get(name)!;
    try {
      await onBackend(ctx, b, () => b.store.putObject(b.bucket, markerKey(vb.name), {
        body: Readable.from([bytes]), size: bytes.length, headers: { contentType: 'application/json', userMeta: {} }, checksums: {},
      }));
    } catch (e) {
      failed.push(name);
      ctx.log('warn', 'index marker not written', { backend: name, bucket: vb.name, error: (e as Error).message });
    }
  })));
  return failed;
}

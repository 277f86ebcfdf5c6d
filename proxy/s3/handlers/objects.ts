// Single-object operations and DeleteObjects.
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { abandon } from '../../store/abandon.ts';
import { isRelayable } from '../../relay/body.ts';
import { parseIntegrityHeaders } from '../../auth/integrity-headers.ts';
import type { OutgoingHttpHeaders } from 'node:http';
import { checksumHeaderName } from '../../auth/checksums.ts';
import { validateKey } from '../../store/keys.ts';
import type { Checksums, ObjectMeta, RangeSpec, UpstreamIntegrity } from '../../store/types.ts';
import { decodeBody, readSmallBody } from '../body.ts';
import { S3Error, isS3Error } from '../errors.ts';
import { objectHeadersFromRequest, objectResponseHeaders, quoteEtag, readConditions, writeConditions } from '../headers.ts';
import { sendEmpty, sendXml } from '../respond.ts';
import { param } from '../route.ts';
import { parseXml, xmlDocument, type XmlNode } from '../xml.ts';
import { bucketOf, keyOf, partNumberParam, type Handler, type S3Context } from './context.ts';

/** Starts reading the body: answers `Expect: 100-continue` only now that the request is accepted. */
export function startBody(ctx: S3Context): void {
  ctx.bodyStarted = true;
  if (/100-continue/i.test(String(ctx.req.headers.expect ?? ''))) ctx.res.writeContinue();
}

export function checksumHeaders(checksums: Checksums): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [alg, v] of Object.entries(checksums)) if (v) out[checksumHeaderName(alg as keyof Checksums)] = v;
  return out;
}

export const putObject: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  validateKey(key);
  const headers = objectHeadersFromRequest(ctx.req.headers);
  const conditions = writeConditions(ctx.req.headers);
  const { body, size, checksums } = decodeBody(ctx.req, ctx.auth, ctx.idleTimeoutMs);
  startBody(ctx);
  const r = await ctx.store.putObject(bucket, key, { body, size, headers, checksums, conditions, integrity: upstreamIntegrity(ctx) });
  sendEmpty(ctx.res, 200, { etag: quoteEtag(r.etag), ...checksumHeaders(r.checksums) });
};

/**
 * The digests the client declared up front (Content-MD5, an x-amz-checksum-* header), for a
 * remote backend to verify as well (PutInput.integrity, read by backends/s3). We verify them
 * too; a checksum sent as a trailer is forwarded as a trailer with the value we computed.
 */
export function upstreamIntegrity(ctx: S3Context): UpstreamIntegrity | undefined {
  const h = ctx.req.headers;
  if (h['content-md5'] === undefined && h['x-amz-trailer'] === undefined && !Object.keys(h).some((k) => k.startsWith('x-amz-checksum-'))) return undefined;
  const i = parseIntegrityHeaders(h);
  // A trailer-borne checksum has no value yet: the backend sends the one we compute as a trailer.
  const checksum = i.expect ? { alg: i.expect.alg, value: i.expect.value } : undefined;
  return i.contentMd5 || checksum ? { contentMd5: i.contentMd5, checksum } : undefined;
}

/** A single `bytes=` range; anything else (multiple ranges, other units, garbage) is ignored as S3 does. */
export function parseRange(h: string | undefined): RangeSpec | undefined {
  if (!h) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(h.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') return { suffix: Number(m[2]) };
  const start = Number(m[1]);
  if (m[2] === '') return { start };
  const end = Number(m[2]);
  return end < start ? undefined : { start, end };
}

function representation(ctx: S3Context, meta: ObjectMeta, ranged: boolean): OutgoingHttpHeaders {
  const h = objectResponseHeaders(meta, ctx.target.query);
  // Whole-object checksums only on full reads that asked for them: on a 206 the SDK would
  // validate the part against the whole-object digest and fail.
  if (!ranged && String(ctx.req.headers['x-amz-checksum-mode'] ?? '').toUpperCase() === 'ENABLED') {
    Object.assign(h, checksumHeaders(meta.checksums));
    if (Object.keys(meta.checksums).length) h['x-amz-checksum-type'] = meta.checksumType ?? 'FULL_OBJECT';
  }
  return h;
}

async function getOrHead(ctx: S3Context, head: boolean): Promise<void> {
  const bucket = bucketOf(ctx);
  const key = keyOf(ctx);
  const partParam = param(ctx.target, 'partNumber');
  const partNumber = partParam === undefined ? undefined : partNumberParam(partParam);
  const range = parseRange(ctx.req.headers.range);
  if (partNumber !== undefined && ctx.req.headers.range !== undefined) throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
  if (ctx.redirect && partNumber === undefined) {
    const location = await ctx.redirect(bucket, key, head ? 'HEAD' : 'GET', [...ctx.target.query]);
    if (location) {
      sendEmpty(ctx.res, 307, { location: location.href });
      return;
    }
  }
  const r = await ctx.store.getObject(bucket, key, { range, partNumber, conditions: readConditions(ctx.req.headers), head });
  const h = representation(ctx, r.meta, r.range !== undefined);
  let status = 200;
  if (r.range) {
    status = 206;
    h['content-range'] = `bytes ${r.range.start}-${r.range.end}/${r.meta.size}`;
    h['content-length'] = r.range.end - r.range.start + 1;
  } else {
    h['content-length'] = r.meta.size;
  }
  if (head || !r.body) {
    abandon(r.body);
    ctx.res.writeHead(status, h).end();
    return;
  }
  await sendBody(ctx, r.body, status, h);
}

/** Streams a GET body; a client that stops reading ends the request, it is not a gateway error. */
async function sendBody(ctx: S3Context, body: Readable, status: number, h: OutgoingHttpHeaders): Promise<void> {
  let sending = false;
  try {
    const stage = ctx.faults ? await ctx.faults.wrapBody(status, h) : undefined;
    ctx.res.writeHead(status, h);
    sending = true;
    // No fault needs the bytes: a relay body writes its read buffers into the response itself.
    if (stage) await pipeline(body, stage, ctx.res);
    else if (isRelayable(body)) await body.relayTo(ctx.res);
    else await pipeline(body, ctx.res);
  } catch (e) {
    abandon(body);
    if (sending && clientGone(ctx, e)) return;
    throw e;
  }
}

/** How a write to a client that left fails: ECANCELED when the write was still queued (a client that stopped reading). */
const GONE_CODES = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ECANCELED']);

function clientGone(ctx: S3Context, e: unknown): boolean {
  // A queued write fails as the socket is destroyed, before the response hears of the close.
  const closed = ctx.res.destroyed || ctx.res.socket?.destroyed === true;
  return closed && !ctx.res.writableFinished && GONE_CODES.has(String((e as { code?: unknown }).code));
}

export const getObject: Handler = (ctx) => getOrHead(ctx, false);
export const headObject: Handler = (ctx) => getOrHead(ctx, true);

export const deleteObject: Handler = async (ctx) => {
  await ctx.store.deleteObject(bucketOf(ctx), keyOf(ctx));
  sendEmpty(ctx.res, 204);
};

function asArray(v: unknown): Record<string, unknown>[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]) as Record<string, unknown>[];
}

/** Keys of one DeleteObjects request deleted at once. */
export const DELETE_CONCURRENCY = 16;

export const deleteObjects: Handler = async (ctx) => {
  const bucket = bucketOf(ctx);
  startBody(ctx);
  const doc = parseXml(await readSmallBody(ctx.req, ctx.auth, ctx.idleTimeoutMs), 'Delete');
  const objects = asArray(doc.Object);
  if (objects.length === 0 || objects.length > 1000) throw new S3Error('MalformedXML', 'A Delete request must name between 1 and 1000 objects.');
  const quiet = String(doc.Quiet ?? '').trim().toLowerCase() === 'true';
  await ctx.store.headBucket(bucket);
  for (const o of objects) {
    if (typeof o.Key !== 'string' || o.Key === '') throw new S3Error('MalformedXML', 'Every Object in a Delete request needs a Key.');
  }
  // Up to DELETE_CONCURRENCY at a time: one after the other, 1000 keys on a remote backend took
  // longer than the client waits (s3-tests' cleanup timed out on virtual buckets over MinIO).
  const outcomes: ({ ok: XmlNode } | { err: XmlNode })[] = new Array(objects.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < objects.length; i = next++) {
      const key = objects[i]!.Key as string;
      const versionId = typeof objects[i]!.VersionId === 'string' ? (objects[i]!.VersionId as string).trim() : undefined;
      try {
        validateKey(key);
        if (versionId && versionId !== 'null') throw new S3Error('NoSuchVersion');
        await ctx.store.deleteObject(bucket, key);
        outcomes[i] = { ok: { Key: key, VersionId: versionId || undefined } };
      } catch (e) {
        const err = isS3Error(e) ? e : new S3Error('InternalError', undefined, { cause: e });
        outcomes[i] = { err: { Key: key, VersionId: versionId || undefined, Code: err.code, Message: err.message } };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, objects.length) }, worker));
  const deleted = quiet ? [] : outcomes.flatMap((o) => ('ok' in o ? [o.ok] : []));
  const errors = outcomes.flatMap((o) => ('err' in o ? [o.err] : []));
  sendXml(ctx.res, 200, xmlDocument('DeleteResult', { Deleted: deleted, Error: errors }));
};

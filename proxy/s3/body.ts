// Request bodies: the decoded, verified byte stream of a PUT (aws-chunked framing removed, every
// digest the client sent checked before the stream ends), and small XML bodies read whole.
import type { IncomingMessage } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import type { AuthResult } from '../auth/sigv4.ts';
import { ChunkParser, createChunkDecoder, type ChunkDecoderOptions, type ChunkMode } from '../auth/chunked.ts';
import { BodyTally, createBodyVerifier, parseIntegrityHeaders, type BodyVerifierOptions } from '../auth/verify-body.ts';
import { canTakeOver } from '../relay/takeover.ts';
import { RAW_MIN, RawBody } from './raw-body.ts';
import { WHOLE_MAX, WholeBody } from './whole-body.ts';
import type { Checksums } from '../store/types.ts';
import { S3Error } from './errors.ts';

export const MAX_PUT_SIZE = 5 * 1024 ** 3;
const MAX_XML_BODY = 2 * 1024 * 1024;

export interface DecodedBody {
  body: Readable;
  size: number;
  checksums: Checksums;
}

function declaredLength(req: IncomingMessage, header: string): number {
  const v = req.headers[header];
  if (v === undefined) throw new S3Error('MissingContentLength');
  const s = Array.isArray(v) ? v[0]! : v;
  if (!/^\d{1,15}$/.test(s)) throw new S3Error('InvalidArgument', `Invalid ${header}: ${s}`);
  return Number(s);
}

/** An aws-chunked body's length on the wire: its Content-Length, undefined under chunked transfer. */
function framedLength(req: IncomingMessage): number | undefined {
  if (req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] === undefined) return undefined;
  return declaredLength(req, 'content-length');
}

/**
 * Builds the verified body stream. Errors (bad digest, short body, bad chunk signature, client
 * gone, idle timeout) destroy the returned stream with an S3Error instead of ending it, so a
 * store never commits a body that is not exactly what the client signed and declared.
 */
export function decodeBody(req: IncomingMessage, auth: AuthResult, idleTimeoutMs: number, maxSize = MAX_PUT_SIZE, integrityHeaders: IncomingMessage['headers'] = req.headers): DecodedBody {
  const mode = auth.payloadHash;
  const streaming = mode.startsWith('STREAMING-');
  if (streaming && mode !== 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' && mode !== 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' &&
      mode !== 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER') {
    throw new S3Error('NotImplemented', `x-amz-content-sha256 mode ${mode} is not supported.`);
  }
  const size = streaming ? declaredLength(req, 'x-amz-decoded-content-length') : declaredLength(req, 'content-length');
  if (size > maxSize) throw new S3Error('EntityTooLarge', undefined, { details: { ProposedSize: size, MaxSizeAllowed: maxSize } });

  const integrity = parseIntegrityHeaders(integrityHeaders);
  const checksums: Checksums = {};
  let trailers: Record<string, string> = {};
  const verify: BodyVerifierOptions = {
    expectedSize: size,
    contentMd5: integrity.contentMd5,
    sha256Hex: /^[0-9a-f]{64}$/i.test(mode) ? mode.toLowerCase() : undefined,
    checksums,
    expect: integrity.expect,
    trailerValue: () => (integrity.expect ? trailers[`x-amz-checksum-${integrity.expect.alg}`] : undefined),
  };
  const chunks: ChunkDecoderOptions | undefined = streaming ? {
    mode: mode as ChunkMode,
    auth: auth.version === 4 ? auth : undefined,
    trailerNames: integrity.trailerNames,
    onTrailers: (t) => { trailers = t; },
  } : undefined;
  // A small plain body: gathered whole and checked before a byte goes on (whole-body.ts).
  if (!streaming && size <= WHOLE_MAX) return { body: new WholeBody(req, new BodyTally(verify), idleTimeoutMs), size, checksums };
  // A large body framed by a Content-Length (plain or aws-chunked; not chunked transfer) on a
  // plain-TCP connection: moved without per-chunk streams when its store can (raw-body.ts).
  const wire = streaming ? framedLength(req) : size;
  if (wire !== undefined && wire >= RAW_MIN) {
    // The request record's byte counter set the body flowing: hold it until the store takes it.
    req.pause();
    if (canTakeOver(req)) return { body: new RawBody(req, new BodyTally(verify), wire, idleTimeoutMs, chunks && new ChunkParser(chunks)), size, checksums };
    req.resume();
  }
  const verifier = createBodyVerifier(verify);
  const stages: (NodeJS.ReadableStream | NodeJS.WritableStream)[] = [req];
  if (chunks) stages.push(createChunkDecoder(chunks));
  stages.push(verifier);
  // A client that stops sending mid-body gets RequestTimeout, as from S3, instead of a hung socket.
  req.setTimeout(idleTimeoutMs, () => verifier.destroy(new S3Error('RequestTimeout')));
  req.once('end', () => req.setTimeout(0));
  pipeline(stages as never as [Readable, ...NodeJS.WritableStream[]], (err) => {
    if (err && !verifier.destroyed) verifier.destroy(err instanceof S3Error ? err : new S3Error('IncompleteBody', undefined, { cause: err }));
  });
  return { body: verifier, size, checksums };
}

/** A refused oversized document is read and discarded up to this size, so the client reads the error instead of a reset. */
const MAX_DRAIN = 1024 ** 3;

/**
 * Reads a small request document (Complete, DeleteObjects) through the same verification.
 * `objectChecksum`: an x-amz-checksum-* header is the checksum of the object being completed,
 * not of this document (CompleteMultipartUpload), and is left to the caller.
 */
export async function readSmallBody(req: IncomingMessage, auth: AuthResult, idleTimeoutMs: number, opts: { objectChecksum?: boolean } = {}): Promise<string> {
  const declared = Number(req.headers['x-amz-decoded-content-length'] ?? req.headers['content-length']);
  if (declared > MAX_XML_BODY) {
    const e = new S3Error('MaxMessageLengthExceeded', `Your request was too big: XML documents are limited to ${MAX_XML_BODY} bytes.`);
    const length = Number(req.headers['content-length']);
    throw Object.assign(e, { drainBody: Number.isFinite(length) && length <= MAX_DRAIN });
  }
  const headers = opts.objectChecksum
    ? Object.fromEntries(Object.entries(req.headers).filter(([h]) => !h.startsWith('x-amz-checksum-') || h === 'x-amz-checksum-algorithm' || h === 'x-amz-checksum-type'))
    : req.headers;
  const { body } = decodeBody(req, auth, idleTimeoutMs, MAX_XML_BODY, headers);
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

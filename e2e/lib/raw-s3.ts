// Hand-built S3 requests over node:http, signed with the gateway's own SigV4 code: the request
// target is sent and signed byte for byte as given (no URL normalisation), so tests can send what
// SDKs never would — `..` segments, control characters, tampered chunk signatures, short bodies.
import { createHash } from 'node:crypto';
import { Agent, IncomingMessage, request, type IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { signRequest, encodeS3Path, type Credentials } from '../../proxy/auth/sigv4.ts';
import { deriveSigningKey } from '../../proxy/auth/signing-key.ts';
import { EMPTY_SHA256, hmac, sha256Hex } from '../../proxy/auth/canonical.ts';

export const REGION = 'us-east-1';

export interface RawRequest {
  method: string;
  /** Request path, already percent-encoded; sent and signed verbatim. */
  path: string;
  /** Raw query string without '?'. */
  query?: string;
  headers?: Record<string, string>;
  body?: Buffer | string | Readable;
  /** x-amz-content-sha256: default the body's hex SHA-256 (Buffer/string) or UNSIGNED-PAYLOAD (stream). */
  payloadHash?: string;
  /** Signing credentials; omit to send the request unsigned. */
  creds?: Credentials;
  /** The signer's clock (for skew tests). */
  now?: Date;
  agent?: Agent | false;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** `/bucket/key` with the key encoded as SDKs encode it. */
export function objectPath(bucket: string, key: string): string {
  return `/${bucket}/${encodeS3Path(key)}`;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function md5(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

/** The signed headers for `req` against `base` (host taken from it). */
export function signHeaders(base: URL, req: RawRequest & { creds: Credentials }): Record<string, string> {
  const payloadHash = req.payloadHash ?? (req.body === undefined ? EMPTY_SHA256 : req.body instanceof Readable ? 'UNSIGNED-PAYLOAD' : sha256(req.body));
  // signRequest reads host, pathname and search only; a plain object keeps the path un-normalised.
  const target = { host: base.host, pathname: req.path, search: req.query ? `?${req.query}` : '' } as unknown as URL;
  return signRequest({ method: req.method, url: target, headers: req.headers ?? {}, payloadHash }, req.creds, REGION, req.now);
}

/** Sends the request and resolves with the response once its headers arrive (body unread). */
export function openRequest(baseUrl: string, req: RawRequest): Promise<IncomingMessage> {
  const base = new URL(baseUrl);
  const headers = req.creds ? signHeaders(base, { ...req, creds: req.creds }) : { ...req.headers };
  if (typeof req.body === 'string' || Buffer.isBuffer(req.body)) {
    headers['content-length'] ??= String(Buffer.byteLength(req.body));
  }
  return new Promise((resolve, reject) => {
    const r = request({
      host: base.hostname, port: base.port, method: req.method, path: req.path + (req.query ? `?${req.query}` : ''),
      headers, agent: req.agent ?? false, setHost: !headers.host,
    }, resolve);
    r.once('error', reject);
    if (req.body instanceof Readable) {
      req.body.once('error', (e) => r.destroy(e));
      req.body.pipe(r);
    } else r.end(req.body);
  });
}

export async function readBody(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Sends the request and reads the whole (small) response. */
export async function rawRequest(baseUrl: string, req: RawRequest): Promise<RawResponse> {
  const res = await openRequest(baseUrl, req);
  return { status: res.statusCode!, headers: res.headers, body: await readBody(res) };
}

/** The <Code> of an S3 XML error body, or undefined. */
export function errorCode(body: Buffer | string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(body.toString())?.[1];
}

export function xmlField(body: Buffer | string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(body.toString())?.[1];
}

/**
 * Frames `chunks` as a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body chained from the seed signature in
 * `authorization` (as signRequest produced it). Returns the frames so a test can tamper with one.
 * With `trailers`, the last frame carries them and their x-amz-trailer-signature (the -TRAILER mode).
 */
export function signedChunks(authorization: string, amzDate: string, creds: Credentials, chunks: readonly Buffer[], trailers?: Record<string, string>): Buffer[] {
  const m = /Signature=([0-9a-f]{64})/.exec(authorization);
  if (!m) throw new Error('no seed signature in authorization header');
  const scope = `${amzDate.slice(0, 8)}/${REGION}/s3/aws4_request`;
  const key = deriveSigningKey(creds.secretAccessKey, amzDate.slice(0, 8), REGION);
  let prev = m[1]!;
  const frames: Buffer[] = [];
  for (const data of [...chunks, Buffer.alloc(0)]) {
    prev = hmac(key, `AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n${prev}\n${EMPTY_SHA256}\n${sha256Hex(data)}`).toString('hex');
    const tail = data.length === 0 && trailers ? '' : '\r\n';
    frames.push(Buffer.concat([Buffer.from(`${data.length.toString(16)};chunk-signature=${prev}\r\n`), data, Buffer.from(tail)]));
  }
  if (trailers) {
    const lines = Object.keys(trailers).sort().map((k) => `${k}:${trailers[k]}\n`).join('');
    const sig = hmac(key, `AWS4-HMAC-SHA256-TRAILER\n${amzDate}\n${scope}\n${prev}\n${sha256Hex(lines)}`).toString('hex');
    const wire = Object.entries(trailers).map(([k, v]) => `${k}:${v}\r\n`).join('');
    frames.push(Buffer.from(`${wire}x-amz-trailer-signature:${sig}\r\n\r\n`));
  }
  return frames;
}

/** Length of the framed body for decoded chunks of these sizes (signed framing). */
export function signedChunkedLength(sizes: readonly number[]): number {
  return [...sizes, 0].reduce((n, s) => n + s.toString(16).length + ';chunk-signature='.length + 64 + 2 + s + 2, 0);
}

/** Under this many body bytes handed over by node's parser, a PUT took the raw path (the socket was taken over). */
export const RAW_EARLY = 1024 * 1024;

/**
 * Counts the body bytes node's HTTP parser pushes into each PUT request stream of this process,
 * by path (no query), until `restore()`: a PUT that took the raw path shows far fewer than its body.
 */
export function countParsedPutBytes(): { of(bucket: string, key: string): number; restore(): void } {
  const parsed = new Map<string, number>();
  const push = IncomingMessage.prototype.push;
  IncomingMessage.prototype.push = function (this: IncomingMessage, chunk: unknown, ...rest: unknown[]) {
    const path = this.url?.split('?')[0];
    if (this.method === 'PUT' && path && chunk) parsed.set(path, (parsed.get(path) ?? 0) + (chunk as Buffer).length);
    return (push as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof push;
  return {
    of: (bucket, key) => parsed.get(objectPath(bucket, key)) ?? 0,
    restore: () => { IncomingMessage.prototype.push = push; },
  };
}

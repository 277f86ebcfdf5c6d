// Forwarding one request to the upstream S3 endpoint, streamed both ways. Signatures stay valid
// because nothing the client signed changes: the raw request target, the Host header and every
// end-to-end header go upstream as received. Only hop-by-hop headers are dropped (RFC 9110 §7.6.1)
// and `Expect` (Node already answered 100-continue; SigV4 never signs it).
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { RelayPool } from '../../proxy/relay/client.ts';
import { canTakeOver } from '../../proxy/relay/takeover.ts';
import { BodyTally } from '../../proxy/auth/verify-body.ts';
import { RAW_MIN, RawBody } from '../../proxy/s3/raw-body.ts';

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'upgrade', 'trailer', 'expect', 'proxy-authorization', 'proxy-authenticate']);

const NO_NAMES: ReadonlySet<string> = new Set();

/** Header names a Connection header lists (hop-by-hop too); usually none, without allocating. */
function connectionListed(v: string | string[] | undefined): ReadonlySet<string> {
  if (v === undefined) return NO_NAMES;
  const s = String(v).toLowerCase();
  if (s === 'keep-alive' || s === 'close') return NO_NAMES;
  return new Set(s.split(',').map((x) => x.trim()).filter(Boolean));
}

export function requestHeaders(req: IncomingMessage): string[] {
  const listed = connectionListed(req.headers.connection);
  const out: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP.has(name) || listed.has(name)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}

export function responseHeaders(h: Dispatcher.ResponseData['headers']): OutgoingHttpHeaders {
  const listed = connectionListed(h.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || HOP.has(k) || listed.has(k)) continue;
    out[k] = v;
  }
  return out;
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

export interface ForwardHooks {
  /** Called with the upstream status and (mutable) headers; returns a stage for the body. */
  wrapBody?: (status: number, headers: OutgoingHttpHeaders) => Promise<Duplex | undefined>;
  /** Request headers to send instead of the client's (lower-case names): the trace context of our span. */
  replaceHeaders?: Record<string, string>;
}

function replaced(headers: string[], with_: Record<string, string> | undefined): string[] {
  if (!with_) return headers;
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (!(headers[i]!.toLowerCase() in with_)) out.push(headers[i]!, headers[i + 1]!);
  for (const [k, v] of Object.entries(with_)) out.push(k, v);
  return out;
}

/**
 * Where requests go: undici for everything, the relay pool (http upstreams) for bodiless GET and
 * HEAD and for large PUT bodies taken off node's parser.
 */
export interface Upstreams {
  pool: Dispatcher;
  relay?: RelayPool;
}

/**
 * A PUT body the relay pool can move raw (s3/raw-body.ts): framed by a Content-Length of at least
 * RAW_MIN (not `transfer-encoding: chunked`), on a socket that can be taken over. aws-chunked
 * bodies with a Content-Length qualify too: the sidecar forwards the framing, it never decodes it.
 * Digests and signatures are the upstream's to check; only the length is kept to. The answer
 * then closes the connection, as the gateway's does.
 */
function rawPutBody(req: IncomingMessage): RawBody | undefined {
  const length = req.headers['content-length'];
  if (req.method !== 'PUT' || req.headers['transfer-encoding'] !== undefined || length === undefined || !/^\d{1,15}$/.test(length)) return undefined;
  const size = Number(length);
  if (size < RAW_MIN || !canTakeOver(req)) return undefined;
  return new RawBody(req, new BodyTally({ expectedSize: size, checksums: {} }), size, 0);
}

/**
 * Sends `req` upstream and streams the answer into `res`. Rejects only before headers: on upstream
 * failure, or with the body's S3 error when a raw body fails (the client went away or sent short).
 */
export async function forward(upstreams: Upstreams, req: IncomingMessage, res: ServerResponse, hooks: ForwardHooks = {}): Promise<void> {
  const upstream = upstreams.pool;
  const abort = new AbortController();
  const onClose = () => { if (!res.writableFinished) abort.abort(new Error('client went away')); };
  res.once('close', onClose);
  const opts = {
    method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
    path: req.url ?? '/',
    headers: replaced(requestHeaders(req), hooks.replaceHeaders),
    body: hasBody(req) ? req : null,
    signal: abort.signal,
  };
  const bodiless = (opts.method === 'GET' || opts.method === 'HEAD') && opts.body === null;
  const raw = !hooks.wrapBody && upstreams.relay && !bodiless ? rawPutBody(req) : undefined;
  if (!hooks.wrapBody && upstreams.relay && (bodiless || raw)) {
    // Fast path with no fault on the request: the relay pool's read buffers go straight into the
    // response, and a raw PUT body from one reused buffer straight into the upstream socket.
    const up = await upstreams.relay.request({ method: opts.method as 'GET' | 'HEAD' | 'PUT', path: opts.path, headers: opts.headers, body: raw, signal: abort.signal });
    if (res.destroyed) {
      up.body.destroy();
      return;
    }
    res.writeHead(up.statusCode, responseHeaders(up.headers));
    try {
      await up.body.relayTo(res);
    } catch {
      res.destroy(); // mid-body failure or a client that left: the client must see a broken response
    }
    return;
  }
  if (!hooks.wrapBody) {
    // No fault on this request: undici writes the body straight into the response.
    let started = false;
    try {
      await upstream.stream(opts, ({ statusCode, headers }) => {
        started = true;
        res.writeHead(statusCode, responseHeaders(headers));
        return res;
      });
    } catch (e) {
      if (!started) throw e;
      res.destroy(); // mid-body failure: the client must see a broken response, not a short one
    }
    return;
  }
  const up = await upstream.request(opts);
  const headers = responseHeaders(up.headers);
  const stage = await hooks.wrapBody(up.statusCode, headers);
  if (res.destroyed) {
    up.body.destroy();
    return;
  }
  res.writeHead(up.statusCode, headers);
  try {
    if (stage) await pipeline(up.body, stage, res);
    else await pipeline(up.body, res);
  } catch {
    // A client that left, or a fault that cut the connection: nothing more to send.
    up.body.destroy();
  }
}

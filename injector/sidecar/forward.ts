// Forwarding one request to the upstream S3 endpoint, streamed both ways. Signatures stay valid
// because nothing the client signed changes: the raw request target, the Host header and every
// end-to-end header go upstream as received. Only hop-by-hop headers are dropped (RFC 9110 §7.6.1)
// and `Expect` (Node already answered 100-continue; SigV4 never signs it).
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { RelayPool } from '../../proxy/relay/client.ts';

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

/** Where requests go: undici for everything, the relay pool (http upstreams) for bodiless GET and HEAD. */
export interface Upstreams {
  pool: Dispatcher;
  relay?: RelayPool;
}

/** Sends `req` upstream and streams the answer into `res`. Rejects only on upstream failure before headers. */
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
  if (!hooks.wrapBody && upstreams.relay && (opts.method === 'GET' || opts.method === 'HEAD') && opts.body === null) {
    // Fast path for downloads: the relay pool's read buffers go straight into the response.
    const up = await upstreams.relay.request({ method: opts.method as 'GET' | 'HEAD', path: opts.path, headers: opts.headers, signal: abort.signal });
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

// The upstream HTTP side of a remote S3 backend: one undici Pool per origin with keep-alive,
// every request signed with our own SigV4 signer, idempotent requests retried on connection
// errors with exponential backoff. Timeouts are per phase (connect, first byte, idle gaps in the
// body), never for the whole request: a 10 GiB transfer is fine as long as bytes keep moving.
import { Pool } from 'undici';
import type { Readable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import { createRelayPool, type RelayPool } from '../../relay/client.ts';
import { encodeS3Path } from '../../auth/canonical.ts';
import { signRequest, type Credentials } from '../../auth/sign.ts';
import { observeBackendCall } from '../../observability/backend-calls.ts';

export interface S3EndpointOptions {
  /** For error messages and metrics: the backend's configured name. */
  name: string;
  /** http(s)://host[:port], no path. */
  endpoint: string;
  region: string;
  credentials: Credentials;
  /** true: http://host/bucket/key; false: http://bucket.host/key. */
  pathStyle: boolean;
  connectTimeoutMs?: number;
  /** Until the response headers arrive (covers a slow backend and an unread request body). */
  firstByteTimeoutMs?: number;
  /** Longest silence between two body chunks, either direction. */
  idleTimeoutMs?: number;
  connections?: number;
  /** Extra attempts for idempotent requests failing at the connection level. */
  retries?: number;
  retryBaseMs?: number;
}

export interface UpstreamRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  bucket?: string;
  key?: string;
  /** Already-ordered pairs; values are encoded here. */
  query?: [string, string][];
  headers?: Record<string, string>;
  body?: Readable | string | Buffer;
  /** hex SHA-256 of a Buffer/string body, else UNSIGNED-PAYLOAD. */
  payloadHash?: string;
  signal?: AbortSignal;
  /** Safe to send again after a connection error (a stream body never is). */
  idempotent?: boolean;
  /**
   * The response body passes through to a client (object GETs): on an http endpoint it comes
   * over the relay pool (relay/client.ts), whose bodies can be written straight into a response.
   * Also for an object DELETE (an overwrite's old copy, in the background after every such PUT):
   * the relay's connections are warm from the PUTs and it costs less per request than undici.
   */
  relay?: boolean;
}

/** What send() resolves with: undici's response, or the relay pool's. */
export interface UpstreamResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: Readable & { text(): Promise<string>; dump(): Promise<void> };
}

export interface Target {
  origin: string;
  host: string;
  pathname: string;
  search: string;
}

export interface S3Http {
  readonly options: Required<S3EndpointOptions>;
  send(req: UpstreamRequest): Promise<UpstreamResponse>;
  /** Where a request goes: path and query exactly as sent and signed. */
  target(bucket: string | undefined, key: string | undefined, query?: [string, string][]): Target;
  close(): Promise<void>;
}

const DEFAULTS = {
  connectTimeoutMs: 5_000, firstByteTimeoutMs: 60_000, idleTimeoutMs: 60_000, connections: 128, retries: 3, retryBaseMs: 50,
};

/** Connection-level failures: the request never reached the backend's S3 layer, or the socket died. */
const RETRYABLE = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_CLOSED',
]);

export function isConnectionError(e: unknown): boolean {
  for (let c: unknown = e, depth = 0; c && depth < 4; c = (c as { cause?: unknown }).cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string' && RETRYABLE.has(code)) return true;
  }
  return false;
}

function encodeQuery(query: [string, string][] | undefined): string {
  if (!query?.length) return '';
  const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
  return '?' + query.map(([k, v]) => (v === '' && (k === 'uploads' || k === 'delete') ? enc(k) : `${enc(k)}=${enc(v)}`)).join('&');
}

export function createS3Http(opts: S3EndpointOptions): S3Http {
  const options: Required<S3EndpointOptions> = { ...DEFAULTS, ...opts };
  const base = new URL(options.endpoint);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error(`backend ${options.name}: endpoint must be http(s), got ${base.protocol}`);
  if (base.username || base.password) throw new Error(`backend ${options.name}: endpoint must not contain user info (user:password@); credentials have their own fields`);
  const pools = new Map<string, Pool>();
  const relays = new Map<string, RelayPool>();

  function relayPool(origin: string): RelayPool {
    let p = relays.get(origin);
    if (!p) {
      p = createRelayPool(origin, {
        connectTimeoutMs: options.connectTimeoutMs, headersTimeoutMs: options.firstByteTimeoutMs, bodyTimeoutMs: options.idleTimeoutMs,
        keepAliveMs: 4_000, maxIdle: options.connections,
      });
      relays.set(origin, p);
    }
    return p;
  }

  function pool(origin: string): Pool {
    let p = pools.get(origin);
    if (!p) {
      p = new Pool(origin, {
        connections: options.connections,
        connectTimeout: options.connectTimeoutMs,
        headersTimeout: options.firstByteTimeoutMs,
        bodyTimeout: options.idleTimeoutMs,
        keepAliveTimeout: 4_000,
        pipelining: 1,
      });
      pools.set(origin, p);
    }
    return p;
  }

  // Built by hand, not with URL: the WHATWG parser resolves '.', '..' and '%2e' segments, which
  // would turn the namespaced key "vb/../x" into "x" on the backend.
  function target(bucket: string | undefined, key: string | undefined, query?: [string, string][]): Target {
    const keyPath = key === undefined ? '' : encodeS3Path(key);
    let host = base.host;
    let pathname: string;
    if (bucket === undefined) pathname = '/';
    else if (options.pathStyle) pathname = `/${bucket}/${keyPath}`;
    else {
      host = `${bucket}.${base.host}`;
      pathname = `/${keyPath}`;
    }
    return { origin: `${base.protocol}//${host}`, host, pathname, search: encodeQuery(query) };
  }

  async function once(req: UpstreamRequest): Promise<UpstreamResponse> {
    const u = target(req.bucket, req.key, req.query);
    // signRequest reads only host, pathname and search.
    const headers = signRequest({ method: req.method, url: u as unknown as URL, headers: req.headers ?? {}, payloadHash: req.payloadHash ?? 'UNSIGNED-PAYLOAD' }, options.credentials, options.region);
    const call = { backend: options.name, method: req.method, bucket: req.bucket, key: req.key, query: req.query?.map(([k]) => k) };
    if (req.relay && (req.method === 'GET' || req.method === 'DELETE') && req.body === undefined && base.protocol === 'http:') {
      return observeBackendCall(call, headers, () => relayPool(u.origin).request({ method: req.method as 'GET' | 'DELETE', path: u.pathname + u.search, headers, signal: req.signal }));
    }
    // Uploads (PutObject, UploadPart) too: no undici request-body machinery, and a raw client body
    // (s3/raw-body.ts) is written from its own buffer straight into the relay's socket.
    if (req.method === 'PUT' && typeof req.body === 'object' && !Buffer.isBuffer(req.body) && base.protocol === 'http:') {
      const body = req.body;
      return observeBackendCall(call, headers, () => relayPool(u.origin).request({ method: 'PUT', path: u.pathname + u.search, headers, body, signal: req.signal }));
    }
    return observeBackendCall(call, headers, () => pool(u.origin).request({
      // The pathname as built is already in canonical encoded form: send exactly what was signed.
      path: u.pathname + u.search,
      method: req.method,
      headers,
      body: req.body ?? null,
      signal: req.signal,
      idempotent: req.idempotent ?? (req.method === 'GET' || req.method === 'HEAD'),
    }));
  }

  return {
    options,
    target,
    async send(req) {
      const retries = req.idempotent === false || req.body !== undefined && typeof req.body === 'object' && !Buffer.isBuffer(req.body) ? 0 : options.retries;
      for (let attempt = 0; ; attempt++) {
        try {
          return await once(req);
        } catch (e) {
          if (attempt >= retries || !isConnectionError(e) || req.signal?.aborted) throw e;
          const delay = options.retryBaseMs * 2 ** attempt * (0.5 + Math.random() / 2);
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    },
    async close() {
      // Graceful first; a stream nobody finishes reading must not hold shutdown forever.
      await Promise.all([...pools.values()].map(async (p) => {
        const timer = setTimeout(() => void p.destroy().catch(() => {}), 2_000);
        await p.close().catch(() => {});
        clearTimeout(timer);
      }, ...[...relays.values()].map((p) => p.close())));
      pools.clear();
      relays.clear();
    },
  };
}

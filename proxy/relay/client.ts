// A minimal HTTP/1.1 client for body-carrying responses that only pass through us (object GETs
// to a backend, the sidecar's pass-through). Each upstream socket reads into one buffer of its
// own (net's `onread`), so moving a body allocates nothing per read: with undici and node's
// streams every read is a new ArrayBuffer, and the external memory they add up to makes
// V8 run a full mark-compact about every 64 MiB — most of the gateway's CPU on large GETs
// (docs/performance.md). RelayBody.relayTo() writes those buffers straight into the client's
// response; read as a stream instead, the body hands out copies.
// Request bodies (uploads) are written into the socket as they come; a Pumpable body (a client's
// PUT body taken off node's parser, s3/raw-body.ts) writes itself from its own reused buffer.
// Keep-alive connections, one request at a time on each.
import net from 'node:net';
import { finished, type Readable } from 'node:stream';
import type { IncomingHttpHeaders } from 'node:http';
import { MAX_HEAD, ProtocolError, framingOf, parseHead } from './head.ts';
import { RelayBody } from './body.ts';

export { RelayBody, isRelayable } from './body.ts';

export interface RelayPoolOptions {
  connectTimeoutMs: number;
  /** Until the response head is complete. */
  headersTimeoutMs: number;
  /** Longest silence while a body arrives. */
  bodyTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  keepAliveMs?: number;
  maxIdle?: number;
}

export interface RelayRequest {
  method: 'GET' | 'HEAD' | 'DELETE' | 'OPTIONS' | 'PUT';
  /** Path and query exactly as sent. */
  path: string;
  /** A header object, or name/value pairs in order (raw headers); must include Host. */
  headers: Record<string, string> | readonly string[];
  /** Sent after the head; its length must be the content-length among `headers`. */
  body?: Readable;
  signal?: AbortSignal;
}

/** A body that moves itself into the upstream socket (s3/raw-body.ts). */
export interface Pumpable {
  /** False: read it as a stream instead. */
  pumpable(): boolean;
  /** Resolves once the last byte is written into `dest`; on failure, destroys `dest` and rejects. */
  pumpTo(dest: net.Socket): Promise<void>;
}

function isPumpable(body: unknown): body is Pumpable {
  return typeof (body as Partial<Pumpable>).pumpTo === 'function' && typeof (body as Partial<Pumpable>).pumpable === 'function';
}

export interface RelayResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: RelayBody;
}

export interface RelayPool {
  request(req: RelayRequest): Promise<RelayResponse>;
  close(): Promise<void>;
}

/**
 * Each connection's read buffer. While the client's side holds a write back the kernel queues
 * more than 64 KiB, and each read costs a callback and a write: 256 KiB moved a 64 MiB GET
 * 1.15x faster with 25-30% less CPU than 64 KiB (docs/performance.md, "What was tried").
 */
const SLAB = 256 * 1024;

function codeError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

function headOf(req: RelayRequest): string {
  let s = `${req.method} ${req.path} HTTP/1.1\r\n`;
  const h = req.headers;
  const pairs: readonly string[] = Array.isArray(h) ? h : Object.entries(h).flat();
  for (let i = 0; i < pairs.length; i += 2) {
    const line = `${pairs[i]}: ${pairs[i + 1]}`;
    if (/[\r\n]/.test(line)) throw new TypeError(`header ${pairs[i]} contains CR or LF`);
    s += line + '\r\n';
  }
  return s + '\r\n';
}

/** One request and its response on a connection: the head, then the body's bytes. */
export class Exchange {
  readonly conn: Conn;
  readonly method: string;
  #resolve: (r: RelayResponse) => void;
  #reject: (e: Error) => void;
  #head = '';
  #body: RelayBody | undefined;
  #keepAlive = false;
  #ended = false;
  /** Set while a request body is still being written: the connection is not reusable before it ends. */
  #stopUpload: (() => void) | undefined;

  constructor(conn: Conn, method: string, resolve: (r: RelayResponse) => void, reject: (e: Error) => void) {
    this.conn = conn;
    this.method = method;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** Bytes from the socket; false pauses reading until resume(). */
  onBytes(chunk: Buffer): boolean {
    if (this.#body) return this.#body.feed(chunk);
    const before = this.#head.length;
    this.#head += chunk.toString('latin1');
    for (;;) {
      const end = this.#head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (this.#head.length > MAX_HEAD) this.fail(new ProtocolError('response head from upstream too large'));
        return true;
      }
      const text = this.#head.slice(0, end);
      const rest = chunk.subarray(Math.max(0, end + 4 - before));
      let head;
      let framing;
      try {
        head = parseHead(text);
        framing = framingOf(this.method, head);
      } catch (e) {
        this.fail(e as Error);
        return false;
      }
      // 1xx interim answers (100 Continue) precede the real one.
      if (head.statusCode < 200) {
        this.#head = this.#head.slice(end + 4);
        continue;
      }
      this.#keepAlive = head.keepAlive && framing.kind !== 'close';
      this.conn.socket.setTimeout(this.conn.pool.opts.bodyTimeoutMs);
      const body = new RelayBody(this, framing);
      this.#body = body;
      this.#resolve({ statusCode: head.statusCode, headers: head.headers, body });
      return body.start(rest);
    }
  }

  /** Writes the request body after the head; a failing body fails the exchange. */
  upload(body: Readable): void {
    const socket = this.conn.socket;
    if (isPumpable(body) && body.pumpable()) {
      let live = true;
      this.#stopUpload = () => { live = false; };
      body.pumpTo(socket).then(() => { if (live) this.#stopUpload = undefined; }, (e: Error) => { if (live) this.fail(e); });
      return;
    }
    const onData = (c: Buffer) => { if (!socket.write(c)) body.pause(); };
    const onDrain = () => body.resume();
    const stop = () => {
      body.off('data', onData);
      socket.off('drain', onDrain);
      cleanup();
      this.#stopUpload = undefined;
    };
    this.#stopUpload = stop;
    body.on('data', onData);
    socket.on('drain', onDrain);
    const cleanup = finished(body, { writable: false }, (err) => {
      stop();
      if (err) this.fail(err);
    });
  }

  timedOut(): void {
    this.fail(this.#body ? codeError('body idle timeout', 'UND_ERR_BODY_TIMEOUT') : codeError('headers timeout', 'UND_ERR_HEADERS_TIMEOUT'));
  }

  resume(): void {
    if (!this.conn.socket.destroyed) this.conn.socket.resume();
  }

  /** The body is complete and its bytes no longer referenced: the connection may serve another request. */
  done(cleanEnd: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    this.conn.exchange = undefined;
    // Answered before the whole body went out: the connection is mid-request.
    const uploading = this.#stopUpload !== undefined;
    this.#stopUpload?.();
    if (cleanEnd && this.#keepAlive && !uploading) this.conn.pool.release(this.conn);
    else this.conn.socket.destroy();
  }

  /** The connection failed or was closed by the peer. */
  fail(e: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.conn.exchange = undefined;
    this.#stopUpload?.();
    this.conn.socket.destroy();
    if (this.#body) this.#body.upstreamFailed(e);
    else this.#reject(e);
  }

  /** The peer closed its side: the end of a close-delimited body, else a failure. */
  peerClosed(): void {
    if (this.#body?.closeDelimited()) return;
    this.fail(codeError(this.#body ? 'upstream closed the connection mid-body' : 'upstream closed the connection', 'UND_ERR_SOCKET'));
  }
}

interface Conn {
  socket: net.Socket;
  pool: PoolState;
  exchange: Exchange | undefined;
  idleTimer: NodeJS.Timeout | undefined;
}

interface PoolState {
  opts: Required<RelayPoolOptions>;
  release(conn: Conn): void;
}

export function createRelayPool(origin: string, options: RelayPoolOptions): RelayPool {
  const u = new URL(origin);
  if (u.protocol !== 'http:') throw new Error(`relay pool: http only, got ${u.protocol}`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || 80);
  const opts: Required<RelayPoolOptions> = { keepAliveMs: 4_000, maxIdle: 128, ...options };
  const idle: Conn[] = [];
  const all = new Set<Conn>();
  let closed = false;

  const state: PoolState = {
    opts,
    release(conn) {
      if (closed || idle.length >= opts.maxIdle || conn.socket.destroyed) {
        conn.socket.destroy();
        return;
      }
      conn.socket.setTimeout(0);
      conn.idleTimer = setTimeout(() => conn.socket.destroy(), opts.keepAliveMs).unref();
      idle.push(conn);
    },
  };

  function connect(): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const slab = Buffer.allocUnsafe(SLAB);
      const conn: Conn = { socket: undefined as never, pool: state, exchange: undefined, idleTimer: undefined };
      const socket = net.connect({
        host, port, noDelay: true,
        onread: {
          buffer: slab,
          callback: (n: number, buf: Buffer) => {
            if (conn.exchange) return conn.exchange.onBytes(buf.subarray(0, n));
            socket.destroy(); // bytes nobody asked for: the connection is out of step
            return false;
          },
        },
      });
      conn.socket = socket;
      all.add(conn);
      socket.setTimeout(opts.connectTimeoutMs);
      const onConnectFail = (e: Error) => reject(e);
      socket.once('error', onConnectFail);
      socket.once('connect', () => {
        socket.off('error', onConnectFail);
        socket.on('error', (e) => conn.exchange?.fail(e));
        socket.setTimeout(0);
        resolve(conn);
      });
      socket.on('timeout', () => {
        if (!conn.exchange) {
          socket.destroy(codeError('connect timeout', 'UND_ERR_CONNECT_TIMEOUT'));
          return;
        }
        conn.exchange.timedOut();
      });
      socket.on('end', () => conn.exchange?.peerClosed());
      socket.on('close', () => {
        all.delete(conn);
        clearTimeout(conn.idleTimer);
        const i = idle.indexOf(conn);
        if (i !== -1) idle.splice(i, 1);
        conn.exchange?.peerClosed();
      });
    });
  }

  function take(): Conn | undefined {
    for (let c = idle.pop(); c; c = idle.pop()) {
      clearTimeout(c.idleTimer);
      if (!c.socket.destroyed && c.socket.readyState === 'open') return c;
    }
    return undefined;
  }

  return {
    async request(req) {
      if (closed) throw codeError('relay pool closed', 'UND_ERR_CLOSED');
      req.signal?.throwIfAborted();
      const head = headOf(req);
      const conn = take() ?? await connect();
      // Aborted while connecting: the listener below would never hear of it.
      if (req.signal?.aborted) {
        state.release(conn);
        req.signal.throwIfAborted();
      }
      return new Promise<RelayResponse>((resolve, reject) => {
        const signal = req.signal;
        const onAbort = () => ex.fail(Object.assign(new Error('request aborted'), { name: 'AbortError', code: 'UND_ERR_ABORTED' }));
        const ex = new Exchange(conn, req.method, (r) => { signal?.removeEventListener('abort', onAbort); resolve(r); }, (e) => { signal?.removeEventListener('abort', onAbort); reject(e); });
        signal?.addEventListener('abort', onAbort, { once: true });
        conn.exchange = ex;
        conn.socket.setTimeout(opts.headersTimeoutMs);
        // Corked: a body written at once (a small upload already in, s3/whole-body.ts) goes out
        // in one write with the head.
        conn.socket.cork();
        conn.socket.write(head, 'latin1');
        if (req.body) ex.upload(req.body);
        conn.socket.uncork();
        conn.socket.resume();
      });
    },
    async close() {
      closed = true;
      for (const c of idle.splice(0)) c.socket.destroy();
      // In-flight bodies finish on their own; give them a moment, then cut.
      const deadline = Date.now() + 2_000;
      while (all.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const c of all) c.socket.destroy();
    },
  };
}

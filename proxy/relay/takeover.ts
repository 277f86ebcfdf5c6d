// Taking a request body off node's HTTP parser: once the head is parsed, the client socket's
// further reads go into one buffer of ours (net's user-buffer reads, the `onread` option of
// net.connect) instead of through the parser, which copies every body chunk into a new Buffer
// (the external allocations behind most of the gateway's CPU on large PUTs, docs/performance.md).
//
// This uses node internals, checked here and refused when any is missing (the caller then reads
// the body as a stream): the server's parser `consume`s the socket's handle (`parser._consumed`),
// `parser.unconsume()` gives the reads back to JavaScript, and the socket's `kBuffer`/`kBufferCb`
// slots with `handle.useUserBuffer()` are what `onread` sets up on a client socket.
// The parser never sees the rest of the body, so the connection cannot carry another request:
// the response goes out with `Connection: close`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

interface Parser {
  _consumed?: boolean;
  unconsume(): void;
}

interface Handle {
  useUserBuffer(buf: Uint8Array): void;
  readStart(): number;
  readStop(): number;
  reading?: boolean;
}

interface Internals {
  socket: Socket & Record<symbol, unknown>;
  parser: Parser;
  handle: Handle;
  kBuffer: symbol;
  kBufferCb: symbol;
  res: ServerResponse;
}

const symbolOf = (o: object, name: string) => Object.getOwnPropertySymbols(o).find((s) => s.description === name);

function internalsOf(req: IncomingMessage): Internals | undefined {
  const socket = req.socket as Socket & Record<string | symbol, unknown>;
  if (!socket || socket.destroyed || (socket as { encrypted?: boolean }).encrypted) return undefined;
  const parser = socket.parser as Parser | undefined;
  const handle = socket._handle as Partial<Handle> | undefined;
  if (!parser || parser._consumed !== true || typeof parser.unconsume !== 'function') return undefined;
  if (!handle || typeof handle.useUserBuffer !== 'function' || typeof handle.readStart !== 'function' || typeof handle.readStop !== 'function') return undefined;
  const kBuffer = symbolOf(socket, 'kBuffer');
  const kBufferCb = symbolOf(socket, 'kBufferCb');
  const kBufferGen = symbolOf(socket, 'kBufferGen');
  if (!kBuffer || !kBufferCb || !kBufferGen || socket[kBuffer] || socket[kBufferGen] !== null) return undefined;
  const res = socket._httpMessage as ServerResponse | undefined;
  if (!res || res.req !== req || res.headersSent) return undefined;
  return { socket, parser, handle: handle as Handle, kBuffer, kBufferCb, res };
}

/**
 * Whether takeOver() would work for `req`: a plain-TCP request whose body is paused, nobody has
 * read yet and the parser has not seen to its end.
 */
export function canTakeOver(req: IncomingMessage): boolean {
  return !req.complete && req.readableFlowing !== true && !req.readableEnded && !req.readableDidRead && internalsOf(req) !== undefined;
}

/**
 * Detaches the parser from `req`'s socket. Returns the body bytes the parser had already
 * delivered (still unread in `req`); every later read lands in `buffer` and is handed to
 * `onBytes` as a view of it, valid until onBytes returns true or the socket is resumed
 * (false stops reading until `req.socket.resume()`). The response is marked to close the
 * connection. Call only when canTakeOver(req).
 */
export function takeOver(req: IncomingMessage, buffer: Buffer, onBytes: (chunk: Buffer) => boolean): Buffer[] {
  const i = internalsOf(req);
  if (!i || req.complete) throw new Error('takeOver: the request socket cannot be taken over');
  const early: Buffer[] = [];
  for (let c = req.read() as Buffer | null; c !== null; c = req.read() as Buffer | null) early.push(c);
  i.res.shouldKeepAlive = false;
  i.parser.unconsume();
  i.parser._consumed = false;
  i.socket[i.kBuffer] = buffer;
  i.socket[i.kBufferCb] = (n: number) => onBytes(buffer.subarray(0, n));
  i.handle.useUserBuffer(buffer);
  // Restarted whatever `reading` says: the stream may no longer be reading for the parser it served.
  i.handle.readStop();
  i.handle.reading = false;
  i.socket.resume();
  return early;
}

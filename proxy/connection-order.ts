// Pipelined requests on one connection (RFC 9112 §9.3.2): Node parses the next request while the
// previous one is still being handled and would run both at once, so a pipelined PUT then GET of
// a key could answer 404 and a DELETE then GET the old object. A request waits for every earlier
// request on its connection to finish, unless it and all of them are safe (GET, HEAD).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

interface InFlight {
  safe: boolean;
  done: Promise<void>;
}

const SAFE = new Set(['GET', 'HEAD']);
const connections = new WeakMap<Socket, InFlight[]>();

/** Registers the request; resolves when it may run (undefined: it may run at once). */
export function takeTurn(req: IncomingMessage, res: ServerResponse): Promise<void> | undefined {
  const socket = req.socket;
  let queue = connections.get(socket);
  if (!queue) connections.set(socket, (queue = []));
  const earlier = queue.slice();
  const me: InFlight = { safe: SAFE.has(req.method ?? ''), done: new Promise((resolve) => res.once('close', () => resolve())) };
  queue.push(me);
  void me.done.then(() => queue.splice(queue.indexOf(me), 1));
  if (earlier.length === 0 || (me.safe && earlier.every((e) => e.safe))) return undefined;
  return Promise.all(earlier.map((e) => e.done)).then(() => undefined);
}

/** Resolves once every request already on the connection has been answered. */
export function settled(socket: Socket): Promise<void> {
  const queue = connections.get(socket) ?? [];
  return Promise.all(queue.map((e) => e.done)).then(() => undefined);
}

// Letting go of a body nobody will read. An undici response body destroyed (or timed out) with
// no 'error' listener raises an unhandled error that ends the process, so every body a store
// hands out gets a listener at birth and every abandoned one is released through here.
import type { Readable } from 'node:stream';

function ignore(): void {}

/** Makes an unread body safe to drop: its errors still reach pipelines and readers, never the process. */
export function guardBody<T extends Readable | undefined>(body: T): T {
  if (body && !body.listeners('error').includes(ignore)) body.on('error', ignore);
  return body;
}

/** Releases a body (and its upstream connection) that will not be read. */
export function abandon(body: Readable | undefined): void {
  if (!body) return;
  guardBody(body);
  if (!body.destroyed) body.destroy();
}

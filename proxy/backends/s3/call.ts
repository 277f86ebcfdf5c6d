// One upstream call: send, map transport errors, map non-2xx answers. Successful responses come
// back with their body unread, for the caller to stream or parse.
import type { S3Http, UpstreamRequest, UpstreamResponse } from './http.ts';
import { transportError, upstreamError } from './errors.ts';

export type Response = UpstreamResponse;

export async function call(http: S3Http, req: UpstreamRequest, ok: (status: number) => boolean = (s) => s >= 200 && s < 300): Promise<Response> {
  let res: Response;
  try {
    res = await http.send(req);
  } catch (e) {
    throw transportError(http.options.name, e);
  }
  if (ok(res.statusCode)) return res;
  throw await upstreamError(http.options.name, res);
}

/** A small response body (XML documents), read whole. */
export async function text(res: Response): Promise<string> {
  return res.body.text();
}

/** Drains and discards a body so the connection goes back to the pool. */
export async function drain(res: Response): Promise<void> {
  try {
    await res.body.dump();
  } catch { /* a broken body only costs the connection */ }
}

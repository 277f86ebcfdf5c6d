// An HTTP/1.1 response head (status line and header fields), parsed from the bytes before the
// blank line. Header names are lower-cased; repeated fields are joined with ", " as node:http
// does (set-cookie stays a list), so callers see the shape undici and node:http give them.
import type { IncomingHttpHeaders } from 'node:http';

export interface ResponseHead {
  statusCode: number;
  headers: IncomingHttpHeaders;
  /** HTTP/1.1 without `connection: close`: the connection can carry the next request. */
  keepAlive: boolean;
}

/** A head longer than this is refused (as undici's default max header size). */
export const MAX_HEAD = 64 * 1024;

export class ProtocolError extends Error {
  readonly code = 'UND_ERR_SOCKET';
}

/** Parses `text` (latin1, without the final CRLFCRLF). */
export function parseHead(text: string): ResponseHead {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: .*)?$/.exec(lines[0]!);
  if (!m) throw new ProtocolError(`malformed status line from upstream: ${JSON.stringify(lines[0]!.slice(0, 80))}`);
  const headers: IncomingHttpHeaders = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0 || /[\s]/.test(line[colon - 1]!)) throw new ProtocolError(`malformed header line from upstream: ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prev = headers[name];
    if (name === 'set-cookie') headers[name] = [...((prev as string[] | undefined) ?? []), value];
    else headers[name] = prev === undefined ? value : `${prev as string}, ${value}`;
  }
  const connection = String(headers.connection ?? '').toLowerCase();
  const keepAlive = m[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
  return { statusCode: Number(m[2]), headers, keepAlive };
}

/** The body's framing: a length, chunked, none, or until the connection closes. */
export type Framing = { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' };

export function framingOf(method: string, head: ResponseHead): Framing {
  const s = head.statusCode;
  if (method === 'HEAD' || s === 204 || s === 304 || s < 200) return { kind: 'length', length: 0 };
  const te = head.headers['transfer-encoding'];
  if (te !== undefined) {
    if (!/(^|,)\s*chunked\s*$/i.test(String(te))) throw new ProtocolError(`unsupported transfer-encoding from upstream: ${String(te)}`);
    return { kind: 'chunked' };
  }
  const cl = head.headers['content-length'];
  if (cl === undefined) return { kind: 'close' };
  if (!/^\d{1,15}$/.test(String(cl))) throw new ProtocolError(`invalid content-length from upstream: ${String(cl)}`);
  return { kind: 'length', length: Number(cl) };
}

// Does a request match a fault's `match`? Every given criterion must hold (AND); within a list
// any entry may match (OR). An absent match matches every request.
import type { IncomingHttpHeaders } from 'node:http';
import type { Match } from './model.ts';

export interface RequestInfo {
  operation: string;
  method: string;
  bucket?: string;
  key?: string;
  headers: IncomingHttpHeaders;
  /** Gateway only: the backend bucket the request goes to. */
  backend?: string;
  requestId: string;
}

const globCache = new Map<string, RegExp>();

/** `**` spans "/", `*` stays within a segment, `?` is one character; the rest is literal. */
export function globToRegExp(glob: string): RegExp {
  let re = globCache.get(glob);
  if (re) return re;
  let src = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') { src += '.*'; i++; }
    else if (c === '*') src += '[^/]*';
    else if (c === '?') src += '[^/]';
    else src += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  re = new RegExp(`^${src}$`, 's');
  if (globCache.size > 1000) globCache.clear();
  globCache.set(glob, re);
  return re;
}

function headerMatches(headers: IncomingHttpHeaders, name: string, want: string): boolean {
  const v = headers[name.toLowerCase()];
  if (v === undefined) return false;
  if (want === '*') return true;
  return Array.isArray(v) ? v.includes(want) : v === want;
}

export function matches(m: Match | undefined, r: RequestInfo): boolean {
  if (!m) return true;
  if (m.operations && !(m.operations as readonly string[]).includes(r.operation)) return false;
  if (m.methods && !(m.methods as readonly string[]).includes(r.method)) return false;
  if (m.buckets && (r.bucket === undefined || !m.buckets.includes(r.bucket))) return false;
  if (m.keyPrefix !== undefined && (r.key === undefined || !r.key.startsWith(m.keyPrefix))) return false;
  if (m.keyGlob !== undefined && (r.key === undefined || !globToRegExp(m.keyGlob).test(r.key))) return false;
  if (m.backends && (r.backend === undefined || !m.backends.includes(r.backend))) return false;
  if (m.headers) for (const [k, v] of Object.entries(m.headers)) if (!headerMatches(r.headers, k, v)) return false;
  return true;
}

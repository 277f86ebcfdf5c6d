// The pieces of a SigV4 canonical request in S3's flavour: URI-encoding done on bytes (so
// invalid UTF-8 and latin1-decoded header strings survive), the canonical query and header
// forms, and the string to sign. Shared by the verifier, the signer and the chunk decoder.
import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const HEX = '0123456789ABCDEF';
const UNRESERVED = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') UNRESERVED[c.charCodeAt(0)] = 1;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** Strings from Node's HTTP parser carry one byte per char (latin1); anything wider is UTF-8 text. */
function toBytes(s: string): Buffer {
  // eslint-disable-next-line no-control-regex
  return /[^\u0000-\u00ff]/.test(s) ? Buffer.from(s, 'utf8') : Buffer.from(s, 'latin1');
}

/** Percent-decodes to bytes; a malformed escape stays literal, as the signer most likely sent it. */
export function percentDecode(s: string, plusAsSpace = false): Buffer {
  const b = toBytes(s);
  const out = Buffer.allocUnsafe(b.length);
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 37 && i + 2 < b.length) {
      const hi = hexValue(b[i + 1]!), lo = hexValue(b[i + 2]!);
      if (hi >= 0 && lo >= 0) {
        out[n++] = hi * 16 + lo;
        i += 2;
        continue;
      }
    }
    out[n++] = plusAsSpace && c === 43 ? 32 : c;
  }
  return out.subarray(0, n);
}

/** RFC 3986 encoding of every byte but the unreserved ones (and '/' when keepSlash). */
export function uriEncodeBytes(bytes: Uint8Array, keepSlash: boolean): string {
  let out = '';
  for (const c of bytes) {
    if (UNRESERVED[c] || (keepSlash && c === 47)) out += String.fromCharCode(c);
    else out += '%' + HEX[c >> 4] + HEX[c & 15];
  }
  return out;
}

/** An object key (or any path) as S3 wants it in a URL and in the canonical URI. */
export function encodeS3Path(path: string): string {
  return uriEncodeBytes(Buffer.from(path, 'utf8'), true);
}

/** The path decoded once and strictly re-encoded: what SDKs sign. */
export function strictPath(rawPath: string): string {
  if (rawPath === '') return '/';
  return uriEncodeBytes(percentDecode(rawPath), true);
}

/**
 * The path with its valid escapes kept (hex upper-cased) and every other reserved byte escaped:
 * a path already in canonical form is unchanged, so signer and wire agree byte for byte.
 */
export function normalizedPath(path: string): string {
  const b = toBytes(path || '/');
  let out = '';
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 37 && i + 2 < b.length && hexValue(b[i + 1]!) >= 0 && hexValue(b[i + 2]!) >= 0) {
      out += '%' + String.fromCharCode(b[i + 1]!, b[i + 2]!).toUpperCase();
      i += 2;
    } else if (UNRESERVED[c] || c === 47) out += String.fromCharCode(c);
    else out += '%' + HEX[c >> 4] + HEX[c & 15];
  }
  return out;
}

/**
 * Canonical query string from the raw query. '+' means space, as the S3 router reads it, so the
 * value that was signed is the value that gets used.
 */
export function canonicalQuery(rawQuery: string, exclude?: string): string {
  const pairs: [string, string][] = [];
  for (const piece of rawQuery.split('&')) {
    if (!piece) continue;
    const eq = piece.indexOf('=');
    const k = uriEncodeBytes(percentDecode(eq < 0 ? piece : piece.slice(0, eq), true), false);
    if (k === exclude) continue;
    const v = eq < 0 ? '' : uriEncodeBytes(percentDecode(piece.slice(eq + 1), true), false);
    pairs.push([k, v]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/**
 * Trims and collapses runs of spaces and tabs only: \s would also eat U+00A0, which is the
 * latin1 view of an 0xA0 byte inside UTF-8 metadata (e.g. 'à' is C3 A0).
 */
export function canonicalHeaderValue(values: readonly string[]): string {
  // Most values (dates, hashes, hosts) are already canonical: one test instead of two replaces.
  if (values.length === 1 && !NOT_CANONICAL.test(values[0]!)) return values[0]!;
  return values.map((v) => v.replace(/[ \t]+/g, ' ').replace(/^ | $/g, '')).join(',');
}

/** What the replaces above would change: a tab, a run of blanks, a blank at either end. */
const NOT_CANONICAL = /\t|  |^ | $/;

export type HeaderBag = Record<string, string | string[] | undefined>;

/** Every value of a header, duplicates kept apart (headersDistinct when Node gave it to us). */
export function headerValues(name: string, headers: HeaderBag, distinct?: Record<string, string[] | undefined>): string[] {
  const d = distinct?.[name];
  if (d) return d;
  const v = headers[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

export interface CanonicalParts {
  method: string;
  uri: string;
  query: string;
  /** Lower-case names in the order they will be listed (sorted). */
  signedHeaders: readonly string[];
  headerValue: (name: string) => string;
  payloadHash: string;
}

export function canonicalRequest(p: CanonicalParts): string {
  let headers = '';
  for (const h of p.signedHeaders) headers += `${h}:${p.headerValue(h)}\n`;
  return `${p.method}\n${p.uri}\n${p.query}\n${headers}\n${p.signedHeaders.join(';')}\n${p.payloadHash}`;
}

export function sha256Hex(data: string | Uint8Array, encoding: 'latin1' | 'utf8' = 'latin1'): string {
  const h = createHash('sha256');
  if (typeof data === 'string') h.update(data, encoding);
  else h.update(data);
  return h.digest('hex');
}

// Node 24 turns a Buffer key into a KeyObject on every createHmac (~18 µs); a KeyObject made once
// per signing key costs ~3 µs per HMAC. Signing keys are cached, so their KeyObjects are too.
const keyObjects = new WeakMap<Buffer, KeyObject>();

export function hmacKey(key: Buffer): KeyObject {
  let k = keyObjects.get(key);
  if (!k) keyObjects.set(key, (k = createSecretKey(key)));
  return k;
}

export function hmac(key: Buffer | KeyObject, data: string): Buffer {
  return createHmac('sha256', Buffer.isBuffer(key) ? hmacKey(key) : key).update(data, 'latin1').digest();
}

/** Header bytes are latin1 as Node received them, so the canonical request is hashed as latin1. */
export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonical, 'latin1')}`;
}

let amzSecond = NaN;
let amzText = '';

/** 'YYYYMMDDTHHMMSSZ' for a Date; the last second's text is kept, as every upstream request asks for the time now. */
export function formatAmzDate(d: Date): string {
  const second = Math.floor(d.getTime() / 1000);
  if (second !== amzSecond) {
    amzText = d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
    amzSecond = second;
  }
  return amzText;
}

/** Parses 'YYYYMMDDTHHMMSSZ'; undefined when malformed. */
export function parseAmzDate(s: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const t = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  return t.getUTCMonth() === mo - 1 && t.getUTCDate() === d && h < 24 && mi < 60 && se < 61 ? t : undefined;
}

/** Space-separated hex bytes, the form S3 uses for StringToSignBytes / CanonicalRequestBytes. */
export function hexBytes(s: string): string {
  return Buffer.from(s, 'latin1').toString('hex').replace(/(..)(?!$)/g, '$1 ');
}

// Bucket CORS, as browser apps need it: the configuration is stored per bucket (stores that can
// keep it implement BucketCorsStore), a preflight OPTIONS is answered from it without a
// signature (browsers send none), and a request carrying an Origin that a rule allows gets the
// Access-Control-* headers on its answer.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { S3Error } from './errors.ts';
import { parseXml, xmlDocument, type XmlNode } from './xml.ts';

export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

/** Optional store ability: keep one CORS configuration per bucket. */
export interface BucketCorsStore {
  getBucketCors(bucket: string): Promise<CorsRule[] | undefined>;
  putBucketCors(bucket: string, rules: CorsRule[]): Promise<void>;
  deleteBucketCors(bucket: string): Promise<void>;
}

export function corsStoreOf(store: object): BucketCorsStore | undefined {
  const s = store as Partial<BucketCorsStore>;
  return s.getBucketCors && s.putBucketCors && s.deleteBucketCors ? (s as BucketCorsStore) : undefined;
}

const METHODS = new Set(['GET', 'PUT', 'POST', 'DELETE', 'HEAD']);
const list = (v: unknown): string[] => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x) => String(x).trim()));

export function parseCorsXml(text: string): CorsRule[] {
  const doc = parseXml(text, 'CORSConfiguration');
  const raw = doc.CORSRule === undefined ? [] : (Array.isArray(doc.CORSRule) ? doc.CORSRule : [doc.CORSRule]) as Record<string, unknown>[];
  if (raw.length === 0 || raw.length > 100) throw new S3Error('MalformedXML', 'A CORS configuration holds 1 to 100 CORSRule elements.');
  return raw.map((r) => {
    const rule: CorsRule = {
      id: typeof r.ID === 'string' ? r.ID : undefined,
      allowedOrigins: list(r.AllowedOrigin), allowedMethods: list(r.AllowedMethod), allowedHeaders: list(r.AllowedHeader), exposeHeaders: list(r.ExposeHeader),
      maxAgeSeconds: r.MaxAgeSeconds === undefined ? undefined : Number(r.MaxAgeSeconds),
    };
    if (!rule.allowedOrigins.length || !rule.allowedMethods.length) throw new S3Error('MalformedXML', 'Each CORSRule needs an AllowedOrigin and an AllowedMethod.');
    const bad = rule.allowedMethods.find((m) => !METHODS.has(m));
    if (bad) throw new S3Error('InvalidRequest', `Found unsupported HTTP method in CORS config. Unsupported method is ${bad}`);
    if (rule.maxAgeSeconds !== undefined && !(Number.isInteger(rule.maxAgeSeconds) && rule.maxAgeSeconds >= 0)) throw new S3Error('MalformedXML', 'MaxAgeSeconds must be a non-negative integer.');
    return rule;
  });
}

/** Repeated text elements (the renderer repeats the tag for each array item). */
const each = (values: string[]) => values as unknown as XmlNode[];

export function corsXml(rules: CorsRule[]): string {
  return xmlDocument('CORSConfiguration', {
    CORSRule: rules.map((r): XmlNode => ({
      ID: r.id, AllowedHeader: each(r.allowedHeaders), AllowedMethod: each(r.allowedMethods), AllowedOrigin: each(r.allowedOrigins),
      ExposeHeader: each(r.exposeHeaders), MaxAgeSeconds: r.maxAgeSeconds,
    })),
  });
}

/** `*` matches any run of characters (one wildcard per pattern, as S3 allows). */
function matches(pattern: string, value: string, caseless = false): boolean {
  const p = caseless ? pattern.toLowerCase() : pattern;
  const v = caseless ? value.toLowerCase() : value;
  const star = p.indexOf('*');
  if (star < 0) return p === v;
  return v.length >= p.length - 1 && v.startsWith(p.slice(0, star)) && v.endsWith(p.slice(star + 1));
}

function ruleFor(rules: CorsRule[], origin: string, method: string, headers: string[]): CorsRule | undefined {
  return rules.find((r) => r.allowedOrigins.some((o) => matches(o, origin)) && r.allowedMethods.includes(method) &&
    headers.every((h) => r.allowedHeaders.some((a) => matches(a, h, true))));
}

function allowOrigin(rule: CorsRule, origin: string): string {
  return rule.allowedOrigins.includes('*') ? '*' : origin;
}

/** The preflight: 200 with the Access-Control-* headers when a rule allows it, else 403. */
export async function answerPreflight(store: BucketCorsStore | undefined, bucket: string | undefined, req: IncomingMessage): Promise<Record<string, string>> {
  const origin = req.headers.origin;
  const method = req.headers['access-control-request-method'];
  if (!origin || typeof method !== 'string') throw new S3Error('InvalidRequest', 'Insufficient information. Origin request header needed.');
  const requested = String(req.headers['access-control-request-headers'] ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  const rules = bucket && store ? await store.getBucketCors(bucket).catch(() => undefined) : undefined;
  const rule = rules && ruleFor(rules, origin, method, requested);
  if (!rule) throw new S3Error('AccessDenied', 'CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource\'s CORS spec.');
  const h: Record<string, string> = {
    'access-control-allow-origin': allowOrigin(rule, origin),
    'access-control-allow-methods': rule.allowedMethods.join(', '),
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
  if (requested.length) h['access-control-allow-headers'] = requested.join(', ');
  if (rule.exposeHeaders.length) h['access-control-expose-headers'] = rule.exposeHeaders.join(', ');
  if (rule.maxAgeSeconds !== undefined) h['access-control-max-age'] = String(rule.maxAgeSeconds);
  if (!rule.allowedOrigins.includes('*')) h['access-control-allow-credentials'] = 'true';
  return h;
}

/** Adds the Access-Control-* headers to the answer of a request whose Origin a rule allows. */
export async function addCorsHeaders(store: BucketCorsStore | undefined, bucket: string | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const origin = req.headers.origin;
  if (!origin || !bucket || !store) return;
  const rules = await store.getBucketCors(bucket).catch(() => undefined);
  const rule = rules && ruleFor(rules, origin, req.method ?? 'GET', []);
  if (!rule || res.headersSent) return;
  res.setHeader('access-control-allow-origin', allowOrigin(rule, origin));
  res.setHeader('access-control-allow-methods', rule.allowedMethods.join(', '));
  if (rule.exposeHeaders.length) res.setHeader('access-control-expose-headers', rule.exposeHeaders.join(', '));
  if (!rule.allowedOrigins.includes('*')) res.setHeader('access-control-allow-credentials', 'true');
  res.setHeader('vary', 'Origin');
}

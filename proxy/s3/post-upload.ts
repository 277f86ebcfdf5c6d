// Browser POST uploads (PostObject): a multipart/form-data body whose fields carry a policy
// document signed with SigV4 (the signature is the HMAC of the base64 policy under the day's
// signing key) or SigV2 (AWSAccessKeyId + signature: base64 HMAC-SHA1 of the base64 policy under
// the secret) and whose `file` field is the object. The fields before the file are read into
// memory (20 KiB at most, as S3), the file streams to the store. The file must be the last field:
// its size is the body's length less what came before it and the closing boundary.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import { timingSafeEqual } from 'node:crypto';
import { hmac } from '../auth/canonical.ts';
import { deriveSigningKey } from '../auth/signing-key.ts';
import type { KeyLookup } from '../auth/sigv4.ts';
import { sigV2Matches } from '../auth/sigv2.ts';
import { createBodyVerifier } from '../auth/verify-body.ts';
import { validateKey } from '../store/keys.ts';
import type { ObjectStore } from '../store/types.ts';
import { S3Error } from './errors.ts';
import { refuseUnsupportedFeatures } from './features.ts';
import { objectHeadersFromRequest, quoteEtag } from './headers.ts';
import { sendEmpty, sendXml } from './respond.ts';
import { xmlDocument } from './xml.ts';

const MAX_PRE_DATA = 20 * 1024;
const malformed = (why: string) => new S3Error('MalformedPOSTRequest', `The body of your POST request is not well-formed multipart/form-data: ${why}.`);
const denied = (why: string) => new S3Error('AccessDenied', `Invalid according to Policy: ${why}`);

export function isPostUpload(req: IncomingMessage, bucket: string | undefined, key: string | undefined, query: Map<string, string>): boolean {
  return req.method === 'POST' && bucket !== undefined && key === undefined && query.size === 0 && /^multipart\/form-data/i.test(String(req.headers['content-type'] ?? ''));
}

interface Form {
  fields: Map<string, string>;
  filename: string;
  fileType?: string;
  /** Bytes of the file already read with the fields. */
  head: Buffer;
  /** Body bytes up to the first file byte. */
  consumed: number;
}

/** Reads the fields up to the start of the file's bytes. */
async function readFields(chunks: AsyncIterator<Buffer>, boundary: string): Promise<Form> {
  const delim = Buffer.from(`--${boundary}`);
  let buf = Buffer.alloc(0);
  const fields = new Map<string, string>();
  let pos = 0;
  const more = async (): Promise<void> => {
    const { value, done } = await chunks.next();
    if (done) throw malformed('the body ended before the file field');
    buf = Buffer.concat([buf, value]);
  };
  const need = async (test: () => number): Promise<number> => {
    for (;;) {
      const i = test();
      if (i >= 0) return i;
      if (buf.length > MAX_PRE_DATA * 2) throw new S3Error('MaxPostPreDataLengthExceeded', 'Your POST request fields preceding the upload file were too large.');
      await more();
    }
  };
  await need(() => (buf.length >= delim.length + 2 ? 0 : -1));
  if (!buf.subarray(0, delim.length).equals(delim)) throw malformed('it does not start with the boundary');
  pos = delim.length + 2;
  for (;;) {
    const end = await need(() => buf.indexOf('\r\n\r\n', pos));
    const headers = buf.subarray(pos, end).toString('utf8');
    const disposition = /content-disposition:\s*form-data;([^\r\n]*)/i.exec(headers)?.[1] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1];
    if (name === undefined) throw malformed('a part has no name');
    const start = end + 4;
    if (name.toLowerCase() === 'file') {
      return { fields, filename: /\bfilename="([^"]*)"/i.exec(disposition)?.[1] ?? '', fileType: /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim(), head: buf.subarray(start), consumed: start };
    }
    const stop = await need(() => buf.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), start));
    if (stop > MAX_PRE_DATA) throw new S3Error('MaxPostPreDataLengthExceeded', 'Your POST request fields preceding the upload file were too large.');
    fields.set(name.toLowerCase(), buf.subarray(start, stop).toString('utf8'));
    pos = stop + 2 + delim.length + 2;
  }
}

/**
 * Passes exactly `size` bytes, then requires the rest to be the closing boundary. The boundary
 * never occurs inside a part (RFC 2046): finding it in the file means another field follows.
 */
class FileBytes extends Transform {
  #left: number;
  #rest = '';
  #tail = Buffer.alloc(0);
  readonly #epilogue: string;
  readonly #delim: Buffer;
  constructor(size: number, epilogue: string, boundary: string) {
    super();
    this.#left = size;
    this.#epilogue = epilogue;
    this.#delim = Buffer.from(`\r\n--${boundary}`);
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, done: TransformCallback): void {
    const take = Math.min(this.#left, chunk.length);
    const window = Buffer.concat([this.#tail, chunk.subarray(0, take)]);
    if (window.includes(this.#delim)) return done(malformed('the file field must be the last one'));
    this.#tail = window.subarray(Math.max(0, window.length - this.#delim.length + 1));
    if (take) this.push(chunk.subarray(0, take));
    this.#left -= take;
    this.#rest += chunk.subarray(take).toString('latin1');
    if (this.#rest.length > this.#epilogue.length) return done(malformed('the file field must be the last one'));
    done();
  }
  override _flush(done: TransformCallback): void {
    done(this.#left === 0 && this.#rest === this.#epilogue ? null : malformed('the file field must be the last one, followed by the closing boundary'));
  }
}

type Condition = { field: string; op: 'eq' | 'starts-with'; value: string } | { range: [number, number] };

function parsePolicy(b64: string, now: Date): Condition[] {
  let doc: { expiration?: unknown; conditions?: unknown };
  try {
    doc = JSON.parse(Buffer.from(b64, 'base64').toString('utf8')) as typeof doc;
  } catch {
    throw new S3Error('InvalidPolicyDocument', 'Invalid Policy: Invalid JSON.');
  }
  // ISO 8601 as AWS wants it ("2007-12-01T12:00:00.000Z"), not whatever Date.parse takes.
  const expiration = String(doc.expiration ?? '');
  const exp = new Date(expiration);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(expiration) || Number.isNaN(exp.getTime())) throw new S3Error('InvalidPolicyDocument', 'Invalid Policy: Invalid \'expiration\' value.');
  if (exp <= now) throw denied('Policy expired.');
  if (!Array.isArray(doc.conditions)) throw new S3Error('InvalidPolicyDocument', 'Invalid Policy: Invalid \'conditions\' value.');
  return doc.conditions.map((c: unknown): Condition => {
    // Match types and field names are case-insensitive; values are not.
    const a = Array.isArray(c) ? (c as unknown[]) : undefined;
    const op = typeof a?.[0] === 'string' ? a[0].toLowerCase() : undefined;
    if (a && op === 'content-length-range' && a.length === 3 && Number.isSafeInteger(a[1]) && Number.isSafeInteger(a[2]) && (a[1] as number) >= 0) {
      return { range: [a[1] as number, a[2] as number] };
    }
    if (a && (op === 'eq' || op === 'starts-with') && typeof a[1] === 'string' && a[1].startsWith('$')) {
      return { field: a[1].slice(1).toLowerCase(), op, value: String(a[2]) };
    }
    if (c && typeof c === 'object' && !Array.isArray(c) && Object.keys(c).length === 1) {
      const [k, v] = Object.entries(c)[0]!;
      return { field: k.toLowerCase(), op: 'eq', value: String(v) };
    }
    throw new S3Error('InvalidPolicyDocument', `Invalid Policy: Invalid condition ${JSON.stringify(c)}.`);
  });
}

const UNCHECKED = new Set(['policy', 'x-amz-signature', 'file', 'awsaccesskeyid', 'signature']);

export interface PostUploadContext {
  store: ObjectStore;
  keys: KeyLookup;
  idleTimeoutMs: number;
  bucket: string;
}

const unknownKey = (akid: string) => new S3Error('InvalidAccessKeyId', undefined, { details: { AWSAccessKeyId: akid } });

/** SigV4 form: the signature is the HMAC of the base64 policy under the day's signing key. Returns the policy. */
function checkSigV4Form(f: Map<string, string>, keys: KeyLookup): string {
  const policy = f.get('policy'), sig = f.get('x-amz-signature'), cred = f.get('x-amz-credential');
  if (!policy || !sig || !cred || f.get('x-amz-algorithm') !== 'AWS4-HMAC-SHA256' || !f.get('x-amz-date')) {
    throw new S3Error('AccessDenied', 'Access Denied: a POST upload needs policy, x-amz-algorithm (AWS4-HMAC-SHA256), x-amz-credential, x-amz-date and x-amz-signature fields (or AWSAccessKeyId, policy and signature for SigV2).');
  }
  const [akid, date, region, service, term] = cred.split('/');
  if (!akid || !date || !region || service !== 's3' || term !== 'aws4_request') throw new S3Error('AccessDenied', 'Access Denied: malformed x-amz-credential.');
  const secret = keys(akid);
  if (secret === undefined) throw unknownKey(akid);
  const expected = hmac(deriveSigningKey(secret, date, region), policy);
  const given = Buffer.from(/^[0-9a-f]{64}$/.test(sig) ? sig : '', 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new S3Error('SignatureDoesNotMatch', undefined, { details: { AWSAccessKeyId: akid } });
  return policy;
}

/** SigV2 form: `signature` is the base64 HMAC-SHA1 of the base64 policy under the secret. Returns the policy. */
function checkSigV2Form(f: Map<string, string>, keys: KeyLookup): string {
  const akid = f.get('awsaccesskeyid')!;
  for (const field of ['policy', 'signature']) {
    if (!f.get(field)) throw new S3Error('InvalidArgument', `Bucket POST must contain a field named '${field}'.  If it is specified, please check the order of the fields.`, { details: { ArgumentName: field, ArgumentValue: '' } });
  }
  const policy = f.get('policy')!, sig = f.get('signature')!;
  const secret = keys(akid);
  if (secret === undefined) throw unknownKey(akid);
  if (!sigV2Matches(secret, policy, sig)) throw new S3Error('SignatureDoesNotMatch', undefined, { details: { AWSAccessKeyId: akid, StringToSign: policy, SignatureProvided: sig } });
  return policy;
}

export async function postUpload(req: IncomingMessage, res: ServerResponse, o: PostUploadContext): Promise<void> {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(String(req.headers['content-type']));
  const b = boundary?.[1] ?? boundary?.[2];
  if (!b) throw malformed('no boundary');
  const length = Number(req.headers['content-length']);
  if (!Number.isSafeInteger(length)) throw new S3Error('MissingContentLength');
  req.setTimeout(o.idleTimeoutMs, () => req.destroy(new S3Error('RequestTimeout')));
  // One iterator reads the fields and then the file: nothing flows past it in between.
  const chunks = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const form = await readFields(chunks, b);
  const f = form.fields;
  const policy = f.has('awsaccesskeyid') ? checkSigV2Form(f, o.keys) : checkSigV4Form(f, o.keys);
  const conditions = parsePolicy(policy, new Date());

  const key = (f.get('key') ?? '').replace('${filename}', form.filename);
  if (!key) throw new S3Error('InvalidArgument', 'Bucket POST must contain a field named \'key\'.', { details: { ArgumentName: 'key' } });
  validateKey(key);
  const values = new Map([...f, ['bucket', o.bucket], ['key', key]]);
  const epilogue = `\r\n--${b}--\r\n`;
  const size = length - form.consumed - epilogue.length;
  if (size < 0) throw malformed('the body is shorter than its parts');
  for (const c of conditions) {
    if ('range' in c) {
      if (size < c.range[0]) throw new S3Error('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size', { details: { ProposedSize: size, MinSizeAllowed: c.range[0] } });
      if (size > c.range[1]) throw new S3Error('EntityTooLarge', undefined, { details: { ProposedSize: size, MaxSizeAllowed: c.range[1] } });
      continue;
    }
    const v = values.get(c.field) ?? '';
    if (c.op === 'eq' ? v !== c.value : !v.startsWith(c.value)) throw denied(`Policy Condition failed: ["${c.op}", "$${c.field}", "${c.value}"]`);
  }
  const covered = new Set(conditions.flatMap((c) => ('field' in c ? [c.field] : [])));
  const extra = [...f.keys()].filter((k) => !UNCHECKED.has(k) && !k.startsWith('x-ignore-') && !covered.has(k));
  if (extra.length) throw denied(`Extra input fields: ${extra.join(', ')}`);

  const asHeaders = Object.fromEntries([...f].filter(([k]) => k.startsWith('x-amz-') || ['content-type', 'cache-control', 'content-disposition', 'content-encoding', 'expires'].includes(k)));
  refuseUnsupportedFeatures('PutObject', Object.fromEntries(Object.entries(asHeaders).filter(([k]) => !['x-amz-credential', 'x-amz-algorithm', 'x-amz-date', 'x-amz-signature'].includes(k))));
  if (!asHeaders['content-type'] && form.fileType) asHeaders['content-type'] = form.fileType;

  const rest = Readable.from((async function* () {
    if (form.head.length) yield form.head;
    for (;;) {
      const { value, done } = await chunks.next();
      if (done) return;
      yield value;
    }
  })());
  const checksums = {};
  const verifier = createBodyVerifier({ expectedSize: size, checksums, computeAlgs: [] });
  pipeline(rest, new FileBytes(size, epilogue, b), verifier, (err) => {
    if (err && !verifier.destroyed) verifier.destroy(err instanceof S3Error ? err : new S3Error('IncompleteBody', undefined, { cause: err }));
  });
  const r = await o.store.putObject(o.bucket, key, { body: verifier, size, headers: objectHeadersFromRequest(asHeaders), checksums });
  const location = `/${o.bucket}/${encodeURIComponent(key)}`;
  const redirect = f.get('success_action_redirect');
  if (redirect) {
    const u = new URL(redirect);
    u.searchParams.set('bucket', o.bucket); u.searchParams.set('key', key); u.searchParams.set('etag', quoteEtag(r.etag));
    sendEmpty(res, 303, { location: u.href, etag: quoteEtag(r.etag) });
    return;
  }
  const status = f.get('success_action_status');
  if (status === '201') {
    sendXml(res, 201, xmlDocument('PostResponse', { Location: location, Bucket: o.bucket, Key: key, ETag: quoteEtag(r.etag) }, false), { etag: quoteEtag(r.etag), location });
    return;
  }
  sendEmpty(res, status === '200' ? 200 : 204, { etag: quoteEtag(r.etag), location });
}

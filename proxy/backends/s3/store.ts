// An ObjectStore over a remote S3-compatible service: the `bucket` argument is the service's real
// bucket. Bodies stream both ways (request body piped, response body handed back unread); what
// the backend answers — ETag, metadata, errors — is what we return.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ObjectStore, PutInput, PutResult, GetOptions, GetResult, ObjectMeta, ScanOptions, BucketInfo } from '../../store/types.ts';
import { presignUrl } from '../../auth/sign.ts';
import { S3Error } from '../../s3/errors.ts';
import { createS3Http, type S3EndpointOptions, type S3Http } from './http.ts';
import { call, drain, text } from './call.ts';
import { holdTail } from './hold-tail.ts';
import { isRawBody } from '../../s3/raw-body.ts';
import { isWholeBody } from '../../s3/whole-body.ts';
import { TrailerEncoder, TrailerFramer, trailerBodyLength } from './trailer-body.ts';
import { metaFromResponse, rangeFromResponse, rangeHeader, readConditionHeaders, requestHeadersOf, unquote, writeConditionHeaders } from './meta.ts';
import { parseListBuckets, parseListObjectsV2 } from './xml.ts';
import { multipartOps } from './multipart.ts';
import { guardBody } from '../../store/abandon.ts';

export interface S3Store extends ObjectStore {
  readonly name: string;
  readonly http: S3Http;
  /** A presigned URL for GET/HEAD of `key`, for redirect mode. */
  presign(method: 'GET' | 'HEAD', bucket: string, key: string, expiresSeconds: number, query?: [string, string][]): URL;
  /** One cheap authenticated request (HEAD bucket): resolves when the backend serves us. */
  probe(bucket: string): Promise<void>;
}

/** The client's up-front digests (PutInput.integrity), forwarded so the backend verifies them too. */
export function integrityHeaders(input: PutInput): Record<string, string> {
  const i = input.integrity;
  const out: Record<string, string> = {};
  if (i?.contentMd5) out['content-md5'] = i.contentMd5;
  if (i?.checksum?.value) out[`x-amz-checksum-${i.checksum.alg}`] = i.checksum.value;
  return out;
}

export const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** The body in upstream trailer framing: a raw body frames its own pieces as it pumps them. */
function trailerBody(body: Readable, framer: TrailerFramer): Readable {
  return isRawBody(body) ? body.reframe(framer) : new TrailerEncoder(body, framer);
}

export function openS3Store(opts: S3EndpointOptions): S3Store {
  const http = createS3Http(opts);
  const name = opts.name;

  async function putBody(bucket: string, key: string, query: [string, string][] | undefined, input: PutInput, extra: Record<string, string>): Promise<PutResult> {
    let bodyError: unknown;
    input.body.once('error', (e) => { bodyError = e; });
    // A raw body holds back its own last bytes and reads nothing before it is asked (s3/raw-body.ts);
    // a whole one hands on nothing before it is checked (s3/whole-body.ts).
    const body = isRawBody(input.body) || isWholeBody(input.body) ? input.body : holdTail(input.body);
    // Checked before the backend hears of it: a bad body never reaches it, a good one goes out
    // with the request's head in one write.
    if (isWholeBody(body)) await body.whole();
    // A checksum the client sends as a trailer goes upstream as a trailer too.
    const trailer = input.integrity?.checksum && !input.integrity.checksum.value ? input.integrity.checksum.alg : undefined;
    const framing: { body: Readable; payloadHash?: string; headers: Record<string, string> } = trailer ? {
      body: trailerBody(body, new TrailerFramer(input.size, trailer, () => input.checksums[trailer])),
      payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      headers: {
        'content-length': String(trailerBodyLength(input.size, trailer)), 'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(input.size), 'x-amz-trailer': `x-amz-checksum-${trailer}`,
      },
    } : { body, headers: { 'content-length': String(input.size) } };
    try {
      const res = await call(http, {
        method: 'PUT', bucket, key, query, body: framing.body, payloadHash: framing.payloadHash, idempotent: false,
        headers: { ...framing.headers, ...integrityHeaders(input), ...extra },
      });
      await drain(res);
      return { etag: unquote(String(res.headers.etag ?? '')), checksums: input.checksums, lastModified: new Date(), size: input.size };
    } catch (e) {
      // The front destroyed the body (bad digest, short body, client gone): that is the error.
      if (bodyError instanceof S3Error) throw bodyError;
      // Marks a failure that consumed nothing: the caller may send the same body elsewhere.
      if (!body.started && e instanceof S3Error) Object.assign(e, { bodyUnread: true });
      throw e;
    } finally {
      if (!framing.body.destroyed && !framing.body.readableEnded) framing.body.destroy();
      if (!body.destroyed && !body.readableEnded) body.destroy();
    }
  }

  async function get(bucket: string, key: string, o: GetOptions & { head?: boolean }): Promise<GetResult> {
    const res = await call(http, {
      method: o.head ? 'HEAD' : 'GET', bucket, key, query: o.partNumber ? [['partNumber', String(o.partNumber)]] : undefined,
      headers: { ...rangeHeader(o.range), ...readConditionHeaders(o.conditions), 'x-amz-checksum-mode': 'ENABLED' },
      payloadHash: EMPTY_SHA256, relay: !o.head, signal: o.signal,
    }, (s) => s === 200 || s === 206);
    const meta = metaFromResponse(key, res.headers);
    if (o.head) {
      await drain(res);
      // A HEAD with a Range is answered 206 by S3 with the range's length: report the range.
      return { meta, range: res.statusCode === 206 ? rangeFromResponse(res.headers) : undefined };
    }
    return { meta, body: guardBody(res.body), range: res.statusCode === 206 ? rangeFromResponse(res.headers) : undefined };
  }

  async function scan(bucket: string, o: ScanOptions): Promise<ObjectMeta[]> {
    const out: ObjectMeta[] = [];
    let token: string | undefined;
    while (out.length < o.limit) {
      const query: [string, string][] = [['list-type', '2']];
      if (token) query.push(['continuation-token', token]);
      query.push(['encoding-type', 'url'], ['max-keys', String(Math.min(1000, o.limit - out.length))]);
      if (o.prefix) query.push(['prefix', o.prefix]);
      if (!token && o.after) query.push(['start-after', o.after]);
      const res = await call(http, { method: 'GET', bucket, query, payloadHash: EMPTY_SHA256 });
      const page = parseListObjectsV2(await text(res), true);
      out.push(...page.objects);
      if (!page.truncated || !page.next) break;
      token = page.next;
    }
    return out.slice(0, o.limit);
  }

  const store: S3Store = {
    name,
    http,
    async listBuckets(): Promise<BucketInfo[]> {
      const res = await call(http, { method: 'GET', payloadHash: EMPTY_SHA256 });
      return parseListBuckets(await text(res));
    },
    async createBucket(bucket) {
      const body = '';
      await drain(await call(http, { method: 'PUT', bucket, body, payloadHash: sha256(body), headers: { 'content-length': '0' } }));
    },
    async headBucket(bucket) {
      const res = await call(http, { method: 'HEAD', bucket, payloadHash: EMPTY_SHA256 }, (s) => s === 200);
      await drain(res);
      return { name: bucket, creationDate: new Date(0) };
    },
    async deleteBucket(bucket) {
      await drain(await call(http, { method: 'DELETE', bucket, payloadHash: EMPTY_SHA256, idempotent: true }));
    },
    putObject(bucket, key, input) {
      return putBody(bucket, key, undefined, input, { ...requestHeadersOf(input.headers), ...writeConditionHeaders(input.conditions) });
    },
    getObject: get,
    async deleteObject(bucket, key) {
      await drain(await call(http, { method: 'DELETE', bucket, key, payloadHash: EMPTY_SHA256, idempotent: true, relay: true }));
    },
    scan,
    ...multipartOps(http, putBody),
    presign(method, bucket, key, expiresSeconds, query) {
      const t = http.target(bucket, key, query);
      return presignUrl({ method, url: new URL(`${t.origin}${t.pathname}${t.search}`), expiresSeconds, region: http.options.region }, http.options.credentials);
    },
    async probe(bucket) {
      await store.headBucket(bucket);
    },
    close: () => http.close(),
  };
  return store;
}

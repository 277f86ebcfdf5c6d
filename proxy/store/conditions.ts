// GET/HEAD preconditions evaluated against the index's metadata, i.e. against exactly what the
// client is served (RFC 9110 order, as S3 applies it). Temporary: proxy/store/conditions.ts
// owns this once it lands.
import type { ObjectMeta, ReadConditions } from '../store/types.ts';
import { S3Error } from '../s3/errors.ts';

function etagMatches(header: string, etag: string): boolean {
  return header.split(',').some((t) => {
    const v = t.trim().replace(/^W\//, '');
    return v === '*' || v.replace(/^"(.*)"$/, '$1') === etag;
  });
}

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);

export function checkReadConditions(meta: ObjectMeta, c: ReadConditions | undefined): void {
  if (!c) return;
  if (c.ifMatch !== undefined) {
    if (!etagMatches(c.ifMatch, meta.etag)) throw new S3Error('PreconditionFailed', undefined, { details: { Condition: 'If-Match' } });
  } else if (c.ifUnmodifiedSince && seconds(meta.lastModified) > seconds(c.ifUnmodifiedSince)) {
    throw new S3Error('PreconditionFailed', undefined, { details: { Condition: 'If-Unmodified-Since' } });
  }
  if (c.ifNoneMatch !== undefined) {
    if (etagMatches(c.ifNoneMatch, meta.etag)) throw new S3Error('NotModified', undefined, { headers: { etag: `"${meta.etag}"` } });
  } else if (c.ifModifiedSince && seconds(meta.lastModified) <= seconds(c.ifModifiedSince)) {
    throw new S3Error('NotModified', undefined, { headers: { etag: `"${meta.etag}"` } });
  }
}

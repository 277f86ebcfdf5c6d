// Preconditions, evaluated by every store against exactly the metadata the client is served:
// GET/HEAD conditions in RFC 9110 order as S3 applies them, and conditional writes.
import type { ObjectMeta, ReadConditions, WriteConditions } from './types.ts';
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

/** Conditional writes against the current object's ETag (undefined when the key is absent). */
export function checkWriteConditions(currentEtag: string | undefined, c: WriteConditions | undefined): void {
  if (!c) return;
  if (c.ifNoneMatch === '*' && currentEtag !== undefined) {
    throw new S3Error('PreconditionFailed', undefined, { details: { Condition: 'If-None-Match' } });
  }
  if (c.ifMatch !== undefined) {
    if (currentEtag === undefined) throw new S3Error('NoSuchKey');
    if (!etagMatches(c.ifMatch, currentEtag)) throw new S3Error('PreconditionFailed', undefined, { details: { Condition: 'If-Match' } });
  }
}

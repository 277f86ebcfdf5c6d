// GetObjectAttributes: what a HEAD tells, as a document, for the attributes asked for in
// x-amz-object-attributes (ETag, Checksum, ObjectParts, StorageClass, ObjectSize).
import { S3Error } from '../errors.ts';
import { readConditions } from '../headers.ts';
import { sendXml } from '../respond.ts';
import { xmlDocument, type XmlNode } from '../xml.ts';
import { bucketOf, keyOf, type Handler } from './context.ts';

const ATTRIBUTES = new Set(['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize']);

export const getObjectAttributes: Handler = async (ctx) => {
  const raw = String(ctx.req.headers['x-amz-object-attributes'] ?? '');
  const asked = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (asked.length === 0) throw new S3Error('InvalidArgument', 'x-amz-object-attributes must name at least one attribute.', { details: { ArgumentName: 'x-amz-object-attributes' } });
  const unknown = asked.find((a) => !ATTRIBUTES.has(a));
  if (unknown) throw new S3Error('InvalidArgument', `Invalid attribute name specified: ${unknown}`, { details: { ArgumentName: 'x-amz-object-attributes', ArgumentValue: unknown } });
  const { meta } = await ctx.store.getObject(bucketOf(ctx), keyOf(ctx), { head: true, conditions: readConditions(ctx.req.headers) });
  const want = new Set(asked);
  const checksum: XmlNode = {};
  for (const [alg, v] of Object.entries(meta.checksums)) if (v) checksum[`Checksum${alg.toUpperCase()}`] = v;
  if (Object.keys(checksum).length) checksum.ChecksumType = meta.checksumType ?? 'FULL_OBJECT';
  sendXml(ctx.res, 200, xmlDocument('GetObjectAttributesResponse', {
    ETag: want.has('ETag') ? meta.etag : undefined,
    Checksum: want.has('Checksum') && Object.keys(checksum).length ? checksum : undefined,
    ObjectParts: want.has('ObjectParts') && meta.partsCount ? { PartsCount: meta.partsCount } : undefined,
    StorageClass: want.has('StorageClass') ? 'STANDARD' : undefined,
    ObjectSize: want.has('ObjectSize') ? meta.size : undefined,
  }), { 'last-modified': meta.lastModified.toUTCString() });
};

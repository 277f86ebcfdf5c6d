// Resolving a parsed Range against an object's size, as S3 does: an end past the object is
// clamped, a start past it is 416 with `Content-Range: bytes */size`.
import { S3Error } from '../s3/errors.ts';
import type { RangeSpec } from './types.ts';

/** The inclusive byte range to serve, or undefined for the whole object. */
export function resolveRange(spec: RangeSpec | undefined, size: number): { start: number; end: number } | undefined {
  if (!spec) return undefined;
  if ('suffix' in spec) {
    if (spec.suffix === 0) throw unsatisfiable(size);
    if (size === 0) return undefined;
    return { start: Math.max(0, size - spec.suffix), end: size - 1 };
  }
  if (spec.start >= size) throw unsatisfiable(size);
  return { start: spec.start, end: Math.min(spec.end ?? size - 1, size - 1) };
}

/** The bytes of part `n` of an object stored as parts of these sizes (an object uploaded whole is one part). */
export function resolvePart(partSizes: readonly number[], n: number): { start: number; end: number } | undefined {
  if (n > partSizes.length) throw new S3Error('InvalidPartNumber');
  const start = partSizes.slice(0, n - 1).reduce((a, b) => a + b, 0);
  const size = partSizes[n - 1]!;
  // An empty object is served whole (200); an empty part inside a larger object has no byte range.
  if (size === 0 && partSizes.length === 1) return undefined;
  if (size === 0) throw new S3Error('InvalidPartNumber');
  return { start, end: start + size - 1 };
}

function unsatisfiable(size: number): S3Error {
  return new S3Error('InvalidRange', undefined, { headers: { 'content-range': `bytes */${size}` }, details: { ActualObjectSize: size } });
}

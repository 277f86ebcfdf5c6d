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

function unsatisfiable(size: number): S3Error {
  return new S3Error('InvalidRange', undefined, { headers: { 'content-range': `bytes */${size}` }, details: { ActualObjectSize: size } });
}

// Object key rules every store enforces before a byte is written. The embedded store never maps
// keys to paths, but keys that look like path escapes are refused anyway: they would escape a
// directory on any backend or tool that does (s3fs, `aws s3 sync` to disk, MinIO's fs mode).
import { S3Error } from '../s3/errors.ts';

export const MAX_KEY_BYTES = 1024;

/** Throws the S3 error a client should see for an unusable key. */
export function validateKey(key: string): void {
  if (key === '') throw new S3Error('InvalidArgument', 'The object key must not be empty.');
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', `Your key is ${bytes} bytes long; the limit is ${MAX_KEY_BYTES} bytes.`, { details: { MaxSizeAllowed: MAX_KEY_BYTES, Size: bytes } });
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new S3Error('InvalidArgument', 'Object keys must not contain NUL or control characters.', { details: { ArgumentName: 'key' } });
  if (key.includes('\ufffd')) throw new S3Error('InvalidArgument', 'Object keys must be valid UTF-8.', { details: { ArgumentName: 'key' } });
  if (key.startsWith('/')) throw new S3Error('InvalidArgument', 'Object keys must not start with "/".', { details: { ArgumentName: 'key' } });
  if (key.split('/').some((s) => s === '..' || s === '.')) {
    throw new S3Error('InvalidArgument', 'Object keys must not contain "." or ".." path segments.', { details: { ArgumentName: 'key' } });
  }
}

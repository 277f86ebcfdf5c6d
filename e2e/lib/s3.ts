// Small helpers shared by the suites that drive @aws-sdk/client-s3.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { S3ServiceException, type S3Client } from '@aws-sdk/client-s3';

export const MiB = 1024 * 1024;

export const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Reads an SDK response body (or any async iterable of bytes) whole. */
export async function bytes(body: unknown): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Resolves with the S3 error the promise rejects with; fails the test when it succeeds. */
export async function s3Error(p: Promise<unknown>): Promise<S3ServiceException> {
  try {
    await p;
  } catch (e) {
    if (e instanceof S3ServiceException) return e;
    throw e;
  }
  assert.fail('expected an S3 error');
}

/** Every response header `s3` receives from now on, by request (read off its deserialize step). */
export function recordHeaders(s3: S3Client): Record<string, string>[] {
  const seen: Record<string, string>[] = [];
  s3.middlewareStack.add((next) => async (args) => {
    const out = await next(args);
    seen.push((out.response as { headers: Record<string, string> }).headers);
    return out;
  }, { step: 'deserialize', name: 'recordHeaders' });
  return seen;
}

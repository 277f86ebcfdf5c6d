// Credentials and clock of the AWS SigV4 documentation examples ("examplebucket", 2013-05-24),
// shared by the auth tests (the SigV2 examples use the same key pair), and the refusal check.
import assert from 'node:assert/strict';
import { S3Error } from '../s3/errors.ts';
import { verifyRequest, type AuthInput } from './sigv4.ts';

export const EXAMPLE = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
export const EXAMPLE_NOW = new Date('2013-05-24T00:00:00Z');
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const lookupExample = (id: string): string | undefined => (id === EXAMPLE.accessKeyId ? EXAMPLE.secretAccessKey : undefined);

/** Asserts that verifying `input` with the example key fails with the S3 error `code`. */
export function rejects(input: AuthInput, code: string, check?: (e: S3Error) => void): void {
  assert.throws(() => verifyRequest(input, lookupExample), (e: unknown) => {
    assert.ok(e instanceof S3Error, String(e));
    assert.equal(e.code, code, e.message);
    check?.(e);
    return true;
  });
}

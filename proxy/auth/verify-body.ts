// The body verifier: a pass-through stage that counts and hashes the decoded bytes and, before
// it lets the stream end, checks them against every digest the client declared. A mismatch
// destroys the stream with the S3 error instead of ending it, so nothing half-checked commits.
import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from '../s3/errors.ts';
import type { ChecksumAlgorithm, Checksums } from '../store/types.ts';
import { createDigest, decodeDigest, DIGEST_BYTES, type Digest } from './checksums.ts';

export { parseIntegrityHeaders, type IntegrityHeaders } from './integrity-headers.ts';

export interface BodyVerifierOptions {
  expectedSize: number;
  /** Content-MD5 header (base64). */
  contentMd5?: string;
  /** The signed payload hash (hex), when x-amz-content-sha256 is a hash. */
  sha256Hex?: string;
  /** Filled with base64 digests of the expected algorithm and computeAlgs when the body checks out. */
  checksums: Checksums;
  /** The checksum to verify: its value now (header), or undefined when it comes as a trailer. */
  expect?: { alg: ChecksumAlgorithm; value?: string };
  /** Called at the end for a trailer-borne expected value. */
  trailerValue?: () => string | undefined;
  /** More algorithms to compute (and store) without a value to check. */
  computeAlgs?: ChecksumAlgorithm[];
}

/**
 * Counts and hashes the decoded bytes and checks them against every declared digest: the
 * verifier's logic without a stream, for a body moved without one (s3/raw-body.ts).
 */
export class BodyTally {
  #opts: BodyVerifierOptions;
  #count = 0;
  #md5: Digest | undefined;
  #sha256: Digest | undefined;
  #digests = new Map<ChecksumAlgorithm, Digest>();

  constructor(opts: BodyVerifierOptions) {
    if (opts.contentMd5 !== undefined && !decodeDigest(opts.contentMd5, DIGEST_BYTES.md5)) {
      throw new S3Error('InvalidDigest', 'The Content-MD5 you specified is not valid.');
    }
    this.#opts = opts;
    if (opts.contentMd5 !== undefined) this.#md5 = createDigest('md5');
    // A sha256 checksum is the same digest as the payload hash: compute it once.
    if (opts.sha256Hex !== undefined) this.#sha256 = createDigest('sha256');
    for (const alg of [opts.expect?.alg, ...(opts.computeAlgs ?? [])]) {
      if (!alg || this.#digests.has(alg)) continue;
      this.#digests.set(alg, alg === 'sha256' && this.#sha256 ? this.#sha256 : createDigest(alg));
    }
  }

  get count(): number {
    return this.#count;
  }

  get expectedSize(): number {
    return this.#opts.expectedSize;
  }

  /** True when no digest is computed: only the length is checked. */
  get lengthOnly(): boolean {
    return !this.#md5 && !this.#sha256 && this.#digests.size === 0;
  }

  /** Throws IncompleteBody when the bytes run past the declared size. */
  update(chunk: Buffer): void {
    this.#count += chunk.length;
    if (this.#count > this.#opts.expectedSize) {
      throw new S3Error('IncompleteBody', `The body is longer than the declared ${this.#opts.expectedSize} bytes.`);
    }
    this.#md5?.update(chunk);
    if (this.#sha256) this.#sha256.update(chunk);
    for (const d of this.#digests.values()) if (d !== this.#sha256) d.update(chunk);
  }

  /** At the end: throws the S3 error of the first check that fails, else fills opts.checksums. */
  check(): void {
    const o = this.#opts;
    if (this.#count !== o.expectedSize) {
      throw new S3Error('IncompleteBody', `You did not provide the number of bytes declared (${o.expectedSize}); received ${this.#count}.`);
    }
    if (this.#md5) {
      const got = this.#md5.digest().toString('base64');
      if (got !== o.contentMd5) {
        throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.', {
          details: { ExpectedDigest: o.contentMd5!, CalculatedDigest: got },
        });
      }
    }
    const computed = new Map<ChecksumAlgorithm, string>();
    for (const [alg, d] of this.#digests) if (d !== this.#sha256) computed.set(alg, d.digest().toString('base64'));
    if (this.#sha256) {
      const sum = this.#sha256.digest();
      if (this.#digests.has('sha256')) computed.set('sha256', sum.toString('base64'));
      const hex = sum.toString('hex');
      if (hex !== o.sha256Hex!.toLowerCase()) {
        throw new S3Error('XAmzContentSHA256Mismatch', undefined, {
          details: { ClientComputedContentSHA256: o.sha256Hex!, S3ComputedContentSHA256: hex },
        });
      }
    }
    if (o.expect) this.#checkExpected(o.expect.alg, o.expect.value ?? o.trailerValue?.(), computed.get(o.expect.alg)!);
    for (const [alg, v] of computed) o.checksums[alg] = v;
  }

  #checkExpected(alg: ChecksumAlgorithm, value: string | undefined, got: string): void {
    const name = alg.toUpperCase();
    if (value === undefined) throw new S3Error('InvalidRequest', `The x-amz-checksum-${alg} trailer was declared but not received.`);
    if (!decodeDigest(value, DIGEST_BYTES[alg])) throw new S3Error('InvalidDigest', `Value for x-amz-checksum-${alg} is invalid.`);
    if (value !== got) {
      throw new S3Error('BadDigest', `The ${name} you specified did not match the calculated checksum.`, {
        details: { ExpectedDigest: value, CalculatedDigest: got },
      });
    }
  }
}

class BodyVerifier extends Transform {
  #tally: BodyTally;

  constructor(opts: BodyVerifierOptions) {
    super();
    this.#tally = new BodyTally(opts);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.#tally.update(chunk);
    } catch (e) {
      done(e as Error);
      return;
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    try {
      this.#tally.check();
      done();
    } catch (e) {
      done(e as Error);
    }
  }
}

export function createBodyVerifier(opts: BodyVerifierOptions): Transform {
  return new BodyVerifier(opts);
}

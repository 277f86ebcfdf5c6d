// The request-time rules SigV4 and SigV2 share: a signed request is valid within 15 minutes of
// the gateway's clock, and the error says both times, as S3's does.
import { S3Error } from '../s3/errors.ts';

export const MAX_SKEW_MS = 15 * 60 * 1000;

export function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** RequestTimeTooSkewed when the request time `t` (ms, sent as `raw`) is more than 15 minutes from `now`. */
export function checkSkew(raw: string, t: number, now: Date): void {
  if (Math.abs(now.getTime() - t) > MAX_SKEW_MS) {
    throw new S3Error('RequestTimeTooSkewed', undefined, {
      details: { RequestTime: raw, ServerTime: isoSeconds(now), MaxAllowedSkewMilliseconds: MAX_SKEW_MS },
    });
  }
}

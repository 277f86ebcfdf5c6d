// Which S3 operation is this request? Only used to match faults, so anything the gateway's router
// refuses (unknown sub-resources such as ?tagging, malformed URLs) is `Other` and still forwarded.
import type { IncomingHttpHeaders } from 'node:http';
import { parseTarget, resolveOperation } from '../../proxy/s3/route.ts';

export interface Classified {
  operation: string;
  bucket?: string;
  key?: string;
}

export function classify(method: string, rawUrl: string, headers: IncomingHttpHeaders, domains: readonly string[]): Classified {
  let target;
  try {
    target = parseTarget(rawUrl, headers.host, domains);
  } catch {
    return { operation: 'Other' };
  }
  try {
    return { operation: resolveOperation(method, target, headers), bucket: target.bucket, key: target.key };
  } catch {
    return { operation: 'Other', bucket: target.bucket, key: target.key };
  }
}

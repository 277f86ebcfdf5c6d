// Fault: "200 OK" whose body is an S3 <Error> — what S3 does when CompleteMultipartUpload or
// CopyObject fails after the response has started. Leading whitespace mimics S3's keep-alive
// padding; clients must look at the body, not the status.
import type { ServerResponse } from 'node:http';
import type { FaultOf } from '../model.ts';
import { defaultMessage, errorDocument } from './error.ts';
import { S3Error } from '../../../proxy/s3/errors.ts';

export function sendError200Fault(res: ServerResponse, spec: FaultOf<'error200'>, requestId: string): void {
  const err = S3Error.custom(spec.code, 200, spec.message ?? defaultMessage(spec.code));
  const doc = errorDocument(err, (res.req.url ?? '/').split('?')[0]!, requestId);
  const body = Buffer.from(doc.replace('<?xml version="1.0" encoding="UTF-8"?>\n', '<?xml version="1.0" encoding="UTF-8"?>\n\n  \n'));
  res.writeHead(200, { 'content-type': 'application/xml', 'content-length': body.length, 'x-amz-request-id': requestId, 'x-amz-id-2': requestId });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

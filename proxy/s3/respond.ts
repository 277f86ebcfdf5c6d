// Writing responses: S3 XML documents and S3 XML errors, with the headers every response carries.
import type { ServerResponse } from 'node:http';
import { S3Error } from './errors.ts';
import { escapeXml } from './xml.ts';

export function sendXml(res: ServerResponse, status: number, xml: string, headers: Record<string, string> = {}): void {
  const body = Buffer.from(xml, 'utf8');
  res.writeHead(status, { ...headers, 'content-type': 'application/xml', 'content-length': body.length });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string | number> = {}): void {
  res.writeHead(status, { ...headers, 'content-length': 0 });
  res.end();
}

export function errorXml(err: S3Error, resource: string, requestId: string): string {
  let extra = '';
  for (const [k, v] of Object.entries(err.details)) extra += `<${k}>${escapeXml(String(v))}</${k}>`;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(err.code)}</Code><Message>${escapeXml(err.message)}</Message>` +
    `${extra}<Resource>${escapeXml(resource)}</Resource><RequestId>${requestId}</RequestId><HostId>${requestId}</HostId></Error>`;
}

/**
 * Sends an S3 error. HEAD gets the status and headers only. When the request body was not read
 * (an early auth or validation failure) the connection is closed instead of draining a body
 * that may be gigabytes long.
 */
export function sendError(res: ServerResponse, err: S3Error, resource: string, requestId: string, bodyUnread: boolean): void {
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  const headers: Record<string, string | number> = { ...err.headers };
  if (bodyUnread) headers.connection = 'close';
  if (err.status === 304) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const body = Buffer.from(errorXml(err, resource, requestId), 'utf8');
  headers['content-type'] = 'application/xml';
  headers['content-length'] = body.length;
  res.writeHead(err.status, headers);
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

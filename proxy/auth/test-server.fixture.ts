// A tiny real HTTP server for the auth tests: every request goes through verifyRequest and then
// a per-test handler; S3 errors are answered as S3 XML so real SDKs parse them.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { S3Error } from '../s3/errors.ts';
import { verifyRequest, type AuthResult, type KeyLookup } from './sigv4.ts';

export type Handler = (req: IncomingMessage, res: ServerResponse, auth: AuthResult) => Promise<void> | void;

export function sendS3Error(res: ServerResponse, e: unknown): void {
  const err = e instanceof S3Error ? e : new S3Error('InternalError', String(e));
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const extra = Object.entries(err.details).map(([k, v]) => `<${k}>${String(v).replace(/&/g, '&amp;').replace(/</g, '&lt;')}</${k}>`).join('');
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${err.code}</Code><Message>${err.message}</Message>${extra}<RequestId>t</RequestId></Error>`;
  res.writeHead(err.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}

export async function startAuthServer(keys: KeyLookup, handler: Handler): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const server = createServer(async (req, res) => {
    try {
      const auth = verifyRequest({ method: req.method!, rawUrl: req.url!, headers: req.headers, headersDistinct: req.headersDistinct }, keys);
      await handler(req, res, auth);
    } catch (e) {
      sendS3Error(res, e);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

export async function readAll(req: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

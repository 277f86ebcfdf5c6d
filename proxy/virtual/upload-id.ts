// Client-visible multipart upload ids: the backend's name and its own upload id, so the backend
// is known from the id alone even if the index lost the upload's row. The index still decides
// which bucket and key an upload belongs to.

export function encodeUploadId(backend: string, backendUploadId: string): string {
  return Buffer.from(`${backend}\n${backendUploadId}`, 'utf8').toString('base64url');
}

export function decodeUploadId(id: string): { backend: string; backendUploadId: string } | undefined {
  if (!/^[A-Za-z0-9_-]{3,2048}$/.test(id)) return undefined;
  const text = Buffer.from(id, 'base64url').toString('utf8');
  const nl = text.indexOf('\n');
  if (nl <= 0 || nl === text.length - 1) return undefined;
  return { backend: text.slice(0, nl), backendUploadId: text.slice(nl + 1) };
}

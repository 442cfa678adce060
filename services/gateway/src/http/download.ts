import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Sends content-addressed bytes: the hash is a strong ETag (the bytes can never change under
 * it), so a client that already holds them gets a 304.
 */
export function sendBytes(req: IncomingMessage, res: ServerResponse, hash: string, bytes: Uint8Array): void {
  const etag = `"${hash}"`;
  const headers = { etag, 'x-content-sha256': hash, 'cache-control': 'private, max-age=31536000, immutable' };
  if ((req.headers['if-none-match'] ?? '').split(',').some((t) => t.trim() === etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream', 'content-length': String(bytes.byteLength) });
  res.end(bytes);
}

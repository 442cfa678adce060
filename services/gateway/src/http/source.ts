import type { IncomingMessage } from 'node:http';

/**
 * The address a request came from. Behind `trustedHops` reverse proxies (the deployment's load
 * balancer) every connection comes from a proxy, so the client is the address the nearest trusted
 * proxy appended to `X-Forwarded-For`: counted from the right, since a client can write anything
 * on the left. Kept in memory only (rate-limit keys) and pseudonymised before any report.
 */
export function sourceAddress(req: IncomingMessage, trustedHops: number): string {
  const socket = req.socket?.remoteAddress ?? 'unknown';
  if (trustedHops <= 0) return socket;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  return hops.length >= trustedHops ? hops[hops.length - trustedHops]!.slice(0, 64) : socket;
}

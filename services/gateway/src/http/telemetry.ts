/**
 * Traces and metrics of the gateway's HTTP requests: each request is a SERVER span (the child of
 * the caller's `traceparent`, if it sends one, else the root of a new trace), active while Nest
 * handles it, so the NATS requests it makes carry it on to the services. Each request is counted
 * and timed by method, route template and status: templates, never raw paths, so that ids in
 * URLs never become label values.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { tracer } from '@weai/messaging';
import { Counter, Histogram } from 'prom-client';

const requests = new Counter({ name: 'weai_http_requests_total', help: 'HTTP requests the gateway answered, by method, route template and status', labelNames: ['method', 'route', 'status'] });
const duration = new Histogram({
  name: 'weai_http_request_duration_seconds',
  help: 'Time the gateway took to answer, by method and route template',
  labelNames: ['method', 'route'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
});

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The route template Express matched (`/v1/jobs/:jobId`), or a fixed word when none did. */
function routeOf(req: IncomingMessage & { route?: { path?: unknown }; baseUrl?: string }, status: number): string {
  const path = req.route?.path;
  if (typeof path === 'string') return `${req.baseUrl ?? ''}${path}`;
  if ((req.url ?? '').startsWith('/app/')) return '/app/*';
  return status === 404 ? 'unmatched' : 'other';
}

/** Express middleware: a span and the metrics per request. Install before the routes. */
export function httpTelemetry() {
  return (req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    const started = performance.now();
    const method = METHODS.has(req.method ?? '') ? req.method! : 'OTHER';
    const path = (req.url ?? '').split('?')[0]!;
    // Load balancers probe /healthz every few seconds: counted, never traced.
    const parent = path === '/healthz' ? undefined : propagation.extract(ROOT_CONTEXT, req.headers);
    const span = parent && tracer().startSpan(method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': path } }, parent);
    res.once('close', () => {
      const status = res.statusCode;
      const route = routeOf(req, status);
      requests.inc({ method, route, status: String(status) });
      duration.observe({ method, route }, (performance.now() - started) / 1000);
      if (!span) return;
      span.updateName(`${method} ${route}`);
      span.setAttributes({ 'http.route': route, 'http.response.status_code': status });
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    if (parent && span) context.with(trace.setSpan(parent, span), next);
    else next();
  };
}

import type { ServerResponse } from 'node:http';
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Inject, Logger } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { activeTraceId } from '@weai/messaging';
import type { DenialReporter } from '../audit/denials';
import { AuthenticationError } from '../auth/authenticator';
import { principalOf } from '../auth/auth.guard';
import type { GatewayConfig } from '../config';
import { DENIALS, GATEWAY_CONFIG } from '../tokens';
import { ApiError, type ApiErrorBody } from './api-error';
import { sourceAddress } from './source';

/** Nest's own HTTP exceptions (unknown route, wrong method) get a code from their status. */
const CODES: Record<number, string> = { 400: 'bad-request', 401: 'unauthorized', 403: 'forbidden', 404: 'not-found', 405: 'method-not-allowed', 413: 'payload-too-large', 415: 'unsupported-media-type' };

/** What Express adds to a request that the audit reads: the matched route and its parameters. */
type Request = IncomingMessage & { route?: { path?: string }; params?: Record<string, string | undefined> };

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);

/**
 * Renders every error as `{ error: { code, message } }`. An ApiError keeps its status, code and
 * message; anything unexpected is logged and answered as a 500 without internals. Every refusal
 * (401, 403, 429 and object-level 404s) is reported to the security audit.
 */
@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('Gateway');

  constructor(
    @Inject(DENIALS) private readonly denials: DenialReporter,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const req = host.switchToHttp().getRequest<Request>();
    const res = host.switchToHttp().getResponse<ServerResponse>();
    const { status, body, headers } = this.render(exception);
    if (exception instanceof ApiError && exception.audited) this.audit(exception, req);
    if (res.headersSent) {
      // A stream (events, a download) failed after it began: all that is left is to cut it.
      res.destroy();
      return;
    }
    res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  }

  private audit(error: ApiError, req: Request): void {
    const refusal = error.status === 401 || error.status === 403 || error.status === 429 || error.refusal !== undefined;
    if (!refusal) return;
    const route = req.route?.path ?? 'unrouted';
    const action = `${METHODS.has(req.method ?? '') ? req.method : 'OTHER'} ${route}`;
    const source = this.denials.pseudonym(sourceAddress(req, this.config.trustedProxyHops));
    const now = new Date();
    if (error.status === 401) {
      this.denials.report({ kind: 'authentication', claimedId: error instanceof AuthenticationError ? error.claimedId : undefined, action, reason: error.message, source }, now);
      return;
    }
    this.denials.report({ kind: 'access', principal: principalOf(req), action, resource: error.refusal?.resource ?? resourceOf(req, route), reason: error.message, source }, now);
  }

  private render(exception: unknown): { status: number; body: ApiErrorBody; headers: Record<string, string> } {
    if (exception instanceof ApiError) {
      return { status: exception.status, body: { error: { code: exception.code, message: exception.message } }, headers: { ...exception.headers } };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      return { status, body: { error: { code: CODES[status] ?? `http-${status}`, message: exception.message } }, headers: {} };
    }
    const traceId = activeTraceId();
    this.logger.error(`${(exception as Error)?.stack ?? String(exception)}${traceId ? ` traceId=${traceId}` : ''}`);
    return { status: 500, body: { error: { code: 'internal', message: 'internal error' } }, headers: {} };
  }
}

/** The opaque id a refusal was about, from the validated-shape path parameters; the route otherwise. */
function resourceOf(req: Request, route: string): string {
  const params = req.params ?? {};
  const opaque = (v: string | undefined) => (v && /^[A-Za-z0-9_-]{1,128}$/.test(v) ? v : undefined);
  const job = opaque(params['jobId']);
  if (job) return `job:${job}`;
  const hash = params['hash'];
  if (hash && /^[0-9a-f]{64}$/.test(hash)) return `object:${hash}`;
  const node = opaque(params['nodeId']);
  if (node) return `node:${node}`;
  return `route:${route}`;
}

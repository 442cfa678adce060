import type { ServerResponse } from 'node:http';
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ApiError, type ApiErrorBody } from './api-error';

/** Nest's own HTTP exceptions (unknown route, wrong method) get a code from their status. */
const CODES: Record<number, string> = { 400: 'bad-request', 401: 'unauthorized', 403: 'forbidden', 404: 'not-found', 405: 'method-not-allowed', 413: 'payload-too-large', 415: 'unsupported-media-type' };

/**
 * Renders every error as `{ error: { code, message } }`. An ApiError keeps its status, code and
 * message; anything unexpected is logged and answered as a 500 without internals.
 */
@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('Gateway');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<ServerResponse>();
    const { status, body, headers } = this.render(exception);
    if (res.headersSent) {
      // A stream (events, a download) failed after it began: all that is left is to cut it.
      res.destroy();
      return;
    }
    res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  }

  private render(exception: unknown): { status: number; body: ApiErrorBody; headers: Record<string, string> } {
    if (exception instanceof ApiError) {
      return { status: exception.status, body: { error: { code: exception.code, message: exception.message } }, headers: { ...exception.headers } };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      return { status, body: { error: { code: CODES[status] ?? `http-${status}`, message: exception.message } }, headers: {} };
    }
    this.logger.error((exception as Error)?.stack ?? String(exception));
    return { status: 500, body: { error: { code: 'internal', message: 'internal error' } }, headers: {} };
  }
}

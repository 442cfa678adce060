import { RpcError } from '@weai/messaging';
import { ApiError } from '../http/api-error';

/** How one service's refusal codes map to HTTP statuses; `bad-request` is always a 400. */
export type CodeMap = Readonly<Record<string, number>>;

/**
 * Runs a request to another service and turns its refusal into an ApiError: a code in `codes`
 * keeps the service's message (written for the caller), no answer is a 503 with Retry-After,
 * anything else a 502 that says which service failed.
 */
export async function askService<T>(service: string, codes: CodeMap, request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    if (!(error instanceof RpcError)) throw new ApiError(502, 'upstream-error', `the ${service} service could not be reached`);
    if (error.code === 'unavailable' || error.code === 'timeout') {
      throw new ApiError(503, error.code, `the ${service} service is not answering (${error.message}); try again shortly`, { 'retry-after': '5' });
    }
    const status = error.code === 'bad-request' ? 400 : codes[error.code];
    if (status) throw new ApiError(status, error.code, error.message);
    throw new ApiError(502, 'upstream-error', `the ${service} service failed: ${error.message}`);
  }
}

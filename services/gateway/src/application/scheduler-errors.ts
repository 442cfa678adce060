import { RpcError } from '@weai/messaging';
import { ApiError } from '../http/api-error';

/**
 * The scheduler's refusal codes as HTTP answers. The scheduler's message is passed on: it is
 * written for the partner (which field, which limit, ONNX Runtime's own words about the model).
 */
export function fromScheduler(error: unknown): ApiError {
  if (!(error instanceof RpcError)) return new ApiError(502, 'upstream-error', 'the scheduler could not be reached');
  switch (error.code) {
    case 'job.rejected':
    case 'bad-request':
      return new ApiError(400, error.code, error.message);
    case 'job.not-found': {
      // Another partner's job answers exactly as a missing one; both are recorded as refusals.
      const notFound = new ApiError(404, error.code, error.message);
      notFound.refusal = {};
      return notFound;
    }
    case 'job.id-taken':
    case 'job.finished':
      return new ApiError(409, error.code, error.message);
    case 'unavailable':
    case 'timeout':
      return new ApiError(503, error.code, `the scheduler is not answering (${error.message}); try again shortly`, { 'retry-after': '5' });
    default:
      return new ApiError(502, 'upstream-error', `the scheduler failed: ${error.message}`);
  }
}

/** Runs a scheduler request, turning its refusal into the matching ApiError. */
export async function askScheduler<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    throw fromScheduler(error);
  }
}

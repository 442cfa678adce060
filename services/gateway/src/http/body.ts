import type { IncomingMessage } from 'node:http';
import { type ExecutionContext, type PipeTransform, createParamDecorator } from '@nestjs/common';
import type { z } from 'zod';
import { ApiError, describeIssues } from './api-error';

/** JSON request bodies are small: a job, a cancellation. */
export const MAX_JSON_BYTES = 64 * 1024;

/** Whether the request declares this media type (parameters such as charset ignored). */
export function hasMediaType(req: IncomingMessage, type: string): boolean {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase() === type;
}

/**
 * Reads a request body of at most `limit` bytes. A declared Content-Length over the limit is
 * refused before a byte is read; a chunked body is refused as soon as it passes the limit, and the
 * rest is discarded so that the client still reads the 413.
 */
export async function readBody(req: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const tooLarge = (size: string) =>
    new ApiError(413, 'payload-too-large', `${what} is ${size} bytes; the limit is ${formatBytes(limit)}`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(String(declared));
  // Listeners, not `for await`: leaving an async iterator destroys the request, and with it the
  // keep-alive socket the client will read the 413 from (or send its next request on).
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      cleanup();
      req.on('error', () => undefined).resume();
      reject(tooLarge(`more than ${limit}`));
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(new ApiError(400, 'bad-request', `the request body could not be read: ${error.message}`));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

/** Reads, parses and validates a JSON body; every failure is a 4xx naming what is wrong. */
class JsonBodyPipe<S extends z.ZodType> implements PipeTransform<IncomingMessage, Promise<z.infer<S>>> {
  constructor(private readonly schema: S) {}

  async transform(req: IncomingMessage): Promise<z.infer<S>> {
    if (!hasMediaType(req, 'application/json')) {
      throw new ApiError(415, 'unsupported-media-type', `send the body as JSON with Content-Type: application/json (got ${req.headers['content-type'] ?? 'none'})`);
    }
    const text = (await readBody(req, MAX_JSON_BYTES, 'the JSON body')).toString('utf8');
    if (!text.trim()) throw new ApiError(400, 'bad-request', 'the request body is empty: expected a JSON object');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new ApiError(400, 'bad-request', `the request body is not valid JSON: ${(error as Error).message}`);
    }
    const parsed = this.schema.safeParse(json, { error: (issue) => (issue.code === 'invalid_type' && issue.input === undefined ? 'required' : undefined) });
    if (!parsed.success) throw new ApiError(400, 'bad-request', describeIssues(parsed.error.issues, 'body'));
    return parsed.data;
  }
}

const RawRequest = createParamDecorator((_: unknown, ctx: ExecutionContext) => ctx.switchToHttp().getRequest<IncomingMessage>());

/**
 * The request body as JSON validated by `schema`. The gateway runs without a body parser, so the
 * body is read only here, after authentication, with the gateway's own limit and error messages.
 */
export function JsonBody<S extends z.ZodType>(schema: S): ParameterDecorator {
  return RawRequest(new JsonBodyPipe(schema));
}

/** Validates a path parameter; a bad one is a 400 naming it. */
export class ParamPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(
    private readonly name: string,
    private readonly schema: S,
  ) {}

  transform(value: unknown): z.infer<S> {
    const parsed = this.schema.safeParse(value);
    if (!parsed.success) throw new ApiError(400, 'bad-request', `${this.name}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    return parsed.data;
  }
}

/** Validates the whole query string; an unknown, repeated or bad parameter is a 400 naming it. */
export class QueryPipe<S extends z.ZodType> implements PipeTransform<unknown, z.infer<S>> {
  constructor(private readonly schema: S) {}

  transform(value: unknown): z.infer<S> {
    const parsed = this.schema.safeParse(value ?? {});
    if (!parsed.success) throw new ApiError(400, 'bad-request', describeIssues(parsed.error.issues, 'query'));
    return parsed.data;
  }
}

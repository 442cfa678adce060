import type { JobStatus, WeaiEvent } from '@weai/contracts';
import { type Tensor, decodeTensor, encodeTensor, sha256 } from '@weai/tensors';
import type { JobOutcome, JobRequest } from './partner';

/** How to reach the WE-AI partner gateway. */
export interface PartnerHttpClientOptions {
  /** The gateway's base URL, e.g. `https://api.weai.example` (no `/v1`). */
  readonly baseUrl: string;
  /** The partner's API key, or an access token from `POST /v1/auth/token`, sent as `Authorization: Bearer <apiKey>`. */
  readonly apiKey: string;
  /** Limit on each request other than `follow`, in milliseconds; default 300 000. */
  readonly timeoutMs?: number;
  /** How many times `follow` reconnects in a row, without receiving an event, before giving up; default 5. */
  readonly maxReconnects?: number;
  /** The fetch to use; default Node's global `fetch`. */
  readonly fetch?: typeof fetch;
}

/** An object stored by `POST /v1/objects`. */
export interface StoredObject {
  /** Its SHA-256, lowercase hex: the name to submit it by. */
  readonly hash: string;
  /** Its size in bytes. */
  readonly size: number;
}

/**
 * What to download: an object by its SHA-256, or the output of a completed job by the job's id.
 * A plain string is taken as a hash when it is 64 lowercase hex digits, else as a job id.
 */
export type DownloadRef = string | { readonly hash: string } | { readonly jobId: string };

/**
 * A refusal or failure of the gateway, as `{ error: { code, message } }` said it.
 * `status` 0 means no HTTP answer came (`code` "network" or "timeout").
 */
export class PartnerApiError extends Error {
  override readonly name = 'PartnerApiError';
  constructor(
    /** The HTTP status, or 0 when the gateway could not be reached. */
    readonly status: number,
    /** A stable code, e.g. "job.rejected", "job.not-found", "unauthorized", "payload-too-large". */
    readonly code: string,
    /** Why, in words meant for a person. */
    message: string,
  ) {
    super(message);
  }
}

const SHA256 = /^[0-9a-f]{64}$/;
const TERMINAL = new Set(['JobCompleted', 'JobFailed', 'JobCancelled']);

/**
 * A partner's client of the WE-AI HTTP gateway: the same operations as {@link PartnerClient}
 * over HTTPS instead of NATS. The partner is the one the API key belongs to.
 *
 * ```ts
 * const weai = new PartnerHttpClient({ baseUrl: 'https://api.weai.example', apiKey });
 * const job = await weai.submit(await weai.uploadModel(onnx), await weai.uploadDataset(data), { shardSize: 64, capability: 'cpu.generic', deadline, redundancy });
 * const outcome = await weai.follow(job.jobId, (e) => console.log(e.type));
 * if (outcome.status === 'completed') console.log(await weai.downloadTensor({ jobId: job.jobId }));
 * ```
 */
export class PartnerHttpClient {
  private readonly baseUrl: string;
  private readonly fetch: typeof fetch;

  /** A client for one partner; nothing is sent until the first call. */
  constructor(private readonly options: PartnerHttpClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /** Uploads bytes to the content-addressed object store; storing the same bytes again stores nothing new. */
  upload(bytes: Uint8Array): Promise<StoredObject> {
    return this.json<StoredObject>('POST', '/v1/objects', { body: bytes, contentType: 'application/octet-stream' });
  }

  /** Uploads a model (ONNX bytes); resolves with its SHA-256. */
  async uploadModel(onnx: Uint8Array): Promise<string> {
    return (await this.upload(onnx)).hash;
  }

  /** Uploads a dataset (items along dimension 0) as a WEAT tensor; resolves with its SHA-256. */
  async uploadDataset(dataset: Tensor): Promise<string> {
    return (await this.upload(encodeTensor(dataset))).hash;
  }

  /**
   * Submits a job on uploaded objects; resolves once the scheduler accepted it. A job id is
   * chosen here when `job.jobId` is absent, so that a retried call is the same job.
   */
  submit(modelHash: string, inputHash: string, job: JobRequest): Promise<JobStatus> {
    const body = { ...job, jobId: job.jobId ?? `job-${globalThis.crypto.randomUUID()}`, modelHash, inputHash };
    return this.json<JobStatus>('POST', '/v1/jobs', { body: JSON.stringify(body), contentType: 'application/json' });
  }

  /** Where a job stands. */
  status(jobId: string): Promise<JobStatus> {
    return this.json<JobStatus>('GET', `/v1/jobs/${encodeURIComponent(jobId)}`);
  }

  /** Cancels a running job. */
  cancel(jobId: string, reason: string): Promise<JobStatus> {
    return this.json<JobStatus>('POST', `/v1/jobs/${encodeURIComponent(jobId)}/cancel`, { body: JSON.stringify({ reason }), contentType: 'application/json' });
  }

  /**
   * Follows a job through its events (server-sent events, replayed from the start) until it ends;
   * `onEvent` sees each event once, in order. A dropped connection is resumed after the last
   * event received.
   */
  async follow(jobId: string, onEvent?: (event: WeaiEvent) => void, options: { signal?: AbortSignal } = {}): Promise<JobOutcome> {
    const maxReconnects = this.options.maxReconnects ?? 5;
    let lastEventId: string | undefined;
    let failures = 0;
    let retryMs = 1000;
    for (;;) {
      let progressed = false;
      let failure: PartnerApiError;
      try {
        const res = await this.send('GET', `/v1/jobs/${encodeURIComponent(jobId)}/events`, {
          accept: 'text/event-stream',
          headers: lastEventId ? { 'last-event-id': lastEventId } : {},
          signal: options.signal,
        });
        for await (const message of parseSse(res.body!)) {
          if (message.retry !== undefined) retryMs = message.retry;
          if (!message.data) continue;
          let event: WeaiEvent;
          try {
            event = JSON.parse(message.data) as WeaiEvent;
          } catch {
            throw new PartnerApiError(res.status, 'bad-response', `event ${message.id ?? '?'} of job ${jobId} is not JSON`);
          }
          if (message.id !== undefined) lastEventId = message.id;
          progressed = true;
          onEvent?.(event);
          if (TERMINAL.has(event.type)) return outcomeOf(jobId, event);
        }
        failure = new PartnerApiError(0, 'network', `the event stream of job ${jobId} ended before the job did`);
      } catch (error) {
        // A refusal (401, 404) is final; a dropped connection is resumed.
        if (error instanceof PartnerApiError && error.status !== 0) throw error;
        if (options.signal?.aborted) throw new PartnerApiError(0, 'aborted', `following job ${jobId} was aborted`);
        failure = error instanceof PartnerApiError ? error : new PartnerApiError(0, 'network', `the event stream of job ${jobId} broke: ${(error as Error).message}`);
      }
      failures = progressed ? 1 : failures + 1;
      if (failures > maxReconnects) throw failure;
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  }

  /** Downloads an object, or a completed job's output, and checks it against its SHA-256. */
  async download(ref: DownloadRef): Promise<Uint8Array> {
    const target = typeof ref !== 'string' ? ref : SHA256.test(ref) ? { hash: ref } : { jobId: ref };
    const path = 'hash' in target ? `/v1/objects/${encodeURIComponent(target.hash)}` : `/v1/jobs/${encodeURIComponent(target.jobId)}/result`;
    const res = await this.send('GET', path, { accept: 'application/octet-stream' });
    const bytes = new Uint8Array(await res.arrayBuffer());
    const expected = 'hash' in target ? target.hash : res.headers.get('x-content-sha256');
    const actual = sha256(bytes);
    if (expected !== actual) throw new PartnerApiError(res.status, 'integrity', `downloaded bytes hash to ${actual}, expected ${expected ?? '(no X-Content-SHA256 header)'}`);
    return bytes;
  }

  /** Downloads and decodes a WEAT tensor: an uploaded dataset or a job's integrated output. */
  async downloadTensor(ref: DownloadRef): Promise<Tensor> {
    return decodeTensor(await this.download(ref));
  }

  private async json<T>(method: string, path: string, body?: { body: Uint8Array | string; contentType: string }): Promise<T> {
    const res = await this.send(method, path, { accept: 'application/json', ...body });
    try {
      return (await res.json()) as T;
    } catch (error) {
      throw new PartnerApiError(res.status, 'bad-response', `${method} ${path}: the answer is not JSON (${(error as Error).message})`);
    }
  }

  /** One request; a non-2xx answer or a failure to get one becomes a PartnerApiError. */
  private async send(
    method: string,
    path: string,
    init: { accept: string; body?: Uint8Array | string; contentType?: string; headers?: Record<string, string>; signal?: AbortSignal | undefined },
  ): Promise<Response> {
    const streaming = init.accept === 'text/event-stream';
    const timeout = streaming ? undefined : AbortSignal.timeout(this.options.timeoutMs ?? 300_000);
    const signals = [timeout, init.signal].filter((s): s is AbortSignal => !!s);
    let res: Response;
    try {
      res = await this.fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          accept: init.accept,
          ...(init.contentType ? { 'content-type': init.contentType } : {}),
          ...init.headers,
        },
        ...(init.body !== undefined ? { body: init.body } : {}),
        ...(signals.length ? { signal: AbortSignal.any(signals) } : {}),
      });
    } catch (error) {
      const timedOut = timeout?.aborted === true;
      throw new PartnerApiError(0, timedOut ? 'timeout' : 'network', `${method} ${path}: ${timedOut ? 'no answer in time' : ((error as Error).cause as Error)?.message ?? (error as Error).message}`);
    }
    if (res.ok) return res;
    const text = await res.text();
    let parsed: { error?: { code?: unknown; message?: unknown } } | undefined;
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      parsed = undefined;
    }
    const code = typeof parsed?.error?.code === 'string' ? parsed.error.code : `http-${res.status}`;
    const message = typeof parsed?.error?.message === 'string' ? parsed.error.message : `${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`;
    throw new PartnerApiError(res.status, code, message);
  }
}

function outcomeOf(jobId: string, event: WeaiEvent): JobOutcome {
  const data = event.data as { outputHash?: string; reason?: string };
  if (event.type === 'JobCompleted') return { status: 'completed', jobId, outputHash: data.outputHash! };
  return { status: event.type === 'JobFailed' ? 'failed' : 'cancelled', jobId, reason: data.reason ?? '' };
}

/** One server-sent event. */
interface SseMessage {
  id?: string;
  event?: string;
  data: string;
  retry?: number;
}

/** Parses a `text/event-stream` body (the WHATWG rules: fields, comments, multi-line data). */
async function* parseSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder();
  let buffer = '';
  let message: SseMessage = { data: '' };
  let dataLines: string[] = [];
  const line = (text: string): SseMessage | undefined => {
    if (text === '') {
      const done = { ...message, data: dataLines.join('\n') };
      message = { data: '' };
      dataLines = [];
      return done.data || done.retry !== undefined ? done : undefined;
    }
    if (text.startsWith(':')) return undefined;
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    const value = colon < 0 ? '' : text.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') dataLines.push(value);
    else if (field === 'event') message.event = value;
    else if (field === 'id' && !value.includes('\0')) message.id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) message.retry = Number(value);
    return undefined;
  };
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let at: number;
    while ((at = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const eol = buffer[at] === '\r' && buffer[at + 1] === '\n' ? 2 : 1;
      // A lone \r at the end of a chunk may be the first half of \r\n: wait for the next chunk.
      if (buffer[at] === '\r' && at + 1 === buffer.length) break;
      const done = line(buffer.slice(0, at));
      buffer = buffer.slice(at + eol);
      if (done) yield done;
    }
  }
}

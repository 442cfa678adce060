import { performance } from 'node:perf_hooks';
import { type Bus, connectBus } from '@weai/messaging';

/** Raised when NATS or JetStream still did not answer when the boot wait ran out. */
export class BootWaitTimeoutError extends Error {
  override readonly name = 'BootWaitTimeoutError';
}

/** What a boot waits for, and for how long. */
export interface BootWaitOptions {
  /** The NATS servers, named in the log lines and the final error. */
  readonly servers: readonly string[];
  /** The whole boot's bound (`WEAI_BOOT_WAIT_MS`), counted from `bootWait()`. */
  readonly waitMs: number;
  /** Where each failed attempt is reported; default stderr. */
  readonly log?: (line: string) => void;
  /** Delay before attempt n+1 (n ≥ 1); default 250 ms doubling up to 5 s. */
  readonly backoffMs?: (attempt: number) => number;
}

/** The boot of one process: every call it makes to NATS waits out a server that is not up yet. */
export interface BootWait {
  /**
   * Runs `call` until it succeeds. Errors of a NATS or JetStream still starting (connection
   * refused, unknown host, timeouts, no responders, JetStream not enabled or temporarily
   * unavailable) are retried with backoff until the boot's bound, then end in a
   * `BootWaitTimeoutError`; any other error (bad credentials, TLS, configuration) is thrown at once.
   */
  retry<T>(what: string, call: () => Promise<T>): Promise<T>;
  /** `connectBus`, retried. */
  connect(name: string): Promise<Bus>;
  /**
   * The bus whose JetStream manager retries its stream and consumer calls (add, update, info) until
   * `end()`: Nest modules create their consumers while the app starts. Afterwards the calls are the
   * manager's own again.
   */
  patient(bus: Bus): Bus;
  /** The boot is over: `patient` buses stop retrying. */
  end(): void;
}

const defaultBackoff = (attempt: number) => Math.min(250 * 2 ** (attempt - 1), 5_000);

/** Starts the boot's clock. */
export function bootWait(options: BootWaitOptions): BootWait {
  const deadline = performance.now() + options.waitMs;
  const servers = options.servers.join(',');
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const backoff = options.backoffMs ?? defaultBackoff;
  let booting = true;

  const retry = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (!isStillStarting(error)) throw error;
        const left = deadline - performance.now();
        if (left <= 0) {
          throw new BootWaitTimeoutError(
            `gave up waiting for NATS JetStream at ${servers} after ${options.waitMs} ms (WEAI_BOOT_WAIT_MS), ${what}: ${reasonOf(error)}`,
            { cause: error },
          );
        }
        log(`waiting for NATS JetStream at ${servers}: ${what}: ${reasonOf(error)} (attempt ${attempt})`);
        await new Promise((r) => setTimeout(r, Math.min(backoff(attempt), left)));
      }
    }
  };

  const patientApi = <A extends object>(api: A, label: string): A => {
    const waiting = new Set<PropertyKey>(['add', 'update', 'info']);
    return new Proxy(api, {
      get(target, prop) {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        const fn = value as (...args: unknown[]) => Promise<unknown>;
        if (!waiting.has(prop)) return fn.bind(target);
        return (...args: unknown[]) => (booting ? retry(`${label} ${String(prop)} ${nameOf(args[0])}`, () => fn.apply(target, args)) : fn.apply(target, args));
      },
    });
  };

  return {
    retry,
    connect: (name) => retry('connecting', () => connectBus({ servers: [...options.servers], name })),
    patient(bus) {
      const streams = patientApi(bus.jsm.streams, 'stream');
      const consumers = patientApi(bus.jsm.consumers, 'consumer');
      const jsm = new Proxy(bus.jsm, {
        get(target, prop) {
          if (prop === 'streams') return streams;
          if (prop === 'consumers') return consumers;
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      }) as Bus['jsm'];
      return { nc: bus.nc, js: bus.js, jsm, close: () => bus.close() };
    },
    end() {
      booting = false;
    },
  };
}

/** Error codes of a host or port not reachable yet (a container still starting, its DNS name not yet there). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
/**
 * JetStream API errors of a cluster still forming: system temporarily unavailable (10008), no
 * leader to handle the request (10009), no suitable peers (10005), insufficient resources (10023),
 * stream offline (10118).
 */
const FORMING = new Set([10008, 10009, 10005, 10023, 10118]);
/** Errors no wait can fix: credentials, permissions, client options; and a wait that already ran out. */
const PERMANENT = new Set(['AuthorizationError', 'UserAuthenticationExpiredError', 'PermissionViolationError', 'InvalidArgumentError', 'ConfigError', 'BootWaitTimeoutError']);

/** Whether an error (or one of its causes) is one of a NATS or JetStream that is not up yet, and none no wait can fix. */
export function isStillStarting(error: unknown): boolean {
  let transient = false;
  for (let e = error as ErrorLike | undefined, depth = 0; e && depth < 8; e = e.cause as ErrorLike | undefined, depth++) {
    if (PERMANENT.has(e.name ?? '')) return false;
    if (typeof e.code === 'string' && /^(ERR_TLS|ERR_SSL|ERR_OSSL|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED)/.test(e.code)) return false;
    if (
      e.name === 'TimeoutError' ||
      e.name === 'JetStreamNotEnabled' ||
      e.name === 'NoResponders' ||
      (e.name === 'ConnectionError' && e.message === 'connection refused') ||
      (typeof e.code === 'string' && UNREACHABLE.has(e.code)) ||
      (e.name === 'JetStreamApiError' && (e.status === 503 || (typeof e.code === 'number' && FORMING.has(e.code))))
    ) {
      transient = true;
    }
  }
  return transient;
}

interface ErrorLike {
  readonly name?: string;
  readonly message?: string;
  readonly code?: unknown;
  readonly status?: unknown;
  readonly cause?: unknown;
}

/** The innermost message of an error ("connect ECONNREFUSED …", not the wrapper's advice), but a JetStream one as the client says it. */
function reasonOf(error: unknown): string {
  let e = error as ErrorLike;
  while (e.name !== 'JetStreamNotEnabled' && (e.cause as ErrorLike | undefined)?.message) e = e.cause as ErrorLike;
  return e.message || String(error);
}

/** The stream a stream or consumer call is about: its first argument, a name or a configuration. */
function nameOf(arg: unknown): string {
  return typeof arg === 'string' ? arg : String((arg as { name?: unknown } | undefined)?.name ?? '');
}

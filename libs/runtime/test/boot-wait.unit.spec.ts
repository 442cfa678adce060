import { errors } from '@nats-io/transport-node';
import { JetStreamApiError } from '@nats-io/jetstream';
import { BootWaitTimeoutError, isStillStarting } from '../src/boot-wait';
import { ConfigError, DEFAULT_BOOT_WAIT_MS, bootWaitMsFromEnv } from '../src/config';

describe('WEAI_BOOT_WAIT_MS: how long a service waits for NATS JetStream at boot', () => {
  it('defaults to two minutes when unset or empty', () => {
    expect(DEFAULT_BOOT_WAIT_MS).toBe(120_000);
    expect(bootWaitMsFromEnv({})).toBe(120_000);
    expect(bootWaitMsFromEnv({ WEAI_BOOT_WAIT_MS: '' })).toBe(120_000);
  });

  it.each([
    ['0', 0],
    ['250', 250],
    [' 600000 ', 600_000],
  ])('reads %j as %d ms', (raw, ms) => {
    expect(bootWaitMsFromEnv({ WEAI_BOOT_WAIT_MS: raw })).toBe(ms);
  });

  it.each(['-1', '1.5', 'abc', '2m', '1e3', '0x10', '99999999999999999999'])('refuses %j, naming the variable', (raw) => {
    const read = () => bootWaitMsFromEnv({ WEAI_BOOT_WAIT_MS: raw });
    expect(read).toThrow(ConfigError);
    expect(read).toThrow(`WEAI_BOOT_WAIT_MS must be a whole number of milliseconds, 0 or more, got ${JSON.stringify(raw)}`);
  });
});

describe('isStillStarting: which boot errors are worth waiting out', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4222'), { code: 'ECONNREFUSED' });
  const wrapped = (cause: Error) => new Error('cannot connect to NATS at nats://127.0.0.1:4222 (…)', { cause });

  it.each([
    ['connection refused, wrapped by connectBus', wrapped(new errors.ConnectionError('connection refused', { cause: refused }))],
    ['an unknown host (a container not started yet)', Object.assign(new Error('getaddrinfo ENOTFOUND nats'), { code: 'ENOTFOUND' })],
    ['a timeout', new errors.TimeoutError()],
    ['no responders', new errors.RequestError('no responders', { cause: new errors.NoRespondersError('$JS.API.INFO') })],
    ['JetStream temporarily unavailable', new JetStreamApiError({ code: 503, err_code: 10008, description: 'JetStream system temporarily unavailable' })],
  ])('retries %s', (_, error) => {
    expect(isStillStarting(error)).toBe(true);
  });

  it.each([
    ['an authorization violation', wrapped(new errors.AuthorizationError('Authorization Violation'))],
    ['a TLS failure', new errors.ConnectionError('unable to verify the first certificate', { cause: Object.assign(new Error('x'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }) })],
    ['a server without TLS', new errors.ConnectionError("server does not support 'tls'")],
    ['a bad CA file', new Error('NATS_TLS_CA: cannot read /etc/ca.pem (ENOENT)')],
    ['a configuration error', new ConfigError('WEAI_STREAM_REPLICAS must be 1, 3 or 5, got 2')],
    ['a refused stream configuration', new JetStreamApiError({ code: 500, err_code: 10074, description: 'replicas > 1 not supported in non-clustered mode' })],
    ['a wait that already ran out', new BootWaitTimeoutError('gave up', { cause: new errors.TimeoutError() })],
    ['anything else', new Error('boom')],
  ])('fails at once on %s', (_, error) => {
    expect(isStillStarting(error)).toBe(false);
  });
});

import { securityConfigFromEnv } from '../src/config';

const base = { SECURITY_NATS_USERS_FILE: '/etc/nats/weai-users.conf', SECURITY_NATS_PID_FILE: '/var/run/nats.pid' };

describe('securityConfigFromEnv: SECURITY_RECONCILE_MS', () => {
  it('given nothing set, then each replica reconciles its server every 30 s', () => {
    expect(securityConfigFromEnv(base).reconcileMs).toBe(30_000);
  });

  it('given a whole number of milliseconds in range, then it is used', () => {
    expect(securityConfigFromEnv({ ...base, SECURITY_RECONCILE_MS: '5000' }).reconcileMs).toBe(5000);
  });

  it.each(['0', '999', '3600001', '1e4', '30s', '-5000', ''])('given %j, then it is refused naming the variable and the range', (value) => {
    expect(() => securityConfigFromEnv({ ...base, SECURITY_RECONCILE_MS: value })).toThrow(`SECURITY_RECONCILE_MS must be a whole number of milliseconds from 1000 to 3600000, got ${JSON.stringify(value)}`);
  });
});

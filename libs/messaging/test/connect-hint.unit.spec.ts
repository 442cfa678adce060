import { connectHint } from '../src/nats';

describe('connectHint: what a failed NATS connect tells the user to do', () => {
  it('given an authorization violation, then it points at the identity, not at starting a server', () => {
    const hint = connectHint(Object.assign(new Error("'Authorization Violation'"), { name: 'AuthorizationError' }));
    expect(hint).toMatch(/refused this identity: check NATS_NKEY_SEED_FILE/);
  });

  it('given a TLS failure, then it points at the CA and the URL', () => {
    expect(connectHint(new Error('self-signed certificate in certificate chain'))).toMatch(/TLS handshake failed: check NATS_TLS_CA/);
  });

  it('given no server answering, then it says how to start one', () => {
    expect(connectHint(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4222'), { code: 'ECONNREFUSED' }))).toBe('Start it with: nats-server -js (Debian: apt-get install nats-server)');
  });
});

import { AgentConfigError, DEFAULT_AGENT_CONFIG, mergeAgentConfig, overridesFrom, parseAgentConfig, validateAgentConfig } from '../src/config';
import { DEFAULT_POLICY } from '../src/policy';

const payoutAddress = `0x${'ab'.repeat(20)}`;
const errorsOf = (raw: unknown): readonly string[] => {
  const result = validateAgentConfig(raw);
  return result.ok ? [] : result.errors;
};

describe('the agent config file', () => {
  it('needs only the payout address: everything else has a safe default', () => {
    expect(parseAgentConfig({ payoutAddress })).toEqual({ payoutAddress, ...DEFAULT_AGENT_CONFIG });
    expect(DEFAULT_AGENT_CONFIG).toMatchObject({ slots: 1, gpuSlots: 1, policyIntervalMs: 250, statusPort: 47474, nvidiaSmi: null, shardTimeoutSeconds: 600, maxModelMb: 1024, policy: DEFAULT_POLICY });
  });

  it('fills missing policy settings from the policy defaults', () => {
    const config = parseAgentConfig({ payoutAddress, policy: { tariffPerKwh: 42, quietPeriodSeconds: 30 } });
    expect(config.policy).toEqual({ ...DEFAULT_POLICY, tariffPerKwh: 42, quietPeriodSeconds: 30 });
  });

  it.each([
    ['no payout address', { payoutAddress: undefined }, 'payoutAddress is required: the 0x… address the owner is paid at'],
    ['a short payout address', { payoutAddress: '0x1234' }, 'payoutAddress must be a 0x-prefixed 20-byte hex address (got "0x1234")'],
    ['no NATS server', { nats: [] }, 'nats must be a non-empty list of server URLs such as "nats://host:4222" (got [])'],
    ['a NATS host without a scheme', { nats: ['example.org:4222'] }, 'nats must be a non-empty list of server URLs such as "nats://host:4222" (got ["example.org:4222"])'],
    ['no slots', { slots: 0 }, 'slots must be an integer from 1 to 64 (got 0)'],
    ['slots as text', { slots: 'two' }, 'slots must be an integer from 1 to 64 (got "two")'],
    ['a slow policy loop', { policyIntervalMs: 2000 }, /^policyIntervalMs must be an integer from 50 to 500 ms \(the owner gets the GPU back within 1 s/],
    ['a port out of range', { statusPort: 70000 }, 'statusPort must be an integer from 0 to 65535 (0: any free port) (got 70000)'],
    ['no time limit', { shardTimeoutSeconds: 0 }, 'shardTimeoutSeconds must be an integer from 1 to 86400 s (got 0)'],
    ['a fractional model limit', { maxModelMb: 1.5 }, 'maxModelMb must be an integer from 1 to 65536 MiB (got 1.5)'],
    ['a negative CPU power', { cpuPowerW: -5 }, 'cpuPowerW must be a number from 0 to 2000 W (got -5)'],
    ['an empty nvidia-smi path', { nvidiaSmi: '' }, 'nvidiaSmi must be the path of an nvidia-smi executable, or null for automatic detection (got "")'],
    ['a misspelt field', { slot: 2 }, 'unknown field "slot"'],
    ['a bad policy setting', { policy: { maxVramShare: 1.5 } }, 'policy.maxVramShare must be a number > 0 and <= 1 (got 1.5)'],
    ['a misspelt policy setting', { policy: { temperatureCap: 70 } }, 'unknown field "policy.temperatureCap"'],
    ['a bad schedule window', { policy: { schedule: [{ days: [1], from: '25:00', to: '18:00' }] } }, 'policy.schedule[0].from must be "HH:MM" between 00:00 and 23:59 (got "25:00")'],
    ['policy as a list', { policy: [] }, 'policy must be an object of owner settings'],
  ])('%s is refused, naming the field', (_what, fields, message) => {
    const errors = errorsOf({ payoutAddress, ...fields });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toEqual(typeof message === 'string' ? message : expect.stringMatching(message));
  });

  it('reports every problem at once, saying where', () => {
    const error = (() => {
      try {
        parseAgentConfig({ payoutAddress: 'me', slots: -1, policy: { paused: 'no' } }, '/home/o/.weai-agent/agent.json');
      } catch (e) {
        return e as AgentConfigError;
      }
      throw new Error('accepted');
    })();
    expect(error).toBeInstanceOf(AgentConfigError);
    expect(error.errors).toHaveLength(3);
    expect(error.message).toBe(
      'invalid /home/o/.weai-agent/agent.json:\n- payoutAddress must be a 0x-prefixed 20-byte hex address (got "me")\n- slots must be an integer from 1 to 64 (got -1)\n- policy.paused must be true or false (got "no")',
    );
  });

  it('is not an array or a string', () => {
    expect(errorsOf([])).toEqual(['the config must be a JSON object']);
    expect(errorsOf('agent')).toEqual(['the config must be a JSON object']);
  });
});

describe('options over the file', () => {
  const file = { payoutAddress, nats: ['nats://weai.example:4222'], slots: 2, policy: { tariffPerKwh: 25 } };

  it('flags win over the environment, which wins over the file', () => {
    const overrides = overridesFrom({ slots: '4', nats: 'nats://a:1,nats://b:2' }, { NATS_URL: 'nats://env:4222', WEAI_NVIDIA_SMI: '/opt/fake/nvidia-smi' });
    const config = mergeAgentConfig(file, overrides);
    expect(config).toMatchObject({ payoutAddress, nats: ['nats://a:1', 'nats://b:2'], slots: 4, nvidiaSmi: '/opt/fake/nvidia-smi', policy: { ...DEFAULT_POLICY, tariffPerKwh: 25 } });
    expect(mergeAgentConfig(file, overridesFrom({}, { NATS_URL: 'nats://env:4222' })).nats).toEqual(['nats://env:4222']);
    expect(mergeAgentConfig(file, overridesFrom({}, {})).nats).toEqual(['nats://weai.example:4222']);
  });

  it("the network's CA comes from --nats-ca, else NATS_TLS_CA, else the file; an empty one is refused", () => {
    expect(mergeAgentConfig(file, overridesFrom({}, {})).natsCa).toBeNull();
    expect(mergeAgentConfig({ ...file, natsCa: '/etc/weai/ca.pem' }, overridesFrom({}, {})).natsCa).toBe('/etc/weai/ca.pem');
    expect(mergeAgentConfig(file, overridesFrom({}, { NATS_TLS_CA: '/env/ca.pem' })).natsCa).toBe('/env/ca.pem');
    expect(mergeAgentConfig(file, overridesFrom({ 'nats-ca': '/flag/ca.pem' }, { NATS_TLS_CA: '/env/ca.pem' })).natsCa).toBe('/flag/ca.pem');
    expect(() => mergeAgentConfig({ ...file, natsCa: '' }, {}, 'options')).toThrow("natsCa must be the path of the network's CA certificate (PEM), or null (got \"\")");
  });

  it('a flag that is not a number is shown as given', () => {
    expect(() => mergeAgentConfig(file, overridesFrom({ 'status-port': 'http' }, {}), 'options')).toThrow('invalid options:\n- statusPort must be an integer from 0 to 65535 (0: any free port) (got "http")');
  });

  it('an empty variable counts as unset', () => {
    expect(mergeAgentConfig(file, overridesFrom({}, { NATS_URL: '', WEAI_NVIDIA_SMI: '' }))).toMatchObject({ nats: ['nats://weai.example:4222'], nvidiaSmi: null });
  });

  it('without a file, the payout address can come from the environment', () => {
    expect(mergeAgentConfig(undefined, overridesFrom({}, { WEAI_PAYOUT_ADDRESS: payoutAddress })).payoutAddress).toBe(payoutAddress);
  });
});

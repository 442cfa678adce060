import { chainConfigFromEnv } from '@weai/chain';
import { bootstrapService, serviceConfigFromEnv } from '@weai/runtime';
import { connectPayoutChain } from './adapters/payout.chain';
import { readPrivateKey, rewardsConfigFromEnv } from './config';
import { RewardsModule } from './rewards.module';

async function main(): Promise<void> {
  const config = serviceConfigFromEnv(process.env, 'rewards', 'rewards');
  const rewards = rewardsConfigFromEnv(process.env);
  const chainConfig = chainConfigFromEnv(process.env);
  const chain = await connectPayoutChain(chainConfig, {
    signerKey: readPrivateKey(rewards.signerKeyPath, 'REWARDS_SIGNER_KEY'),
    ...(rewards.relayerKeyPath ? { relayerKey: readPrivateKey(rewards.relayerKeyPath, 'REWARDS_RELAYER_KEY') } : {}),
  });
  await bootstrapService(config, (bus) => RewardsModule.create(config, bus, { policy: rewards.policy, withdrawals: rewards.withdrawals, chain }));
  process.stdout.write(`rewards service ready (payouts signed by ${chain.signerAddress}, sent by ${chain.relayerAddress}, ${chain.confirmations} confirmations)\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`rewards service failed to start: ${(error as Error).message ?? String(error)}\n`);
  process.exit(1);
});

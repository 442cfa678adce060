import { FetchRequest, JsonRpcProvider, Network, getAddress } from 'ethers';

/** Where the contracts live and how far to trust the chain; read once at boot. */
export interface ChainConfig {
  /** JSON-RPC endpoint of an EVM node (`CHAIN_RPC_URL`), http(s). */
  readonly rpcUrl: string;
  /** EIP-155 chain id the endpoint must serve (`CHAIN_ID`); it is also in every voucher's domain. */
  readonly chainId: bigint;
  /** Blocks after which a redemption counts as final (`CHAIN_CONFIRMATIONS`, default 12). */
  readonly confirmations: number;
  /** `WebiToken` address (`WEBI_TOKEN_ADDRESS`), if this service uses it. */
  readonly tokenAddress: string | undefined;
  /** `WebiPayout` address (`WEBI_PAYOUT_ADDRESS`), if this service uses it. */
  readonly payoutAddress: string | undefined;
  /** `AuditAnchor` address (`AUDIT_ANCHOR_ADDRESS`), if this service uses it. */
  readonly auditAnchorAddress: string | undefined;
}

/** A chain configuration error; the message names the variable. */
export class ChainConfigError extends Error {
  override readonly name = 'ChainConfigError';
}

function address(env: NodeJS.ProcessEnv, variable: string): string | undefined {
  const value = env[variable];
  if (value === undefined || value === '') return undefined;
  try {
    return getAddress(value);
  } catch {
    throw new ChainConfigError(`${variable} must be a 0x address with a valid checksum, got ${JSON.stringify(value)}`);
  }
}

/** Reads the chain configuration; fails fast with a message naming the variable. */
export function chainConfigFromEnv(env: NodeJS.ProcessEnv): ChainConfig {
  const rpcUrl = env['CHAIN_RPC_URL'];
  if (!rpcUrl) throw new ChainConfigError('CHAIN_RPC_URL is required');
  if (!/^https?:\/\/.+/.test(rpcUrl)) throw new ChainConfigError(`CHAIN_RPC_URL must be http(s)://…, got ${JSON.stringify(rpcUrl)}`);
  const chainId = env['CHAIN_ID'];
  if (!chainId || !/^[1-9][0-9]*$/.test(chainId)) throw new ChainConfigError(`CHAIN_ID must be a positive decimal integer, got ${JSON.stringify(chainId)}`);
  const confirmations = Number(env['CHAIN_CONFIRMATIONS'] ?? 12);
  if (!Number.isSafeInteger(confirmations) || confirmations < 1) {
    throw new ChainConfigError(`CHAIN_CONFIRMATIONS must be a positive integer, got ${JSON.stringify(env['CHAIN_CONFIRMATIONS'])}`);
  }
  return {
    rpcUrl,
    chainId: BigInt(chainId),
    confirmations,
    tokenAddress: address(env, 'WEBI_TOKEN_ADDRESS'),
    payoutAddress: address(env, 'WEBI_PAYOUT_ADDRESS'),
    auditAnchorAddress: address(env, 'AUDIT_ANCHOR_ADDRESS'),
  };
}

/** Options of {@link connectChain}. */
export interface ConnectOptions {
  /** How often ethers polls for new blocks while waiting for confirmations; default 4000 ms. */
  readonly pollingIntervalMs?: number;
  /** Per-request timeout; default 30 000 ms (ethers' own is 5 minutes, a long boot hang). */
  readonly requestTimeoutMs?: number;
}

/**
 * Connects ethers to the configured node and checks it serves `chainId`, so a service pointed at
 * the wrong network fails at boot instead of signing vouchers nobody can redeem. The network is
 * then pinned (`staticNetwork`): ethers stops re-asking the chain id on every request.
 *
 * ethers' response cache is off: by default identical requests within 250 ms share one answer,
 * so a reconciliation read or a redeem's gas estimate could be answered from before a redemption.
 */
export async function connectChain(config: Pick<ChainConfig, 'rpcUrl' | 'chainId'>, options: ConnectOptions = {}): Promise<JsonRpcProvider> {
  const request = new FetchRequest(config.rpcUrl);
  request.timeout = options.requestTimeoutMs ?? 30_000;
  const provider = new JsonRpcProvider(request, Network.from(config.chainId), {
    staticNetwork: true,
    cacheTimeout: -1,
    pollingInterval: options.pollingIntervalMs ?? 4000,
  });
  let served: bigint;
  try {
    served = BigInt((await provider.send('eth_chainId', [])) as string);
  } catch (cause) {
    provider.destroy();
    throw new ChainConfigError(`CHAIN_RPC_URL ${config.rpcUrl} did not answer eth_chainId`, { cause });
  }
  if (served !== config.chainId) {
    provider.destroy();
    throw new ChainConfigError(`CHAIN_RPC_URL serves chain ${served}, CHAIN_ID says ${config.chainId}`);
  }
  return provider;
}

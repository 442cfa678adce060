/**
 * A real EVM in this process for the integration specs: Hardhat 2's network (EDR, a native
 * module shipped in node_modules), wrapped by ethers' BrowserProvider. Nothing is compiled or
 * downloaded here; the specs deploy the committed solc-js artifacts.
 */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { BrowserProvider, type Eip1193Provider, type JsonRpcSigner } from 'ethers';

/** The in-process chain and its funded accounts. */
export interface Evm {
  readonly provider: BrowserProvider;
  /** The node itself, for {@link serveRpc}. */
  readonly node: Eip1193Provider;
  /** Hardhat's 20 funded accounts, signing through the node. */
  readonly accounts: readonly JsonRpcSigner[];
  readonly chainId: bigint;
  /** Mines `blocks` empty blocks. */
  mine(blocks?: number): Promise<void>;
  /** Timestamp of the latest block, unix seconds. */
  latestTimestamp(): Promise<bigint>;
  /** Fixes the timestamp of the next block. */
  setNextBlockTimestamp(seconds: bigint): Promise<void>;
  /** Saves the chain state; `revert(id)` drops every block after it, like a reorg would. */
  snapshot(): Promise<string>;
  revert(snapshotId: string): Promise<void>;
}

/**
 * Starts the in-process chain. EDR allows one context per process (a second one prints "Please
 * only initialize EdrContext once per process"), and Jest loads modules afresh for every spec
 * file, so all EVM specs of this package run from the one spec file `evm.int.spec.ts`.
 */
export async function startEvm(): Promise<Evm> {
  // Hardhat reads its config path from the environment when loaded as a library.
  process.env.HARDHAT_CONFIG = join(__dirname, '..', 'hardhat.config.js');
  const hre = (await import('hardhat')).default;
  const provider = new BrowserProvider(hre.network.provider, undefined, { cacheTimeout: -1, pollingInterval: 50 });
  const accounts = await provider.listAccounts();
  const { chainId } = await provider.getNetwork();
  const send = (method: string, params: unknown[] = []): Promise<unknown> => provider.send(method, params);
  return {
    provider,
    node: hre.network.provider,
    accounts,
    chainId,
    mine: async (blocks = 1) => void (await send('hardhat_mine', [`0x${blocks.toString(16)}`])),
    latestTimestamp: async () => BigInt((await provider.getBlock('latest'))!.timestamp),
    setNextBlockTimestamp: async (seconds) => void (await send('evm_setNextBlockTimestamp', [`0x${seconds.toString(16)}`])),
    snapshot: async () => (await send('evm_snapshot')) as string,
    revert: async (snapshotId) => {
      if ((await send('evm_revert', [snapshotId])) !== true) throw new Error(`evm_revert ${snapshotId} failed`);
    },
  };
}

interface RpcRequest {
  readonly id: unknown;
  readonly method: string;
  readonly params?: unknown[];
}

/**
 * Serves the node over HTTP JSON-RPC on a free loopback port, as production reaches a real node
 * (`CHAIN_RPC_URL`): ethers' JsonRpcProvider batches requests and decodes errors differently from
 * the in-process BrowserProvider, so the production path is worth running too.
 */
export async function serveRpc(node: Eip1193Provider): Promise<{ url: string; close: () => Promise<void> }> {
  const answer = async ({ id, method, params }: RpcRequest): Promise<object> => {
    try {
      return { jsonrpc: '2.0', id, result: (await node.request({ method, params: params ?? [] })) as unknown };
    } catch (e) {
      const { code, message, data } = e as { code?: number; message: string; data?: unknown };
      return { jsonrpc: '2.0', id, error: { code: code ?? -32603, message, data } };
    }
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as RpcRequest | RpcRequest[];
      void (Array.isArray(body) ? Promise.all(body.map(answer)) : answer(body)).then((reply) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(reply));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}

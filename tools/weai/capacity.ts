import { isCapabilityClass } from '@weai/contracts';
import { RpcError, requestJson } from '@weai/messaging';
import { RESOURCES_RPC } from '@weai/contracts';
import { BUS_HELP, BUS_OPTIONS, connectCliBus } from './bus';
import { CannotRunError, type Command, EXIT, UsageError } from './cli';

/** One class of the resources service's capacity index. */
interface ClassCapacity {
  readonly capabilityClass: string;
  readonly online: number;
  readonly available: number;
  readonly availableScore: number;
}

/** `weai capacity`: the network's capacity per class, as the resources service indexes it (a read; an operator credential allows it). */
export const capacity: Command = {
  path: ['capacity'],
  summary: 'print the capacity per capability class (online and available nodes, available throughput)',
  help: `usage: weai capacity [--requires CLASS]

Asks the resources service (${RESOURCES_RPC.capacity}) for its capacity index and prints one JSON
line per capability class: { capabilityClass, online, available, availableScore }. With
--requires CLASS (e.g. cuda.sm75.vram8) asks ${RESOURCES_RPC.match} instead: only the classes
whose nodes can run such a shard and have a node available, best first. Exit 2 for bad flags or
connection settings, 3 when the resources service does not answer.

${BUS_HELP}`,
  options: { requires: { type: 'string' }, ...BUS_OPTIONS },
  async run(flags, io) {
    const requires = flags['requires'];
    if (requires !== undefined && (typeof requires !== 'string' || !isCapabilityClass(requires))) {
      throw new UsageError(`--requires must be a capability class such as cuda.sm75.vram8 or cpu.avx2, got ${JSON.stringify(requires)}`);
    }
    const bus = await connectCliBus(flags, io, 'weai-capacity');
    try {
      const classes = await requestJson<ClassCapacity[]>(bus.nc, requires ? RESOURCES_RPC.match : RESOURCES_RPC.capacity, requires ? { requires } : {}, 10_000);
      for (const c of classes) io.stdout(JSON.stringify({ capabilityClass: c.capabilityClass, online: c.online, available: c.available, availableScore: c.availableScore }));
      return EXIT.ok;
    } catch (error) {
      throw new CannotRunError(error instanceof RpcError ? `${error.code}: ${error.message}` : (error as Error).message);
    } finally {
      await bus.close();
    }
  },
};

import { ID_PATTERN, NODE_RPC } from '@weai/contracts';
import { type Bus, RpcError, requestJson } from '@weai/messaging';
import { BUS_HELP, BUS_OPTIONS, connectCliBus } from './bus';
import { CannotRunError, type Command, EXIT, type Flags, UsageError } from './cli';

const ID = ID_PATTERN;

/** The nodes service's refusals that are the operator's to fix, not an outage: exit 1. */
const REFUSALS = new Set(['node.unregistered', 'node.quarantined', 'node.not-quarantined', 'bad-request']);

function nodeCommand(verb: 'quarantine' | 'release'): Command {
  return {
    path: ['node', verb],
    args: ['node'],
    summary: verb === 'quarantine' ? 'quarantine a node: its results are no longer used and it gets no work' : 'release a quarantined node',
    help: `usage: weai node ${verb} <nodeId> --reason TEXT [--by OPERATOR_ID]

Asks the nodes service (${NODE_RPC[verb]}, over NATS_URL) to ${verb} the node; it records
${verb === 'quarantine' ? 'NodeQuarantined' : 'NodeReleased'} with the reason and the operator id. The operator id is --by, or
WEAI_OPERATOR_ID. The NATS identity is an operator credential issued by the security service
(below). Exit 1 when the nodes service refuses (no such node, already ${verb === 'quarantine' ? 'quarantined' : 'released'}), 2 for bad flags
or connection settings, 3 when it does not answer.

${BUS_HELP}`,
    options: { reason: { type: 'string' }, by: { type: 'string' }, ...BUS_OPTIONS },
    async run(flags: Flags, io) {
      const nodeId = flags['node'];
      if (typeof nodeId !== 'string' || !ID.test(nodeId)) throw new UsageError(`name the node: weai node ${verb} <nodeId>`);
      const reason = flags['reason'];
      if (typeof reason !== 'string' || reason.trim() === '' || reason.length > 512) throw new UsageError('--reason is required (1 to 512 characters)');
      const by = typeof flags['by'] === 'string' ? flags['by'] : io.env['WEAI_OPERATOR_ID'];
      if (!by || !ID.test(by)) throw new UsageError('--by or WEAI_OPERATOR_ID is required: the operator id recorded with the command');
      const bus: Bus = await connectCliBus(flags, io, `weai-node-${verb}`);
      try {
        const answer = await requestJson<{ nodeId: string; events: string[] }>(bus.nc, NODE_RPC[verb], { nodeId, reason: reason.trim(), operatorId: by }, 10_000);
        io.stdout(`${answer.nodeId}: ${answer.events.join(', ') || 'nothing recorded'}`);
        return EXIT.ok;
      } catch (error) {
        if (error instanceof RpcError && REFUSALS.has(error.code)) {
          io.stderr(`weai node ${verb}: ${error.code}: ${error.message}`);
          return EXIT.mismatch;
        }
        throw new CannotRunError(error instanceof RpcError ? `${error.code}: ${error.message}` : (error as Error).message);
      } finally {
        await bus.close();
      }
    },
  };
}

export const nodeQuarantine = nodeCommand('quarantine');
export const nodeRelease = nodeCommand('release');
